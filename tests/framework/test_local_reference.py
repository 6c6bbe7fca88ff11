"""The executor runs the two SDK-emitted reference definitions unchanged."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from _local_scripts import s3_path, staged_workspace, write_data
from sagepipe.local import ParameterError, execute
from sagepipe.registry import ModelRegistry


def _statuses(execution):
    return {name: step.status for name, step in execution.steps.items()}


def test_v2_reference_definition_runs_unchanged_and_registers_a_pending_version(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")

    execution = execute(definition, workspace=workspace)

    assert execution.status == "Succeeded", execution.failure_reason
    assert _statuses(execution) == {
        "Preprocess": "Succeeded",
        "Train": "Succeeded",
        "Evaluate": "Succeeded",
        "CheckAccuracy": "Succeeded",
        "Register-RegisterModel": "Succeeded",
        "AccuracyTooLow": "NotExecuted",
    }
    package = ModelRegistry.for_workspace(workspace).describe("my-model-group", "latest")
    assert package.version == 1
    assert package.approval_status == "PendingManualApproval"
    assert package.lineage.execution_id == execution.id
    # S3OutputPath "s3://my-ml-bucket/" + <job>/output/model.tar.gz, mapped into the workspace
    assert package.model_data_url.startswith(f"s3://my-ml-bucket/pipelines-{execution.id}-Train/")
    assert package.model_data_url.endswith("/output/model.tar.gz")
    assert package.model_data_path == s3_path(workspace / "s3", package.model_data_url)
    assert ModelRegistry.for_workspace(workspace).verify_model_data(package).is_file()
    with tarfile.open(package.model_data_path) as tar:
        names = set(tar.getnames())
        model = json.load(tar.extractfile("model.json"))
    assert {"model.json", "code/inference.py"} <= names
    assert model["n_estimators"] == 100  # the sorted --key value hyperparameters
    assert model["channels"] == ["train"]
    assert model["hps_file"]["sagemaker_program"] == '"train.py"'


def test_v3_reference_definition_runs_its_custom_training_entrypoint(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v3")

    execution = execute(definition, workspace=workspace)

    assert execution.status == "Succeeded", execution.failure_reason
    package = ModelRegistry.for_workspace(workspace).describe("my-model-group", 1)
    evaluation = json.loads(
        (workspace / "s3/my-ml-bucket/my-pipeline/evaluation/evaluation.json").read_text()
    )
    # metrics come from the ModelQuality statistics file that Evaluate wrote
    assert package.metrics == {"accuracy": evaluation["metrics"]["accuracy"]["value"]}
    assert package.lineage.data_digest and package.lineage.code_digest
    assert package.lineage.parameters["AccuracyThreshold"] == 0.8


def test_second_run_reuses_cached_steps_and_changed_data_reruns_them(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    first = execute(definition, workspace=workspace)
    second = execute(definition, workspace=workspace)

    assert [s.cache_hit for s in first.steps.values()] == [False] * 6
    assert second.steps["Preprocess"].cache_hit and second.steps["Train"].cache_hit
    # Evaluate has no CacheConfig in the reference, so it always runs, as on SageMaker
    assert not second.steps["Evaluate"].cache_hit
    assert second.status == "Succeeded"

    write_data(workspace / "s3", rows=240)
    third = execute(definition, workspace=workspace)
    assert not third.steps["Preprocess"].cache_hit
    assert not third.steps["Train"].cache_hit
    assert third.status == "Succeeded"


def test_no_cache_and_disabled_cache_config_run_every_step(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    execute(definition, workspace=workspace)

    fresh = execute(definition, workspace=workspace, use_cache=False)
    assert not any(s.cache_hit for s in fresh.steps.values())

    definition["Steps"][0]["CacheConfig"]["Enabled"] = False
    disabled = execute(definition, workspace=workspace)
    assert not disabled.steps["Preprocess"].cache_hit


def test_cached_step_whose_outputs_were_removed_runs_again(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    first = execute(definition, workspace=workspace)
    train_uri = first.steps["Preprocess"].properties["ProcessingOutputConfig"]["Outputs"][0]
    (s3_path(workspace / "s3", train_uri["S3Output"]["S3Uri"]) / "train.csv").unlink()

    second = execute(definition, workspace=workspace)

    assert not second.steps["Preprocess"].cache_hit
    assert second.status == "Succeeded"


def test_threshold_override_takes_the_fail_branch_and_registers_nothing(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")

    execution = execute(definition, workspace=workspace, parameters={"AccuracyThreshold": "0.99"})

    assert execution.status == "Failed"
    assert execution.failure_reason == "step AccuracyTooLow (Fail): accuracy below threshold"
    assert execution.steps["Register-RegisterModel"].status == "NotExecuted"
    assert ModelRegistry.for_workspace(workspace).list_model_packages() == []


def test_fail_message_can_be_an_expression_showing_metric_and_threshold(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v3")
    fail = definition["Steps"][3]["Arguments"]["ElseSteps"][0]
    fail["Arguments"]["ErrorMessage"] = {
        "Std:Join": {
            "On": " ",
            "Values": [
                "accuracy",
                {
                    "Std:JsonGet": {
                        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                        "Path": "metrics.accuracy.value",
                    }
                },
                "is below",
                {"Get": "Parameters.AccuracyThreshold"},
            ],
        }
    }

    execution = execute(definition, workspace=workspace, parameters={"AccuracyThreshold": 0.95})

    assert execution.steps["AccuracyTooLow"].failure_reason == "accuracy 0.9 is below 0.95"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"AccuracyThreshold": "high"}, "AccuracyThreshold='high': Float parameters need a number"),
        ({"Threshold": "0.5"}, "'Threshold' is not defined by this pipeline: use one of"),
    ],
)
def test_bad_parameter_fails_before_anything_is_written(tmp_path, override, expected):
    definition, workspace = staged_workspace(tmp_path, "v2")

    with pytest.raises(ParameterError, match=expected.replace("(", r"\(")):
        execute(definition, workspace=workspace, parameters=override)

    assert not (workspace / "runs.db").exists()
    assert not (workspace / "executions").exists()


def test_each_job_has_its_own_sandbox_and_log(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")

    execution = execute(definition, workspace=workspace, keep_sandboxes=True)

    for name in ("Preprocess", "Train", "Evaluate"):
        log = Path(execution.steps[name].log_path)
        assert log == workspace / "executions" / execution.id / name / "job.log"
        assert (log.parent / "opt_ml").is_dir()
    assert "preprocessed 200 rows" in Path(execution.steps["Preprocess"].log_path).read_text()
    config = json.loads(
        (
            workspace / "executions" / execution.id / "Train" / "opt_ml/input/config/"
            "hyperparameters.json"
        ).read_text()
    )
    assert config["n_estimators"] == "100"


def test_successful_sandboxes_are_removed_but_logs_stay_and_cache_hits_point_at_them(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    first = execute(definition, workspace=workspace)
    second = execute(definition, workspace=workspace)

    job_dir = workspace / "executions" / first.id / "Preprocess"
    assert (job_dir / "job.log").is_file()
    assert not (job_dir / "opt_ml").exists()
    assert second.steps["Preprocess"].cache_hit
    assert second.steps["Preprocess"].log_path == str(job_dir / "job.log")


def test_lineage_records_the_git_commit_when_the_project_is_a_git_repository(tmp_path):
    project = tmp_path / "project"
    definition, workspace = staged_workspace(project, "v2")
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (project / "README.md").write_text("x")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout

    execute(definition, workspace=workspace)

    package = ModelRegistry.for_workspace(workspace).describe("my-model-group", "latest")
    assert package.lineage.git_commit == head.strip()
