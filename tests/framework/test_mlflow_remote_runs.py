"""MLflow runs of SageMaker executions: parameters, the steps' S3 reports, the registered version.

moto runs no pipeline step and has no ListPipelineExecutionSteps, so each test starts a
real execution on moto and gives it the step a finished one would list: a Processing job
created on moto whose output holds the evaluation report in moto's S3.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from aws_loopback import REGION, ROLE, create_model_package
from sagepipe.cli import make_run_command
from sagepipe.mlflow_runs import MlflowTarget, remote_record, write_run
from sagepipe.registry.lineage import git_state
from sagepipe.sagemaker import pipelines
from sagepipe.sagemaker.reports import MAX_REPORT_BYTES, report_key, step_reports
from sagepipe.sagemaker.runner import publish_and_start
from sagepipe.sagemaker.session import AwsSession
from test_sagemaker_pipeline import BUCKET, PIPELINE, _prepared

HAS_MLFLOW = all(importlib.util.find_spec(m) for m in ("mlflow", "sqlalchemy", "alembic"))
needs_mlflow = pytest.mark.skipif(
    not HAS_MLFLOW, reason="mlflow extra not installed (nox -s mlflow in a project runs these)"
)
GROUP = "churn-models"
OUTPUT = f"s3://{BUCKET}/runs/abc/Evaluate/output/evaluation"
REPORT = {"binary_classification_metrics": {"accuracy": {"value": 0.875}, "auc": {"value": 0.9}}}


def _evaluate_job(name: str = "pipelines-abc-Evaluate") -> str:
    """A finished evaluation job on moto, as the pipeline's Evaluate step leaves it."""
    answer = boto3.client("sagemaker", region_name=REGION).create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/p:1"},
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 1,
            }
        },
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "evaluation",
                    "S3Output": {
                        "S3Uri": OUTPUT,
                        "LocalPath": "/opt/ml/processing/evaluation",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    return str(answer["ProcessingJobArn"])


def _put(key: str, body: bytes) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body)


