"""A Model (CreateModel) step's record never passes for evidence of a lost registry.

A pipeline that creates a SageMaker model before it registers one (AWS's Clarify example
does) runs in a fresh workspace: the record the Model step writes must not make the
registry's lost-``registry.db`` check refuse the RegisterModel step that follows.
"""

from __future__ import annotations

import json
from pathlib import Path

from sagepipe.local import execute
from sagepipe.registry import ModelRegistry
from sagepipe.storage.archives import tar_gz_bytes

BUCKET = "create-model-bucket"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/project:1"
MODEL_URL = f"s3://{BUCKET}/model/model.tar.gz"


def _definition() -> dict:
    container = {"Image": IMAGE, "ModelDataUrl": MODEL_URL}
    return {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "CreateModel",
                "Type": "Model",
                "Arguments": {
                    "ExecutionRoleArn": "arn:aws:iam::123456789012:role/Role",
                    "PrimaryContainer": container,
                },
            },
            {
                "Name": "Register",
                "Type": "RegisterModel",
                "DependsOn": ["CreateModel"],
                "Arguments": {
                    "ModelPackageGroupName": "group",
                    "InferenceSpecification": {
                        "Containers": [container],
                        "SupportedContentTypes": ["text/csv"],
                        "SupportedResponseMIMETypes": ["text/csv"],
                    },
                    "ModelApprovalStatus": "PendingManualApproval",
                },
            },
        ],
    }


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    archive = workspace / "s3" / BUCKET / "model" / "model.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(tar_gz_bytes({"model.txt": b"weights"}))
    return workspace


def test_a_model_step_before_the_first_registration_does_not_block_the_registry(tmp_path):
    workspace = _workspace(tmp_path)

    execution = execute(_definition(), workspace=workspace)

    assert execution.status == "Succeeded", execution.failure_reason
    name = execution.steps["CreateModel"].properties["ModelName"]
    record = json.loads((workspace / "created-models" / f"{name}.json").read_text())
    assert record["ModelDataUrl"] == MODEL_URL
    assert not (workspace / "models").exists()
    (package,) = ModelRegistry.for_workspace(workspace).list_model_packages("group")
    assert package.version == 1 and package.model_data_url == MODEL_URL


def test_a_create_model_record_left_by_an_older_engine_is_not_evidence_of_a_lost_registry(
    tmp_path,
):
    # sagepipe 0.5.0 and earlier wrote Model step records to models/<name>.json.
    workspace = _workspace(tmp_path)
    legacy = workspace / "models" / "pipelines-exec1-CreateModel.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"ModelName": "pipelines-exec1-CreateModel"}))

    package = ModelRegistry.for_workspace(workspace).create_model_package(
        "group", model_data_url=None
    )

    assert package.version == 1
