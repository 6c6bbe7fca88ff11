"""`monitor --stage dev` on a migrated model deployed locally: its captured traffic is
checked against the data-quality baseline its own pipeline registered, like the example
model's; where migrate can take no baseline, the plan says why and monitor says so.

The baseline is of the rows requests carry: the table the model is fitted on with the
default handler (chained_fit), the raw rows before the notebook's feature preparation with
a generated one (prepared_features). Replaying the training rows is therefore clean (a
baseline of the prepared features, or of other columns, would not be), and held-out rows
with shifted `monthly_charges` are flagged. Held-out rows alone are not the clean case
here: 64 rows against 149 differ by more than Model Monitor's 0.1 drift threshold by
chance (age: 0.15), a sample-size effect the example pipeline's 5,000 rows do not have.
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
from test_traits import migrate_trait


def _post(port: int, body: bytes) -> list[object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.loads(response.read()))


def _since_now() -> str:
    time.sleep(1.1)  # --since has one-second resolution
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    time.sleep(1.1)
    return since


@pytest.mark.slow
@pytest.mark.parametrize("trait", ["chained_fit", "prepared_features"])
def test_a_deployed_migrated_model_is_monitored_against_the_baseline_its_pipeline_registered(
    bake_project, trait: str
) -> None:
    project, run = _migrated(
        bake_project,
        trait,
        MLOPS_DEFAULT_PIPELINE=trait,  # its model goes to the group deploy serves
        MLOPS_CAPTURE_ENABLED="true",
    )
    ran = run("run", "--pipeline", trait, "--json")
    assert json.loads(ran.stdout)["Status"] == "Succeeded", ran.stderr[-2000:]
    assert run("registry", "approve", "latest").returncode == 0
    lineage = json.loads(run("lineage", "1", "--json").stdout)
    baselines = lineage["baselines"]
    statistics = baselines["DriftCheckBaselines.ModelDataQuality.Statistics"]
    assert statistics.endswith("/BaselineTrainingData/output/statistics.json")
    assert baselines["ModelMetrics.ModelDataQuality.Statistics"] == statistics

    notebook = _notebook_namespace(project / "notebooks" / f"{trait}.ipynb")
    training, held_out = notebook["X_train"], notebook["X_test"]  # rows as requests carry them
    shifted = held_out.assign(monthly_charges=held_out["monthly_charges"] + 500.0)
    port = _free_port()
    deployed = run("deploy", "--stage", "dev", "--version", "latest", "--port", str(port))
    assert deployed.returncode == 0, deployed.stderr
    try:
        assert len(_post(port, training.to_csv(header=False, index=False).encode())) == len(
            training
        )
        # no --baseline: the registered DriftCheckBaselines, as for the example model
        clean = run("monitor", "--stage", "dev", "--json")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        result = json.loads(clean.stdout)
        assert (result["events"], result["rows"], result["violations"]) == (1, len(training), [])
        assert {d["feature"] for d in result["drift"]} == set(held_out.columns)

        since = _since_now()
        _post(port, shifted.to_csv(header=False, index=False).encode())
        drifted = run("monitor", "--stage", "dev", "--since", since, "--json")
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        result = json.loads(drifted.stdout)
        assert (result["events"], result["rows"]) == (1, len(shifted))
        assert "monthly_charges" in {d["feature"] for d in result["drift"] if d["drifted"]}
        assert any(v["feature_name"] == "monthly_charges" for v in result["violations"])
    finally:
        run("undeploy", "--stage", "dev")


def test_the_plan_baselines_the_fitted_table_or_the_raw_rows_before_the_features(
    make_project,
) -> None:
    root = make_project("traits/chained_fit.ipynb", "traits/prepared_features.ipynb")
    _, default = migrate_trait(root, "chained_fit")
    assert default["registration"]["baseline"] == (
        "data quality (BaselineTrainingData): the rows forest is fitted on (X_train), which "
        "are what requests to the default handler carry"
    )
    _, generated = migrate_trait(root, "prepared_features")
    assert generated["registration"]["baseline"].startswith(
        "data quality (BaselineTrainingData): the raw rows of X_train, which X_train_scaled "
        "is prepared from, in the columns of X_test"
    )
    # the raw training table now reaches the training step, which writes the rows
    (train,) = [s for s in generated["steps"] if s["name"] == "train"]
    assert "X_train" in train["inputs"]["from preprocess"]
    steps = next((root / "src").glob("*/steps/prepared_features"))
    assert (
        "export_request_rows(output_data_dir, X_train, X_test)" in (steps / "train.py").read_text()
    )
    module = next((root / "src").glob("*/pipeline_prepared_features.py")).read_text()
    assert "DataQualityCheckConfig(request_rows_step.outputs.output_dir)" in module
    assert 'inputs={"train_dir": train_step.output_data}' in module
    assert "data_quality_check.baseline_used_for_drift_check_statistics" in module


def test_request_rows_keep_the_request_columns_and_sample_with_a_fixed_seed(
    tmp_path: Path,
) -> None:
    import numpy as np
    import pandas as pd

    from sagepipe.migrate.stepio import (
        REQUEST_ROWS_FILE,
        REQUEST_ROWS_SAMPLE,
        copy_request_rows,
        export_request_rows,
    )

    frame = pd.DataFrame({"b": range(REQUEST_ROWS_SAMPLE + 5), "a": 1.5, "extra": "x"})
    like = frame[["a", "b"]].head(3)  # the handler's request table: its columns, its order
    written = export_request_rows(tmp_path / "one", frame, like)
    again = export_request_rows(tmp_path / "two", frame, like)
    assert written.name == REQUEST_ROWS_FILE and written.read_bytes() == again.read_bytes()
    rows = pd.read_csv(written)
    assert list(rows.columns) == ["a", "b"] and len(rows) == REQUEST_ROWS_SAMPLE
    assert rows["b"].is_monotonic_increasing  # the rows keep their order
    copied = copy_request_rows(tmp_path / "one", tmp_path / "out")
    assert copied.read_bytes() == written.read_bytes()

    array = export_request_rows(tmp_path / "array", np.arange(6.0).reshape(3, 2))
    assert array.read_text().splitlines()[0] == "_c0,_c1"  # rows of numbers, the analyzer's names
    with pytest.raises(TypeError, match=r"a ndarray of shape \(2, 2, 2\) is not a table"):
        export_request_rows(tmp_path / "cube", np.zeros((2, 2, 2)))


# The table the model is fitted on is rebound in the fitting cell after the fit: the
# training step no longer holds the rows, so migrate takes no baseline and says why.
REUSED_AFTER_FIT = [
    "# Churn, one name for every table",
    "## Load the data",
    "import pandas as pd\n"
    'df = pd.read_csv("data/customers.csv").dropna(subset=["age"])\n'
    'FEATURES = ["age", "tenure", "monthly_charges"]\n'
    'X, y = df[FEATURES], df["churned"]',
    "## Train the model",
    "from sklearn.linear_model import LogisticRegression\n"
    "clf = LogisticRegression(max_iter=500)\n"
    "clf.fit(X, y)\n"
    "X, y = X.tail(40), y.tail(40)  # score the last rows",
    "## Evaluate",
    "from sklearn.metrics import accuracy_score\nacc = accuracy_score(y, clf.predict(X))",
]

NO_BASELINE = (
    "none: X, which clf.fit reads, changes after the fit in train, so the step no longer "
    "holds the rows the model was fitted on; `monitor` needs --baseline DIR for this model "
    "(see the `baseline` command)"
)


def _write_notebook(path: Path, texts: list[str]) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [new_markdown_cell(t) if t.startswith("#") else new_code_cell(t) for t in texts]
    nbformat.write(new_notebook(cells=cells), path)


def test_a_table_rebound_after_the_fit_gets_no_baseline_and_the_plan_says_why(
    make_project,
) -> None:
    root = make_project()
    _write_notebook(root / "notebooks" / "reused.ipynb", REUSED_AFTER_FIT)
    _, document = migrate_trait(root, "reused")
    assert document["registration"]["baseline"] == NO_BASELINE
    module = next((root / "src").glob("*/pipeline_reused.py")).read_text()
    assert "QualityCheck" not in module and "drift_check_baselines" not in module
    assert not list((root / "src").glob("*/steps/reused/request_rows.py"))


@pytest.mark.slow
def test_monitor_names_the_notebook_when_a_migrated_version_has_no_baseline(
    bake_project,
) -> None:
    project = bake_project()
    _write_notebook(project / "notebooks" / "reused.ipynb", REUSED_AFTER_FIT)
    project, run = _migrated(lambda: project, "reused", MLOPS_DEFAULT_PIPELINE="reused")
    ran = run("run", "--pipeline", "reused", "--json")
    assert json.loads(ran.stdout)["Status"] == "Succeeded", ran.stderr[-2000:]
    refused = run("monitor", "--stage", "dev", "--version", "1")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line == (
        "error: churn-model-models version 1 has no data-quality baseline: the pipeline "
        "migrated from notebooks/reused.ipynb registered it and has no training-data "
        "baseline step; write one from the rows the model was trained on with `baseline "
        "TRAIN.csv -o DIR --exclude LABEL` and pass --baseline DIR (or add a QualityCheck "
        "feeding RegisterModel's drift_check_baselines, as pipeline.py does)"
    )
