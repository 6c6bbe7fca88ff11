"""run --target sagemaker against moto's server: upload, upsert, start, list, watch, stop.

moto stores pipelines and executions but never runs a step (an execution is
"Succeeded" at once) and does not implement ListPipelineExecutionSteps or
StopPipelineExecution: for those the tests assert the request we sent, which the
recording proxy in front of moto keeps.
"""

from __future__ import annotations

import functools
import json

import boto3
import pytest

from aws_loopback import REGION, ROLE, Fault
from compiled_example import BUCKET, PREFIX, compile_example
from sagepipe.sagemaker import pipelines
from sagepipe.sagemaker.errors import AwsError
from sagepipe.sagemaker.runner import AwsTarget, Prepared, publish_and_start

PIPELINE = "example-pipeline-dev"


@functools.cache
def _compiled():
    return compile_example(region=REGION)


def _prepared(data=None, **target_overrides) -> Prepared:
    compiled = _compiled()
    options = {
        "region": REGION,
        "bucket": BUCKET,
        "prefix": PREFIX,
        "role_arn": ROLE,
        "pipeline_name": PIPELINE,
        "input_data_url": f"s3://{BUCKET}/{PREFIX}/input/raw",
        "tags": {"project": "example", "stage": "dev"},
    }
    options.update(target_overrides)
    return Prepared(compiled.to_json(), compiled.artifacts, AwsTarget(**options), data)


def _bucket() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)


def _sagemaker():
    return boto3.client("sagemaker", region_name=REGION)


def test_first_run_creates_the_pipeline_and_the_second_updates_it(aws):
    _bucket()
    messages: list[str] = []

    first = publish_and_start(_prepared(), {}, echo=messages.append)
    second = publish_and_start(_prepared(), {}, echo=messages.append)

    assert first.created and not second.created
    assert first.pipeline_arn == second.pipeline_arn
    assert [len(aws.proxy.calls(op)) for op in ("CreatePipeline", "UpdatePipeline")] == [1, 1]
    created = aws.proxy.calls("CreatePipeline")[0].json()
    assert created["RoleArn"] == ROLE
    assert {t["Key"]: t["Value"] for t in created["Tags"]} == {"project": "example", "stage": "dev"}
    assert any(m.startswith(f"creating pipeline {PIPELINE} (role {ROLE}) ...") for m in messages)
    assert f"updating pipeline {PIPELINE} ..." in messages


def test_the_definition_on_sagemaker_is_the_compiled_file_byte_for_byte(aws):
    _bucket()
    prepared = _prepared()

    publish_and_start(prepared, {}, echo=lambda _m: None)

    stored = _sagemaker().describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"]
    assert stored.encode() == prepared.definition == compile_example(region=REGION).to_json()


def test_code_objects_are_uploaded_once_and_skipped_when_already_in_the_bucket(aws):
    _bucket()
    prepared = _prepared()
    count = len(prepared.artifacts)
    assert count > 0

    first = publish_and_start(prepared, {}, echo=lambda _m: None)
    puts_after_first = len(aws.proxy.s3_requests("PUT"))
    second = publish_and_start(prepared, {}, echo=lambda _m: None)

    assert (first.code.uploaded, first.code.skipped) == (count, 0)
    assert (second.code.uploaded, second.code.skipped) == (0, count)
    assert len(aws.proxy.s3_requests("PUT")) == puts_after_first  # nothing re-sent
    s3 = boto3.client("s3", region_name=REGION)
    for uri, data in prepared.artifacts.items():
        key = uri.removeprefix(f"s3://{BUCKET}/")
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


def test_data_is_uploaded_with_its_digest_and_not_again_when_unchanged(aws, tmp_path):
    _bucket()
    csv = tmp_path / "churn.csv"
    csv.write_text("a,b\n1,2\n")

    first = publish_and_start(_prepared(data=csv), {}, echo=lambda _m: None)
    second = publish_and_start(_prepared(data=csv), {}, echo=lambda _m: None)
    csv.write_text("a,b\n1,3\n")
    third = publish_and_start(_prepared(data=csv), {}, echo=lambda _m: None)

    assert (first.data.uploaded, second.data.skipped, third.data.uploaded) == (1, 1, 1)
    sent = aws.proxy.calls("StartPipelineExecution")[0].json()["PipelineExecutionDescription"]
    assert f"sagepipe:DataDigest={first.data.digest}" in sent  # the lineage's data digest
    assert first.data.digest == second.data.digest != third.data.digest
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=BUCKET, Key=f"{PREFIX}/input/raw/churn.csv"
    )["Body"]
    assert body.read() == b"a,b\n1,3\n"


def test_parameter_overrides_reach_the_execution_and_the_listing(aws):
    _bucket()

    started = publish_and_start(_prepared(), {"AccuracyThreshold": "0.9"}, echo=lambda _m: None)
    listed = pipelines.list_executions(_sagemaker(), PIPELINE)

    assert started.execution_arn.startswith(f"arn:aws:sagemaker:{REGION}:")
    assert [e.id for e in listed] == [started.execution_arn]
    assert listed[0].parameters == {"AccuracyThreshold": "0.9"}
    sent = aws.proxy.calls("StartPipelineExecution")[0].json()
    assert sent["PipelineParameters"] == [{"Name": "AccuracyThreshold", "Value": "0.9"}]


