"""The registered model's inference handler: generated from the notebook's prediction code
when features are prepared before the model sees them, else the default handler; served
through sagepipe's serving stack, it answers with the notebook's own predictions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES
from sagepipe.serving.handler import load_handler
from test_gate_and_serving import _free_port, _notebook_namespace
from test_traits import migrate_trait, project_of


def test_prepared_features_get_a_generated_handler_and_the_plan_says_why(make_project) -> None:
    root = make_project("traits/prepared_features.ipynb")
    _, document = migrate_trait(root, "prepared_features")
    decisions = document["registration"]["handler"]
    assert decisions[0].startswith(
        "generated code/inference.py from notebook cells 4, 8: "
        "clf.predict_proba(X_test_scaled) in cell 8 gets X_test through "
        "X_test_scaled = scaler.transform(add_features(X_test)[FEATURES])"
    )
    assert "packed with the model, not refit: scaler" in decisions
    package = root / "src" / project_of(root).package
    module = (package / "pipeline_prepared_features.py").read_text()
    assert 'inference_program="inference.py"' in module
    program = (package / "steps" / "prepared_features" / "_inference.py").read_text()
    # the helper reads the notebook global MONTHLY: a keyword parameter, as in the steps
    assert "def add_features(frame, *, MONTHLY):" in program and ".fit(" not in program
    train = (package / "steps" / "prepared_features" / "train.py").read_text()
    assert 'scaler = load_value(preprocess_dir, "scaler")' in train


def test_a_bare_predict_keeps_the_default_handler(make_project) -> None:
    root = make_project("traits/no_headings.ipynb")
    _, document = migrate_trait(root, "no_headings")
    (decision,) = document["registration"]["handler"]
    assert decision == (
        "default (model.joblib, predict): nb.predict(X_test) in cell 3 gets data as the "
        "notebook made it; nothing to replay"
    )
    module = next((root / "src").glob("*/pipeline_no_headings.py")).read_text()
    assert "inference_program=None" in module
    assert not list((root / "src").glob("*/steps/no_headings/_inference.py"))


HOLDOUT_AFTER_TRAINING = [
    "# Churn, scored on a hold-out file",
    "## Load the data",
    "import pandas as pd\n"
    "from sklearn.preprocessing import StandardScaler\n"
    'df = pd.read_csv("data/customers.csv").dropna(subset=["age"])\n'
    'FEATURES = ["age", "tenure", "monthly_charges"]\n'
    "def add_features(frame):\n"
    '    return frame.assign(tenure=frame["tenure"] + 1)\n'
    "scaler = StandardScaler().fit(add_features(df)[FEATURES])",
    "## Train the model",
    "from sklearn.linear_model import LogisticRegression\n"
    "clf = LogisticRegression()\n"
    'clf.fit(scaler.transform(add_features(df)[FEATURES]), df["churned"])',
    "## Evaluate",
    'holdout = pd.read_csv("data/customers.csv").dropna(subset=["age"]).tail(40)\n'
    "scores = clf.predict(scaler.transform(add_features(holdout)[FEATURES]))",
]


def test_a_request_table_made_after_training_keeps_the_default_and_says_why(
    make_project,
) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    root = make_project()
    cells = [
        new_markdown_cell(text) if text.startswith("#") else new_code_cell(text)
        for text in HOLDOUT_AFTER_TRAINING
    ]
    nbformat.write(new_notebook(cells=cells), root / "notebooks" / "holdout.ipynb")
    _, document = migrate_trait(root, "holdout")
    # the preparation is inline, in predict's argument; holdout is read after training
    (decision,) = document["registration"]["handler"]
    assert decision == (
        "default (model.joblib, predict): holdout, which "
        "clf.predict(scaler.transform(add_features(holdout)[FEATURES])) needs, is made only "
        "after the training step train, so model.tar.gz cannot carry it; move its cell "
        "before training"
    )


def _migrated(
    bake_project, trait: str, **env_extra: str
) -> tuple[Path, Callable[..., subprocess.CompletedProcess[str]]]:
    """A baked project with the trait notebook migrated, and a runner of its CLI (a
    notebook already in the project's notebooks/ folder is migrated as it is)."""
    project = bake_project()
    shutil.copytree(FIXTURES / "data", project / "notebooks" / "data", dirs_exist_ok=True)
    if not (project / "notebooks" / f"{trait}.ipynb").is_file():
        shutil.copy(FIXTURES / "traits" / f"{trait}.ipynb", project / "notebooks")
    migrate_trait(project, trait)
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "GX_ANALYTICS_ENABLED": "false",
        **env_extra,
    }
    cli = [sys.executable, "-m", project.name.replace("-", "_")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )

    return project, run


