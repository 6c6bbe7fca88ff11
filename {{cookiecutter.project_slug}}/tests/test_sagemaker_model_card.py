"""``model-card VERSION --target sagemaker``: a SageMaker model card linked to the package.

Against moto's server on loopback behind the recording proxy. moto keeps model cards and
their versions (CreateModelCard, UpdateModelCard, DescribeModelCard) but checks neither
the content against SageMaker's schema nor the link to the model package, so the tests
validate the content themselves and read the link from what was sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import jsonschema
from click.testing import CliRunner, Result

import conftest
from aws_loopback import create_model_package
from {{ cookiecutter.package_name }}.cli import make_cli

REGION = "us-east-1"
GROUP = "{{ cookiecutter.project_slug }}-models"
BUCKET = "{{ cookiecutter.project_slug }}-staging"
CARD = f"{GROUP}-v1"
SCHEMA_FILE = conftest.PROJECT_ROOT / "src/sagepipe/governance/model-card-content.schema.json"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(make_cli(), list(args))


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _register() -> str:
    sm = _sm()
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    return create_model_package(
        sm,
        GROUP,
        f"s3://{BUCKET}/models/1/model.tar.gz",
        "PendingManualApproval",
        ModelPackageDescription="churn model",
        CustomerMetadataProperties={
            "sagepipe:ExecutionId": "exec-1",
            "sagepipe:param:MaxIter": "50",
            "sagepipe:metric:accuracy": "0.81",
        },
    )


def test_model_card_is_created_on_sagemaker_linked_to_the_model_package(
    aws: Any, tmp_path: Path
) -> None:
    arn = _register()
    out = tmp_path / "card.json"

    result = _cli("model-card", "1", "--target", "sagemaker", "-o", str(out))

    assert result.exit_code == 0, result.output
    card_arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-card/{CARD}"
    assert f"created model card {card_arn} (card version 1) for {arn}" in result.stdout
    assert f"creating model card {CARD} ..." in result.stderr
    (call,) = aws.proxy.calls("CreateModelCard")
    sent = call.json()
    assert sent["ModelCardStatus"] == "Draft"
    assert {t["Key"]: t["Value"] for t in sent["Tags"]}["stage"] == "dev"
    content = json.loads(sent["Content"])
    details = content.pop("model_package_details")
    assert details["model_package_arn"] == arn
    assert details["model_package_group_name"] == GROUP
    assert details["model_package_version"] == 1
    assert details["model_approval_status"] == "PendingManualApproval"
    assert details["inference_specification"]["containers"][0]["model_data_url"].endswith(
        "/models/1/model.tar.gz"
    )
    # Without the link, the content is the card written locally, valid in the schema.
    assert content == json.loads(out.read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text())).validate(content)
    job = content["training_details"]["training_job_details"]
    assert {"name": "MaxIter", "value": "50"} in job["hyper_parameters"]
    stored = _sm().describe_model_card(ModelCardName=CARD)
    assert json.loads(stored["Content"])["model_package_details"]["model_package_arn"] == arn


def test_an_unchanged_card_is_left_alone_and_a_changed_one_gets_a_new_version(
    aws: Any,
) -> None:
    _register()
    assert _cli("model-card", "1", "--target", "sagemaker").exit_code == 0

    same = _cli("model-card", "1", "--target", "sagemaker")
    assert same.exit_code == 0, same.output
    assert "nothing to change" in same.stderr
    assert aws.proxy.calls("UpdateModelCard") == []

    approved = _cli("registry", "approve", "1", "--target", "sagemaker")
    assert approved.exit_code == 0, approved.output
    changed = _cli("model-card", "1", "--target", "sagemaker", "--status", "PendingReview")

    assert changed.exit_code == 0, changed.output
    assert "updated model card" in changed.stdout and "(card version 2)" in changed.stdout
    (update,) = aws.proxy.calls("UpdateModelCard")
    body = update.json()
    assert body["ModelCardStatus"] == "PendingReview"
    assert json.loads(body["Content"])["model_package_details"]["model_approval_status"] == (
        "Approved"
    )
    stored = _sm().describe_model_card(ModelCardName=CARD)
    assert (stored["ModelCardVersion"], stored["ModelCardStatus"]) == (2, "PendingReview")


def test_an_archived_card_is_refused_in_one_line(aws: Any) -> None:
    _register()
    assert _cli("model-card", "1", "--target", "sagemaker", "--status", "Archived").exit_code == 0
    assert _cli("registry", "approve", "1", "--target", "sagemaker").exit_code == 0

    result = _cli("model-card", "1", "--target", "sagemaker")

    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: model card {CARD} is Archived")
    assert aws.proxy.calls("UpdateModelCard") == []


def test_a_missing_version_on_sagemaker_fails_before_any_card_call(aws: Any) -> None:
    _register()

    result = _cli("model-card", "7", "--target", "sagemaker")

    assert result.exit_code == 2
    assert "has no version 7 on SageMaker" in result.stderr
    assert aws.proxy.calls("CreateModelCard") == []