def test_watching_asks_for_the_steps_of_the_execution(aws):
    _bucket()
    started = publish_and_start(_prepared(), {}, echo=lambda _m: None)

    # moto does not implement ListPipelineExecutionSteps (it answers 500): we check the
    # request we sent and that the failure is one line naming the execution.
    with pytest.raises(AwsError) as caught:
        pipelines.watch(
            _sagemaker(), started.execution_arn, on_event=lambda _e: None, sleep=lambda _s: None
        )

    sent = aws.proxy.calls("ListPipelineExecutionSteps")[0].json()
    assert sent["PipelineExecutionArn"] == started.execution_arn
    assert sent["SortOrder"] == "Ascending"
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"listing the steps of {started.execution_arn} failed: AWS said")


def test_step_summaries_become_table_rows_with_job_and_logs():
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    summary = {
        "StepName": "Train",
        "StepStatus": "Succeeded",
        "StartTime": start,
        "EndTime": start + timedelta(seconds=42),
        "CacheHitResult": {"SourcePipelineExecutionArn": "arn:...:execution/old"},
        "Metadata": {"TrainingJob": {"Arn": "arn:aws:sagemaker:r:1:training-job/pipelines-x"}},
    }

    step = pipelines._step(summary)

    assert (step.status, step.duration_seconds, step.cache_hit) == ("Succeeded", 42.0, True)
    assert step.job_arn.endswith("training-job/pipelines-x")
    assert step.log_hint == "CloudWatch /aws/sagemaker/TrainingJobs, streams pipelines-x/*"


def test_stop_sends_the_execution_arn(aws):
    _bucket()
    started = publish_and_start(_prepared(), {}, echo=lambda _m: None)

    # moto has no StopPipelineExecution: assert the request, and the one-line failure.
    with pytest.raises(AwsError, match=r"^stopping execution .* failed: AWS said"):
        pipelines.stop(_sagemaker(), started.execution_arn)

    sent = aws.proxy.calls("StopPipelineExecution")[0].json()
    assert sent["PipelineExecutionArn"] == started.execution_arn
    assert len(sent["ClientRequestToken"]) >= 32


def test_the_local_placeholder_role_is_refused_before_any_call(aws):
    with pytest.raises(ValueError, match="MLOPS_ROLE_ARN"):
        publish_and_start(
            _prepared(role_arn="arn:aws:iam::000000000000:role/SageMakerExecutionRole"),
            {},
            echo=lambda _m: None,
        )
    assert aws.proxy.requests == []


def test_a_missing_bucket_fails_in_one_line_that_says_how_to_create_it(aws):
    with pytest.raises(AwsError) as caught:
        publish_and_start(_prepared(), {}, echo=lambda _m: None)

    message = str(caught.value)
    assert message.startswith(f"checking bucket s3://{BUCKET} failed: AWS said 404")
    assert "create" in message and "\n" not in message
    assert aws.proxy.operations() == []  # nothing reached SageMaker


def test_a_role_sagemaker_cannot_use_names_the_role_and_the_fix(aws):
    _bucket()
    aws.proxy.faults.append(
        Fault(
            "CreatePipeline",
            "ValidationException",
            f"Could not assume role {ROLE}. Please ensure that the role exists",
        )
    )

    with pytest.raises(AwsError) as caught:
        publish_and_start(_prepared(), {}, echo=lambda _m: None)

    assert f"creating pipeline {PIPELINE} (role {ROLE}) failed" in str(caught.value)
    assert "MLOPS_ROLE_ARN" in str(caught.value)


def test_throttling_is_retried_and_reported_when_it_persists(aws):
    _bucket()
    aws.proxy.faults.append(
        Fault("CreatePipeline", "ThrottlingException", "Rate exceeded", times=1)
    )

    started = publish_and_start(_prepared(), {}, echo=lambda _m: None)  # one retry absorbs it

    assert started.created and len(aws.proxy.calls("CreatePipeline")) == 2
    aws.proxy.faults.append(Fault("StartPipelineExecution", "ThrottlingException", "Rate exceeded"))
    with pytest.raises(AwsError) as caught:
        publish_and_start(_prepared(), {}, echo=lambda _m: None)
    assert "ThrottlingException: Rate exceeded" in str(caught.value)
    assert "throttling" in str(caught.value)


def test_step_names_cover_condition_branches():
    definition = json.loads(compile_example(region=REGION).to_json())

    names = pipelines.step_names(definition)

    top = [s["Name"] for s in definition["Steps"]]
    assert names[: len(top)] == top or set(top) <= set(names)
    assert len(names) > len(top)  # the example has a condition with branch steps


def test_code_objects_read_back_from_the_workspace_are_the_compiled_ones(tmp_path):
    from sagepipe.sagemaker.runner import code_objects_in

    compiled = _compiled()
    compiled.write_artifacts(tmp_path)

    assert code_objects_in(json.loads(compiled.to_json()), tmp_path) == compiled.artifacts
