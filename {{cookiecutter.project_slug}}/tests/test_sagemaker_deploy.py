"""deploy/endpoints/undeploy/rollback/promote/smoke-test/batch-transform --target sagemaker.

Against moto's server on loopback, behind a proxy that records each request. moto keeps
models, endpoint configs and endpoints (InService at once) but never serves a
prediction, ignores ShadowProductionVariants and DeploymentConfig, and has no
UpdateEndpoint: where moto cannot tell, these tests assert the requests we sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner, Result

from aws_loopback import create_model_package
from {{ cookiecutter.package_name }}.cli import make_cli

REGION = "us-east-1"  # the fixtures' (tests/conftest.py: aws)
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
GROUP = "{{ cookiecutter.project_slug }}-models"
BUCKET = "{{ cookiecutter.project_slug }}-staging"


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _register(statuses: list[str]) -> list[str]:
    sm = _sm()
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    return [
        create_model_package(sm, GROUP, f"s3://{BUCKET}/models/{number}/model.tar.gz", status)
        for number, status in enumerate(statuses, start=1)
    ]


def _cli(*args: str) -> Result:
    return CliRunner().invoke(make_cli(), list(args))


def test_deploy_creates_model_config_with_capture_and_the_endpoint(aws: Any) -> None:
    arns = _register(["Approved", "Approved", "PendingManualApproval"])

    result = _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    assert result.exit_code == 0, result.output
    name = "{{ cookiecutter.project_slug }}-staging"
    assert result.stdout.strip() == f"{name} InService serving {arns[1]}"
    assert f"creating endpoint {name} (ml.m5.large x1) ..." in result.stderr
    model = aws.proxy.calls("CreateModel")[0].json()
    assert model["Containers"] == [{"ModelPackageName": arns[1]}]
    assert model["ExecutionRoleArn"] == ROLE
    config = aws.proxy.calls("CreateEndpointConfig")[0].json()
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    capture = config["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 100  # staging.toml
    assert capture["DestinationS3Uri"] == f"s3://{BUCKET}/{{ cookiecutter.project_slug }}/datacapture"
    tags = {t["Key"]: t["Value"] for t in aws.proxy.calls("CreateEndpoint")[0].json()["Tags"]}
    assert tags == {"project": "{{ cookiecutter.project_slug }}", "stage": "staging"}
    assert _sm().describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_deploying_the_same_version_again_changes_nothing(aws: Any) -> None:
    _register(["Approved"])
    _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    again = _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    assert again.exit_code == 0, again.output
    assert "nothing to change" in again.stderr
    assert len(aws.proxy.calls("CreateModel")) == 1
    assert len(aws.proxy.calls("CreateEndpointConfig")) == 1
    assert aws.proxy.calls("UpdateEndpoint") == []


def test_a_new_version_updates_the_running_endpoint_with_the_stage_policy(aws: Any) -> None:
    _register(["Approved", "Approved"])
    first = _cli("deploy", "--stage", "prod", "--target", "sagemaker", "--version", "1")
    assert first.exit_code == 0, first.output

    result = _cli("deploy", "--stage", "prod", "--target", "sagemaker", "--version", "2")

    # moto has no UpdateEndpoint (it answers 500): the request is what we can check.
    (update,) = aws.proxy.calls("UpdateEndpoint")[-1:]
    body = update.json()
    assert body["EndpointName"] == "{{ cookiecutter.project_slug }}-prod"
    new_config = aws.proxy.calls("CreateEndpointConfig")[-1].json()
    assert body["EndpointConfigName"] == new_config["EndpointConfigName"]
    routing = body["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 600,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }  # prod.toml [deployment]
    variant = aws.proxy.calls("CreateEndpointConfig")[-1].json()["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.xlarge", 2)
    assert result.exit_code == 1
    assert "updating endpoint {{ cookiecutter.project_slug }}-prod" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1:]) == 1 and "Traceback" not in result.output


def test_a_shadow_version_is_a_shadow_production_variant(aws: Any) -> None:
    arns = _register(["Approved", "Approved"])

    result = _cli(
        "deploy", "--stage", "staging", "--target", "sagemaker", "--version", "2",
        "--shadow-version", "1", "--shadow-percentage", "50",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    config = aws.proxy.calls("CreateEndpointConfig")[0].json()
    (shadow,) = config["ShadowProductionVariants"]
    assert shadow["VariantName"] == "Shadow"
    assert shadow["InitialVariantWeight"] == 0.5
    models = {c.json()["ModelName"]: c.json()["Containers"][0]["ModelPackageName"]
              for c in aws.proxy.calls("CreateModel")}  # fmt: skip
    assert models[shadow["ModelName"]] == arns[0]


def test_unapproved_versions_are_refused_before_any_change(aws: Any) -> None:
    _register(["PendingManualApproval"])

    result = _cli("deploy", "--stage", "staging", "--target", "sagemaker", "--version", "1")

    assert result.exit_code == 2
    assert "is PendingManualApproval; approve it" in result.stderr
    assert aws.proxy.calls("CreateModel") == []


def test_endpoints_lists_and_undeploy_deletes(aws: Any) -> None:
    arns = _register(["Approved"])
    _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    listed = _cli("endpoints", "--target", "sagemaker", "--json")
    gone = _cli("undeploy", "--stage", "staging", "--target", "sagemaker")
    after = _cli("endpoints", "--target", "sagemaker")

    (row,) = json.loads(listed.stdout)
    assert (row["Stage"], row["EndpointStatus"]) == ("staging", "InService")
    assert row["ServedPackages"] == {"AllTraffic": arns[0]}
    assert gone.exit_code == 0 and gone.stdout.strip().startswith("deleted")
    assert len(aws.proxy.calls("DeleteEndpoint")) == 1
    assert len(aws.proxy.calls("DeleteEndpointConfig")) == 1
    assert "no endpoints on SageMaker" in after.stdout


def test_promote_keeps_its_gates_on_sagemaker(aws: Any) -> None:
    arns = _register(["Approved"])
    _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    refused = _cli("promote", "--target", "sagemaker")
    # What a passing `smoke-test --target sagemaker` records (moto cannot serve one).
    _sm().update_model_package(
        ModelPackageArn=arns[0],
        CustomerMetadataProperties={"sagepipe:smoke-test:staging": "passed 2026-01-01T00:00:00Z"},
        ModelApprovalStatus="Approved",
    )
    promoted = _cli("promote", "--target", "sagemaker")

    assert refused.exit_code == 2
    assert "has no staging smoke test on SageMaker" in refused.stderr
    assert promoted.exit_code == 0, promoted.output
    assert "{{ cookiecutter.project_slug }}-prod" in promoted.stdout
    names = [c.json()["EndpointName"] for c in aws.proxy.calls("CreateEndpoint")]
    assert names == ["{{ cookiecutter.project_slug }}-staging", "{{ cookiecutter.project_slug }}-prod"]


def test_rollback_needs_an_earlier_approved_version(aws: Any) -> None:
    _register(["Rejected", "Approved"])
    _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    result = _cli("rollback", "--stage", "staging", "--target", "sagemaker")

    assert result.exit_code == 2
    assert "serves version 2 and no earlier version is Approved" in result.stderr


def test_smoke_test_invokes_the_endpoint_through_sagemaker_runtime(aws: Any) -> None:
    _register(["Approved"])
    _cli("deploy", "--stage", "staging", "--target", "sagemaker")

    result = _cli("smoke-test", "--stage", "staging", "--target", "sagemaker")

    # moto answers InvokeEndpoint with a fixed non-JSON body, not a model's predictions,
    # so the check fails; what we can assert is the request sent through the runtime API.
    invocations = [r for r in aws.proxy.requests if r.path.endswith("/invocations")]
    assert invocations, aws.proxy.operations()
    assert invocations[0].path == "/endpoints/{{ cookiecutter.project_slug }}-staging/invocations"
    assert json.loads(invocations[0].body)["instances"]
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    metadata = _sm().describe_model_package(ModelPackageName=_arns_of_group()[0])
    recorded = metadata.get("CustomerMetadataProperties", {}).get("sagepipe:smoke-test:staging")
    assert recorded is None or recorded.startswith("failed")


def _arns_of_group() -> list[str]:
    packages = _sm().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return [p["ModelPackageArn"] for p in packages]


def test_batch_transform_uploads_the_input_and_creates_the_job(aws: Any, tmp_path: Path) -> None:
    _register(["Approved"])
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="{{ cookiecutter.project_slug }}-dev")
    source = tmp_path / "rows.csv"
    source.write_text("1,2,3\n4,5,6\n")

    result = _cli(
        "batch-transform", str(source), str(tmp_path / "out"), "--target", "sagemaker",
        "--input-filter", "$[1:]", "--join-source", "Input",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    job = aws.proxy.calls("CreateTransformJob")[0].json()
    assert job["DataProcessing"] == {
        "InputFilter": "$[1:]",
        "OutputFilter": "$",
        "JoinSource": "Input",
    }
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].startswith(
        "s3://{{ cookiecutter.project_slug }}-dev/{{ cookiecutter.project_slug }}/batch/input/"
    )
    assert job["ModelName"] == aws.proxy.calls("CreateModel")[0].json()["ModelName"]
    assert "Completed" in result.stdout  # moto completes jobs at once; it writes no output
