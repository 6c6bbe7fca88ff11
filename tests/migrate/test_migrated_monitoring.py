"""`monitor --stage dev` on a migrated model deployed locally: its captured traffic is read
and checked against a baseline; with none registered, monitor says why in one line.

A migrated pipeline has no training-data baseline step (the project pipeline's
BaselineTrainingData): which table the endpoint is sent is not always a value the pipeline
keeps (a generated handler is sent the raw rows before features), so migrate does not
guess one. The registered version records the notebook it came from, and `monitor` names
it, the missing step and the two fixes.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from test_gate_and_serving import _free_port, _notebook_namespace
from test_handler import _migrated


def _post(port: int, body: bytes) -> list[int]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.loads(response.read()))


@pytest.mark.slow
def test_a_deployed_migrated_model_is_monitored_against_a_baseline_of_its_training_rows(
    bake_project, tmp_path: Path
) -> None:
    project, run = _migrated(
        bake_project,
        "chained_fit",
        MLOPS_DEFAULT_PIPELINE="chained_fit",  # its model goes to the group deploy serves
        MLOPS_CAPTURE_ENABLED="true",
    )
    ran = run("run", "--pipeline", "chained_fit", "--json")
    assert json.loads(ran.stdout)["Status"] == "Succeeded", ran.stderr[-2000:]
    assert run("registry", "approve", "latest").returncode == 0
    notebook = _notebook_namespace(project / "notebooks" / "chained_fit.ipynb")
    held_out = notebook["X_test"]
    shifted = held_out.assign(monthly_charges=held_out["monthly_charges"] + 500.0)

    port = _free_port()
    deployed = run("deploy", "--stage", "dev", "--version", "latest", "--port", str(port))
    assert deployed.returncode == 0, deployed.stderr
    try:
        served = _post(port, held_out.to_csv(header=False, index=False).encode())
        assert served == notebook["forest"].predict(held_out).tolist()

        # no baseline registered: one line naming the notebook, the missing step, the fixes
        refused = run("monitor", "--stage", "dev")
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert line == (
            "error: churn-model-models version 1 has no data-quality baseline: the pipeline "
            "migrated from notebooks/chained_fit.ipynb registered it and has no training-data "
            "baseline step; write one from the rows the model was trained on with `baseline "
            "TRAIN.csv -o DIR --exclude LABEL` and pass --baseline DIR (or add a QualityCheck "
            "feeding RegisterModel's drift_check_baselines, as pipeline.py does)"
        )

        # the fix it names: a baseline of the notebook's training rows
        notebook["X_train"].to_csv(tmp_path / "train.csv", index=False)
        made = run("baseline", str(tmp_path / "train.csv"), "-o", str(tmp_path / "base"))
        assert made.returncode == 0, made.stderr
        checked = run("monitor", "--stage", "dev", "--baseline", str(tmp_path / "base"), "--json")
        assert checked.returncode in (0, 1), checked.stderr
        result = json.loads(checked.stdout)
        assert (result["events"], result["rows"]) == (1, len(held_out))
        assert {d["feature"] for d in result["drift"]} == set(held_out.columns)
        assert checked.returncode == (0 if not result["violations"] else 1)

        # traffic unlike the training rows is reported as drift, and monitor exits 1
        time.sleep(1.1)  # --since has one-second resolution
        since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        time.sleep(1.1)
        _post(port, shifted.to_csv(header=False, index=False).encode())
        drifted = run(
            "monitor",
            "--stage",
            "dev",
            "--baseline",
            str(tmp_path / "base"),
            "--since",
            since,
            "--json",
        )
        assert drifted.returncode == 1, drifted.stderr
        result = json.loads(drifted.stdout)
        assert (result["events"], result["rows"]) == (1, len(shifted))
        flagged = {d["feature"] for d in result["drift"] if d["drifted"]}
        assert "monthly_charges" in flagged
        assert any(v["feature_name"] == "monthly_charges" for v in result["violations"])
    finally:
        run("undeploy", "--stage", "dev")
