"""Optional MLflow logging: one MLflow run per execution, MLflow never imported when off."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagepipe.local import execute
from sagepipe.mlflow_runs import (
    MlflowTarget,
    MlflowUnavailable,
    check_installed,
    local_store_uri,
    log_execution,
)
from test_compile_runs_locally import stage

HAS_MLFLOW = all(importlib.util.find_spec(m) for m in ("mlflow", "sqlalchemy", "alembic"))
needs_mlflow = pytest.mark.skipif(
    not HAS_MLFLOW, reason="mlflow extra not installed (nox -s mlflow in a project runs these)"
)


def test_running_a_pipeline_never_imports_mlflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from test_compile_runs_locally import stage\n"
        "from sagepipe.local import execute\n"
        "import sagepipe.mlflow_runs, sagepipe.cli\n"
        "root = Path(sys.argv[1])\n"
        "assert execute(stage(root), workspace=root).status == 'Succeeded'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'sqlalchemy')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_missing_client_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name)
    )
    with pytest.raises(MlflowUnavailable) as caught:
        check_installed(MlflowTarget())
    message = str(caught.value)
    assert "\n" not in message and "'.[mlflow]'" in message and "mlflow" in message


def test_sagemaker_arn_without_the_plugin_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sagemaker_mlflow" else object() or real(name),
    )
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team"
    with pytest.raises(MlflowUnavailable, match="pip install sagemaker-mlflow"):
        check_installed(MlflowTarget(tracking_uri=arn))


@needs_mlflow
def test_execution_appears_in_the_local_store_with_step_metrics_and_links(
    tmp_path: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    execution = execute(stage(tmp_path), workspace=tmp_path, parameters={"NEstimators": "5"})
    assert execution.status == "Succeeded"
    run_id = log_execution(execution, tmp_path, MlflowTarget())

    client = MlflowClient(tracking_uri=local_store_uri(tmp_path))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == execution.id
    assert run.data.params["NEstimators"] == "5"
    stepped = {k for k in run.data.metrics if k.endswith("/accuracy")}
    assert len(stepped) == 1
    assert run.data.metrics[stepped.pop()] == pytest.approx(execution.metrics["accuracy"])
    tags = run.data.tags
    assert tags["sagepipe.execution_id"] == execution.id
    assert tags["sagepipe.data_digest"] == execution.input_digests["data"]
    assert tags["sagepipe.code_digest"] == execution.input_digests["code"]
    for group, version in execution.registered:
        assert tags["sagepipe.model_package_group"] == group
        assert tags["sagepipe.model_version"] == str(version)
        assert tags["sagepipe.model_package_arn"].endswith(f"/{group}/{version}")
    # Everything, artifacts included, stays inside the workspace.
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.artifact_location.startswith((tmp_path / "mlflow").as_uri())
