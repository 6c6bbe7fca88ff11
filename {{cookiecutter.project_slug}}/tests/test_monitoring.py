"""``monitor --stage``: captured traffic against the baselines the pipeline registered."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

import conftest
from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.deploy import operations

from sagepipe.serving.capture import CaptureWriter, record
from sagepipe.serving.history import DeploymentHistory


def _workspace(warm: dict[str, Any], tmp_path: Path) -> tuple[Path, int]:
    workspace = tmp_path / "ws"
    shutil.copytree(warm["workspace"], workspace)
    version = max(p["ModelPackageVersion"] for p in conftest.registered_versions(workspace))
    DeploymentHistory(workspace / "deployments.db").record(
        action="deploy",
        stage="staging",
        endpoint=operations.endpoint_name("staging"),
        group=operations.context(workspace).group,
        version=version,
    )
    return workspace, version


def _capture(workspace: Path, frame: pd.DataFrame, when: datetime) -> None:
    ctx = operations.context(workspace)
    writer = CaptureWriter(
        operations.capture_destination(ctx, "staging"), operations.endpoint_name("staging")
    )
    for i, row in enumerate(frame[list(data.FEATURES)].itertuples(index=False)):
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["" if pd.isna(v) else v for v in row])
        label = int(frame[data.TARGET].iloc[i])
        reply = {"predictions": [{"label": label, "probability": 0.8 if label else 0.2}]}
        writer.write(
            "AllTraffic",
            record(
                event_id=f"{when:%H%M}-{i}",
                request=buffer.getvalue().encode(),
                request_type="text/csv",
                response=json.dumps(reply).encode(),
                response_type="application/json",
                latency_ms=2.0,
                when=when,
            ),
            when,
        )
    writer.close()


def test_pipeline_registers_the_training_data_baseline(warm_workspace: dict[str, Any]) -> None:
    [package, *_] = conftest.registered_versions(warm_workspace["workspace"])
    drift = package["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"].endswith("/BaselineTrainingData/output/statistics.json")
    assert package["ModelMetrics"]["ModelDataQuality"] == drift


def test_monitor_is_clean_on_held_out_traffic_and_flags_injected_drift(
    warm_workspace: dict[str, Any], processed: dict[str, Path], tmp_path: Path
) -> None:
    workspace, version = _workspace(warm_workspace, tmp_path)
    test = pd.read_csv(processed["test"] / "test.csv")
    _capture(workspace, test, datetime(2026, 1, 1, 10, tzinfo=timezone.utc))
    out = workspace / "monitoring" / "staging" / "clean"
    done = conftest.run_cli(
        "monitor", "--stage", "staging", "--workspace", workspace, "-o", out, "--html", "--json"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == len(test) and summary["violations"] == []
    assert (out / "report.html").is_file() and (out / "constraint_violations.json").is_file()
    shown = conftest.run_cli("lineage", str(version), "--json", "--workspace", workspace)
    [run] = json.loads(shown.stdout)["monitoring"]
    assert run["stage"] == "staging" and run["clean"] is True
    assert [d["stage"] for d in json.loads(shown.stdout)["deployments"]] == ["staging"]

    drifted = test.copy()
    drifted["monthly_charges"] = drifted["monthly_charges"] * 1.6
    _capture(workspace, drifted, datetime(2026, 1, 2, 10, tzinfo=timezone.utc))
    done = conftest.run_cli(
        "monitor", "--stage", "staging", "--since", "2026-01-02T00:00", "--workspace", workspace
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VIOLATION baseline_drift_check monthly_charges" in done.stdout
    assert "VIOLATION baseline_drift_check tenure_months" not in done.stdout


def test_monitor_reports_model_quality_against_the_evaluation(
    warm_workspace: dict[str, Any], processed: dict[str, Path], tmp_path: Path
) -> None:
    workspace, _ = _workspace(warm_workspace, tmp_path)
    test = pd.read_csv(processed["test"] / "test.csv").head(200)
    when = datetime(2026, 1, 3, 10, tzinfo=timezone.utc)
    _capture(workspace, test, when)  # every prediction equals the label...
    truth = tmp_path / "truth.jsonl"
    with truth.open("w") as stream:
        for i, label in enumerate(test[data.TARGET]):
            wrong = 1 - int(label) if i % 2 else int(label)  # ...and half the truth disagrees
            line = {
                "groundTruthData": {"data": str(wrong), "encoding": "CSV"},
                "eventMetadata": {"eventId": f"{when:%H%M}-{i}"},
                "eventVersion": "0",
            }
            stream.write(json.dumps(line) + "\n")
    done = conftest.run_cli(
        "monitor", "--stage", "staging", "--workspace", workspace, "--ground-truth", truth, "--json"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["violations"] == [] and summary["matched_rows"] == 200
    accuracy = summary["model_quality"]["binary_classification_metrics"]["accuracy"]["value"]
    assert accuracy == 0.5
    assert "accuracy" in [v["metric_name"] for v in summary["model_quality_violations"]]


def test_monitor_without_a_deployment_says_what_to_do(tmp_path: Path) -> None:
    done = conftest.run_cli("monitor", "--stage", "prod", "--workspace", tmp_path / "empty")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: nothing was ever deployed to prod; run `deploy --stage prod` first or pass "
        "--version N"
    )