@pytest.mark.slow
def test_the_served_model_replays_the_notebooks_features_and_scaler(
    bake_project, tmp_path: Path
) -> None:
    # the default pipeline: its model goes to the project's group, which deploy serves
    project, run = _migrated(
        bake_project, "prepared_features", MLOPS_DEFAULT_PIPELINE="prepared_features"
    )
    ran = run("run", "--pipeline", "prepared_features", "--json")
    execution = json.loads(ran.stdout)
    assert execution["Status"] == "Succeeded", ran.stdout[-2000:] + ran.stderr[-2000:]
    run_folder = next((project / ".mlops" / "s3").glob(f"*/*/{execution['PipelineExecutionId']}"))
    (archive,) = run_folder.glob("Train/*/output/model.tar.gz")
    model_dir = tmp_path / "model"
    with tarfile.open(archive) as packed:
        packed.extractall(model_dir, filter="data")
    assert (model_dir / "code" / "inference.py").is_file()
    recorded = json.loads((model_dir / "handler.json").read_text())
    assert recorded["parameters"] == {"MONTHLY": "month-to-month"}  # as this run used it

    notebook = _notebook_namespace(project / "notebooks" / "prepared_features.ipynb")
    rows = notebook["X_test"]
    expected = notebook["clf"].predict_proba(notebook["X_test_scaled"])
    handler = load_handler(model_dir)
    csv_body = rows.to_csv(header=False, index=False).encode()
    served_csv = json.loads(handler.invoke(csv_body, "text/csv", "application/json").body)
    records = json.loads(rows.to_json(orient="records"))
    json_body = json.dumps({"instances": records}).encode()
    served_json = json.loads(handler.invoke(json_body, "application/json", "application/json").body)
    assert len(served_csv) == len(rows) > 10
    np.testing.assert_allclose(served_csv, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(served_json, expected, rtol=0, atol=1e-9)

    # and deployed from the registry, over HTTP on loopback, like the example model
    assert run("registry", "approve", "latest").returncode == 0
    port = _free_port()
    deployed = run("deploy", "--stage", "dev", "--version", "latest", "--port", str(port), "--json")
    assert deployed.returncode == 0, deployed.stderr
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=csv_body,
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            served_http = json.loads(response.read())
        np.testing.assert_allclose(served_http, expected, rtol=0, atol=1e-9)
    finally:
        run("undeploy", "--stage", "dev")

    # and batch-transformed: a CSV file of the raw rows in, the probabilities out
    (tmp_path / "rows.csv").write_bytes(csv_body)
    batch = run("batch-transform", str(tmp_path / "rows.csv"), str(tmp_path / "out"))
    assert batch.returncode == 0, batch.stderr
    lines = (tmp_path / "out" / "rows.csv.out").read_text().splitlines()
    transformed = [[float(v) for v in line.split(",")] for line in lines]
    np.testing.assert_allclose(transformed, expected, rtol=0, atol=1e-9)

    # a run with another parameter value packs that value, so serving matches training
    other = json.loads(
        run(
            "run", "--pipeline", "prepared_features", "--param", "Monthly=one-year", "--json"
        ).stdout
    )
    assert other["Status"] == "Succeeded"
    run_folder = next((project / ".mlops" / "s3").glob(f"*/*/{other['PipelineExecutionId']}"))
    (archive,) = run_folder.glob("Train/*/output/model.tar.gz")
    with tarfile.open(archive) as packed:
        member = packed.extractfile("handler.json")
        assert member is not None
        assert json.loads(member.read())["parameters"] == {"MONTHLY": "one-year"}


def test_preparation_inside_the_predict_call_is_replayed_too(make_project) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    root = make_project()
    texts = list(HOLDOUT_AFTER_TRAINING)
    # the hold-out rows are read with the data, before training: the model can carry them
    texts[2] += "\nholdout = df.tail(40)"
    texts[-1] = "scores = clf.predict(scaler.transform(add_features(holdout)[FEATURES]))"
    cells = [new_markdown_cell(t) if t.startswith("#") else new_code_cell(t) for t in texts]
    nbformat.write(new_notebook(cells=cells), root / "notebooks" / "inline.ipynb")
    _, document = migrate_trait(root, "inline")
    decisions = document["registration"]["handler"]
    assert decisions[0] == (
        "generated code/inference.py from notebook cells 2, 6: "
        "clf.predict(scaler.transform(add_features(holdout)[FEATURES])) in cell 6 gets "
        "holdout through its argument's code"
    )
    assert "packed with the model, not refit: scaler" in decisions
    program = next((root / "src").glob("*/steps/inline/_inference.py")).read_text()
    assert "return clf.predict(scaler.transform(add_features(holdout)[FEATURES]))" in program


@pytest.mark.slow
def test_a_notebook_that_predicts_from_arrays_is_served_rows_of_numbers(
    bake_project, tmp_path: Path
) -> None:
    project, run = _migrated(bake_project, "prepared_array")
    ran = run("run", "--pipeline", "prepared_array", "--json")
    execution = json.loads(ran.stdout)
    assert execution["Status"] == "Succeeded", ran.stdout[-2000:] + ran.stderr[-2000:]
    run_folder = next((project / ".mlops" / "s3").glob(f"*/*/{execution['PipelineExecutionId']}"))
    (archive,) = run_folder.glob("Train/*/output/model.tar.gz")
    model_dir = tmp_path / "model"
    with tarfile.open(archive) as packed:
        packed.extractall(model_dir, filter="data")
    assert json.loads((model_dir / "handler.json").read_text())["columns"] is None

    notebook = _notebook_namespace(project / "notebooks" / "prepared_array.ipynb")
    rows = notebook["X_test"]
    scaled = notebook["scaler"].transform(notebook["log_charges"](rows))
    expected = notebook["clf"].predict_proba(scaled)
    handler = load_handler(model_dir)
    csv_body = "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()
    served_csv = json.loads(handler.invoke(csv_body, "text/csv", "application/json").body)
    json_body = json.dumps({"instances": rows.tolist()}).encode()
    served_json = json.loads(handler.invoke(json_body, "application/json", "application/json").body)
    assert len(served_csv) == len(rows) > 10
    np.testing.assert_allclose(served_csv, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(served_json, expected, rtol=0, atol=1e-9)
