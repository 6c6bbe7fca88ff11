"""registry list|describe|approve|reject --target sagemaker, on moto's Model Registry."""

from __future__ import annotations

import json

import boto3
import click
import pytest
from click.testing import CliRunner

from aws_loopback import REGION, ROLE
from sagepipe.cli import make_registry_group
from sagepipe.registry import RegistryError
from sagepipe.sagemaker.lineage import CODE_DIGEST, EXECUTION_ID, METRIC, PARAM
from sagepipe.sagemaker.registry import SageMakerRegistry
from sagepipe.sagemaker.runner import AwsTarget

GROUP = "churn-model-models"


def _target() -> AwsTarget:
    return AwsTarget(REGION, "bucket", "p", ROLE, "churn-model-dev", "s3://bucket/p/in")


def _register(sm, count: int) -> list[str]:
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arns = []
    for number in range(1, count + 1):
        arns.append(
            sm.create_model_package(
                ModelPackageGroupName=GROUP,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "123.dkr.ecr.us-east-1.amazonaws.com/sklearn:1",
                            "ModelDataUrl": f"s3://bucket/p/model-{number}.tar.gz",
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
                CustomerMetadataProperties={
                    EXECUTION_ID: f"exec-{number}",
                    CODE_DIGEST: "abc123",
                    PARAM + "TestFraction": "0.2",
                    METRIC + "accuracy": f"0.{80 + number}",
                },
            )["ModelPackageArn"]
        )
    return arns


def _cli() -> click.Group:
    return make_registry_group(default_group=GROUP, aws_target=_target)


def test_listing_shows_the_same_fields_as_the_local_registry(aws):
    sm = boto3.client("sagemaker", region_name=REGION)
    _register(sm, 2)

    packages = SageMakerRegistry(sm).list_model_packages(GROUP)

    assert [p.version for p in packages] == [1, 2]
    first = packages[0]
    assert first.approval_status == "PendingManualApproval"
    assert first.model_data_url == "s3://bucket/p/model-1.tar.gz"
    assert first.lineage.execution_id == "exec-1"
    assert first.lineage.parameters == {"TestFraction": "0.2"}
    assert first.metrics == {"accuracy": 0.81}
    assert set(first.to_dict()) == {
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelApprovalStatus",
        "ModelDataUrl",
        "ModelDataPath",
        "ModelDataSha256",
        "Image",
        "InferenceSpecification",
        "ModelMetrics",
        "DriftCheckBaselines",
        "CustomerMetadataProperties",
        "ModelPackageDescription",
        "CreationTime",
        "LastModifiedTime",
        "ApprovalDescription",
        "Lineage",
        "ApprovalHistory",
    }


def test_cli_list_json_and_text(aws):
    _register(boto3.client("sagemaker", region_name=REGION), 2)

    as_json = CliRunner().invoke(_cli(), ["list", "--target", "sagemaker", "--json"])
    as_text = CliRunner().invoke(_cli(), ["list", "--target", "sagemaker"])

    assert as_json.exit_code == 0, as_json.output
    assert [p["ModelPackageVersion"] for p in json.loads(as_json.stdout)] == [1, 2]
    assert as_text.exit_code == 0
    assert f"{GROUP}  v2   PendingManualApproval" in as_text.stdout
    assert "accuracy=0.82" in as_text.stdout


def test_cli_approve_latest_and_reject_by_number(aws):
    sm = boto3.client("sagemaker", region_name=REGION)
    arns = _register(sm, 2)

    approved = CliRunner().invoke(
        _cli(), ["approve", "latest", "--target", "sagemaker", "--reason", "good"]
    )
    rejected = CliRunner().invoke(_cli(), ["reject", "1", "--target", "sagemaker"])

    assert approved.exit_code == 0, approved.output
    assert approved.stdout.strip() == f"{GROUP} version 2: Approved"
    assert rejected.stdout.strip() == f"{GROUP} version 1: Rejected"
    statuses = [sm.describe_model_package(ModelPackageName=a)["ModelApprovalStatus"] for a in arns]
    assert statuses == ["Rejected", "Approved"]
    assert sm.describe_model_package(ModelPackageName=arns[1])["ApprovalDescription"] == "good"
    described = CliRunner().invoke(_cli(), ["describe", "2", "--target", "sagemaker"])
    assert json.loads(described.stdout)["ModelApprovalStatus"] == "Approved"


def test_going_back_to_pending_is_refused_as_sagemaker_would(aws):
    sm = boto3.client("sagemaker", region_name=REGION)
    _register(sm, 1)
    registry = SageMakerRegistry(sm)
    registry.update_approval_status(GROUP, 1, "Approved")

    with pytest.raises(RegistryError, match=r"cannot change .* from Approved to PendingManual"):
        registry.update_approval_status(GROUP, 1, "PendingManualApproval")


def test_unknown_versions_and_groups_are_one_line_usage_errors(aws):
    _register(boto3.client("sagemaker", region_name=REGION), 1)

    missing_version = CliRunner().invoke(_cli(), ["describe", "7", "--target", "sagemaker"])
    bad_version = CliRunner().invoke(_cli(), ["describe", "seven", "--target", "sagemaker"])
    missing_group = CliRunner().invoke(
        _cli(), ["describe", "1", "--group", "nope", "--target", "sagemaker"]
    )

    assert missing_version.exit_code == 2
    assert "has no version 7 on SageMaker (versions: 1)" in missing_version.stderr
    assert bad_version.exit_code == 2 and "positive number" in bad_version.stderr
    assert missing_group.exit_code == 2
    assert "'nope' does not exist on SageMaker" in missing_group.stderr
    for result in (missing_version, bad_version, missing_group):
        assert len(result.stderr.strip().splitlines()) == 1


def test_describe_adds_the_data_digest_and_commit_the_execution_recorded(aws):
    from sagepipe.sagemaker.lineage import PIPELINE_NAME, run_description

    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_pipeline(
        PipelineName="churn-model-dev",
        PipelineDefinition='{"Version": "2020-12-01", "Steps": []}',
        RoleArn=ROLE,
        ClientRequestToken="t" * 32,
    )
    execution = sm.start_pipeline_execution(
        PipelineName="churn-model-dev",
        PipelineExecutionDescription=run_description("ab" * 32, "c0ffee1" * 5 + "c0ff"),
    )["PipelineExecutionArn"]
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "i", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={
            EXECUTION_ID: execution.rsplit("/", 1)[-1],
            PIPELINE_NAME: "churn-model-dev",
        },
    )

    lineage = SageMakerRegistry(sm).describe(GROUP, "latest").lineage

    assert lineage.data_digest == "ab" * 32
    assert lineage.git_commit == "c0ffee1" * 5 + "c0ff"
    assert lineage.pipeline_name == "churn-model-dev"