def _finished_execution(job_arn: str) -> pipelines.RemoteExecution:
    """A real execution on moto (parameters and status from it) with its Evaluate step."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    started = publish_and_start(_prepared(), {"AccuracyThreshold": "0.5"}, echo=lambda _m: None)
    execution = pipelines.describe(
        boto3.client("sagemaker", region_name=REGION), started.execution_arn, with_steps=False
    )
    execution.steps["Evaluate"] = pipelines.RemoteStep(
        name="Evaluate",
        type="ProcessingJob",
        status="Succeeded",
        duration_seconds=42.0,
        job_arn=job_arn,
    )
    return execution


def _definition_with_report() -> bytes:
    """The example definition, whose Evaluate step has the ``evaluation.json`` property file."""
    definition = json.loads(_prepared().definition)
    steps = {s["Name"]: s for s in pipelines.iter_steps(definition)}
    assert steps["Evaluate"]["PropertyFiles"][0]["FilePath"] == "evaluation.json"
    assert steps["Evaluate"]["PropertyFiles"][0]["OutputName"] == "evaluation"
    return _prepared().definition


def test_the_run_of_a_sagemaker_execution_holds_its_params_report_metrics_and_version(aws):
    job = _evaluate_job()
    execution = _finished_execution(job)
    _put("runs/abc/Evaluate/output/evaluation/evaluation.json", json.dumps(REPORT).encode())
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    package_arn = create_model_package(sm, GROUP, f"s3://{BUCKET}/model.tar.gz", "Approved")
    execution.registered.append((GROUP, 1))
    warnings: list[str] = []
    definition = _definition_with_report()

    reports = step_reports(AwsSession(REGION), definition, execution, warnings.append)
    record = remote_record(
        execution,
        reports=reports,
        definition_sha256=hashlib.sha256(definition).hexdigest(),
        git=("0123abcd", False),
        packages=[(_describe(GROUP), True)],
    )

    assert warnings == []
    assert record.params == {"AccuracyThreshold": "0.5"}
    assert record.status == "FINISHED"  # moto finishes executions at once
    assert record.metrics == {
        "Evaluate/accuracy": 0.875,
        "Evaluate/auc": 0.9,
        "Evaluate/duration_seconds": 42.0,
    }
    assert record.name == execution.id.rsplit("/", 1)[-1]
    assert record.tags["sagepipe.execution_id"] == execution.id
    assert record.tags["sagepipe.target"] == "sagemaker"
    assert record.tags["sagepipe.definition_sha256"] == hashlib.sha256(definition).hexdigest()
    assert record.tags["sagepipe.model_package_arn"] == package_arn
    assert record.tags["sagepipe.model_approval_status"] == "Approved"
    assert record.tags["mlflow.source.git.commit"] == "0123abcd"


def _describe(group: str):
    from sagepipe.sagemaker.registry import SageMakerRegistry

    return SageMakerRegistry(boto3.client("sagemaker", region_name=REGION)).describe(group, 1)


@pytest.mark.parametrize(
    "body, expected",
    [
        (b"not json {", "is not JSON"),
        (b" " * (MAX_REPORT_BYTES + 1), f"over the {MAX_REPORT_BYTES}-byte limit"),
    ],
    ids=["not-json", "too-large"],
)
def test_a_bad_report_is_skipped_with_one_warning_naming_it(aws, body, expected):
    execution = _finished_execution(_evaluate_job())
    _put("runs/abc/Evaluate/output/evaluation/evaluation.json", body)
    warnings: list[str] = []

    reports = step_reports(
        AwsSession(REGION), _definition_with_report(), execution, warnings.append
    )

    assert reports == []
    (warning,) = warnings
    assert warning.startswith("warning: the report of step Evaluate was not read: ")
    assert f"s3://{BUCKET}/runs/abc/Evaluate/output/evaluation/evaluation.json" in warning
    assert expected in warning and "\n" not in warning


def test_a_missing_report_and_a_failed_step_give_no_metric(aws):
    execution = _finished_execution(_evaluate_job())
    warnings: list[str] = []
    session = AwsSession(REGION)

    missing = step_reports(session, _definition_with_report(), execution, warnings.append)
    execution.steps["Evaluate"].status = "Failed"
    failed = step_reports(session, _definition_with_report(), execution, warnings.append)

    assert missing == [] and failed == []
    (warning,) = warnings  # the failed step is not even read
    assert "reading s3://" in warning and "AWS said NoSuchKey" in warning


@pytest.mark.parametrize("path", ["../../other/secret.json", "/etc/passwd", "a/../../b", ""])
def test_a_property_file_path_that_leaves_its_output_is_refused(path):
    with pytest.raises(ValueError, match="must be a relative path inside its output"):
        report_key(OUTPUT, path)


def test_a_property_file_path_inside_its_output_is_read_from_there():
    assert report_key(OUTPUT, "reports/./evaluation.json") == (
        BUCKET,
        "runs/abc/Evaluate/output/evaluation/reports/evaluation.json",
    )


def _cli(tracking: MlflowTarget):
    return make_run_command(
        build=lambda _w: {},
        aws_prepare=lambda _w: _prepared(),
        pipeline_name=PIPELINE,
        mlflow=lambda: tracking,
    )


@pytest.mark.skipif(HAS_MLFLOW, reason="checks the refusal when the mlflow extra is missing")
def test_run_on_sagemaker_with_mlflow_on_but_not_installed_fails_before_any_aws_call(aws, tmp_path):
    result = CliRunner().invoke(
        _cli(MlflowTarget()),
        ["--target", "sagemaker", "--wait"],
        env={"SAGEPIPE_WORKSPACE": str(tmp_path)},
    )

    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: mlflow.enabled is true but mlflow")
    assert len(result.stderr.strip().splitlines()) == 1
    assert aws.proxy.operations() == []


@needs_mlflow
def test_run_on_sagemaker_without_wait_says_it_is_not_logged(aws, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)

    result = CliRunner().invoke(
        _cli(MlflowTarget()), ["--target", "sagemaker"], env={"SAGEPIPE_WORKSPACE": str(tmp_path)}
    )

    assert result.exit_code == 0, result.output
    assert "mlflow: not logged: a run is logged to MLflow when followed to its end (--wait)" in (
        result.stderr
    )


@needs_mlflow
def test_the_remote_run_lands_in_the_workspace_store(aws, tmp_path: Path):
    from mlflow.tracking import MlflowClient

    from sagepipe.mlflow_runs import local_store_uri

    execution = _finished_execution(_evaluate_job())
    _put("runs/abc/Evaluate/output/evaluation/evaluation.json", json.dumps(REPORT).encode())
    definition = _definition_with_report()
    record = remote_record(
        execution,
        reports=step_reports(AwsSession(REGION), definition, execution, print),
        definition_sha256=hashlib.sha256(definition).hexdigest(),
        git=git_state(tmp_path),
        packages=[],
    )

    run_id = write_run(record, execution.pipeline_name, tmp_path, MlflowTarget())

    client = MlflowClient(tracking_uri=local_store_uri(tmp_path))
    run = client.get_run(run_id)
    assert run.data.metrics["Evaluate/accuracy"] == 0.875
    assert run.data.params == {"AccuracyThreshold": "0.5"}
    assert run.data.tags["sagepipe.execution_id"] == execution.id
    assert client.get_experiment(run.info.experiment_id).name == PIPELINE
