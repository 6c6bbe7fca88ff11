"""A migrated pipeline is gated like the project's: a Condition on the evaluation report's
metric decides registration; the registered model is deployed and answers HTTP requests
with the notebook's own predictions."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES
from sagepipe.migrate.apply import load_migration
from sagepipe.migrate.gate import find_gate
from sagepipe.migrate.generate import metrics_block
from test_traits import migrate_trait, project_of


@pytest.mark.parametrize(
    ("name", "metric", "op"),
    [
        ("no_headings", "acc", "ge"),
        ("printed_only", "accuracy_score_y_test_pred", "ge"),
        ("last_expression", "forest_score_X_test_y_test", "ge"),
        ("shared_random_state", "mae", "le"),  # smaller is better: at most the threshold
        ("many_cells", "auc", "ge"),
    ],
)
def test_registration_is_gated_on_a_metric_of_the_evaluation_report(
    make_project, name: str, metric: str, op: str
) -> None:
    root = make_project(f"traits/{name}.ipynb")
    plan, document = migrate_trait(root, name)
    migration, _ = load_migration(project_of(root), plan)
    gate = find_gate(migration)
    assert gate is not None and (gate.metric, gate.op) == (metric, op)
    assert document["registration"]["condition"].startswith(f"register only if {metric} ")
    module = (root / "src" / project_of(root).package / f"pipeline_{name}.py").read_text()
    reads = [
        (ast.unparse(n.args[0]), ast.literal_eval(n.args[1]))
        for n in ast.walk(ast.parse(module))
        if isinstance(n, ast.Call) and ast.unparse(n.func) == "JsonGet"
    ]
    # the block the steps write into: regression_metrics for mae, classification otherwise
    assert reads == [(f"{gate.step}_report", f"{metrics_block(migration)}.{metric}.value")]
    assert f"conditions=[{op}(metric, metric_threshold)]" in module
    assert "if_steps=[register_step]" in module and "else_steps=[too_weak]" in module


def test_no_gate_when_no_model_is_registered(make_project) -> None:
    # loop_dicts fits models in a loop (a container, not one model): nothing to gate
    root = make_project("traits/loop_dicts.ipynb")
    plan, document = migrate_trait(root, "loop_dicts")
    migration, _ = load_migration(project_of(root), plan)
    assert migration.registration is None and find_gate(migration) is None
    assert document["registration"] is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _notebook_namespace(notebook: Path) -> dict:  # type: ignore[type-arg]
    """Run the notebook's code cells in one namespace, from its folder, as Jupyter would."""
    namespace: dict = {}  # type: ignore[type-arg]
    cells = json.loads(notebook.read_text())["cells"]
    here = Path.cwd()
    os.chdir(notebook.parent)
    try:
        for cell in cells:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), str(notebook), "exec"), namespace)
    finally:
        os.chdir(here)
    return namespace


@pytest.mark.slow
def test_a_failing_threshold_stops_registration_and_the_model_serves_the_notebooks_predictions(
    bake_project,
) -> None:
    import urllib.request

    project = bake_project()
    shutil.copytree(FIXTURES / "data", project / "notebooks" / "data", dirs_exist_ok=True)
    shutil.copy(FIXTURES / "traits" / "no_headings.ipynb", project / "notebooks")
    migrate_trait(project, "no_headings")
    # the default pipeline: its model goes to the project's group, which deploy serves
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "GX_ANALYTICS_ENABLED": "false",
        "MLOPS_DEFAULT_PIPELINE": "no_headings",
    }
    cli = [sys.executable, "-m", project.name.replace("-", "_")]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )

    def versions() -> list[dict]:  # type: ignore[type-arg]
        listed = run("registry", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        return json.loads(listed.stdout)

    weak = run("run", "--pipeline", "no_headings", "--param", "AccThreshold=1.5", "--json")
    execution = json.loads(weak.stdout)
    assert execution["Status"] == "Failed", weak.stdout[-2000:] + weak.stderr[-2000:]
    assert "is below the threshold 1.5 (parameter AccThreshold)" in execution["FailureReason"]
    status = {step["Name"]: step["Status"] for step in execution["Steps"]}
    assert status["CheckMetric"] == "Succeeded" and status["RegisterModel"] == "NotExecuted"
    assert versions() == []

    passed = run("run", "--pipeline", "no_headings", "--json")
    assert json.loads(passed.stdout)["Status"] == "Succeeded", passed.stderr[-2000:]
    registered = versions()
    assert [v["ModelPackageVersion"] for v in registered] == [1]

    assert run("registry", "approve", "latest").returncode == 0
    port = _free_port()
    deployed = run("deploy", "--stage", "dev", "--version", "latest", "--port", str(port), "--json")
    assert deployed.returncode == 0, deployed.stderr
    try:
        notebook = _notebook_namespace(project / "notebooks" / "no_headings.ipynb")
        features = notebook["X_test"]
        body = features.to_csv(header=False, index=False).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body,
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            served = json.loads(response.read())
        assert served == notebook["nb"].predict(features).tolist()
        assert len(served) == len(features) > 10
    finally:
        run("undeploy", "--stage", "dev")
