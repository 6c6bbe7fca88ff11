"""The SQLite model registry: versions, approvals, lineage, concurrency."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sagepipe.registry import (
    Lineage,
    ModelPackageNotFound,
    ModelRegistry,
    RegistryError,
    parse_version,
)

FRAMEWORK_SRC = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"


def _registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry.for_workspace(tmp_path / "ws")


def _model(tmp_path: Path, content: bytes = b"model") -> str:
    path = tmp_path / "ws" / "s3" / "bucket" / "m" / "model.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return "s3://bucket/m/model.tar.gz"


def test_versions_count_up_per_group_and_record_sagemaker_fields(tmp_path):
    reg = _registry(tmp_path)
    url = _model(tmp_path)
    spec = {"Containers": [{"Image": "img:1", "ModelDataUrl": url}]}
    first = reg.create_model_package(
        "churn",
        model_data_url=url,
        inference_specification=spec,
        model_metrics={"ModelQuality": {"Statistics": {"S3Uri": "s3://b/e.json"}}},
        drift_check_baselines={"ModelQuality": {}},
        customer_metadata={"team": "risk"},
        lineage=Lineage(execution_id="exec-1", metrics={"accuracy": 0.9}, git_commit="abc"),
    )
    second = reg.create_model_package("churn", model_data_url=url)
    other = reg.create_model_package("fraud", model_data_url=url)

    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.approval_status == "PendingManualApproval"
    assert first.arn.endswith(":model-package/churn/1")
    assert first.image == "img:1"  # taken from the inference specification
    assert first.model_data_path == tmp_path / "ws/s3/bucket/m/model.tar.gz"
    assert first.model_data_sha256 == hashlib.sha256(b"model").hexdigest()
    assert first.customer_metadata == {"team": "risk"}
    assert first.metrics == {"accuracy": 0.9}
    assert reg.describe("churn", "latest").version == 2
    assert [p.version for p in reg.list_model_packages("churn")] == [1, 2]
    assert reg.list_groups() == ["churn", "fraud"]


def test_register_returns_the_latest_version_when_its_artifact_is_unchanged(tmp_path):
    reg = _registry(tmp_path)
    url = _model(tmp_path)
    first, created = reg.register("churn", model_data_url=url)
    again, created_again = reg.register("churn", model_data_url=url)
    assert (first.version, created) == (1, True)
    assert (again.version, created_again) == (1, False)
    assert [p.version for p in reg.list_model_packages("churn")] == [1]

    _model(tmp_path, b"retrained")
    changed, created_changed = reg.register("churn", model_data_url=url)
    assert (changed.version, created_changed) == (2, True)
    # Only the latest version counts: going back to an older artifact is a new version.
    _model(tmp_path, b"model")
    assert reg.register("churn", model_data_url=url)[0].version == 3


def test_approval_transitions_follow_sagemaker_and_keep_a_history(tmp_path):
    reg = _registry(tmp_path)
    url = _model(tmp_path)
    reg.create_model_package("churn", model_data_url=url, created_by="ci")
    reg.create_model_package("churn", model_data_url=url, created_by="ci")
    assert reg.latest_approved("churn") is None

    reg.update_approval_status("churn", 1, "Approved", reason="good", by="ana")
    reg.update_approval_status("churn", 1, "Rejected", reason="drift", by="bob")
    reg.update_approval_status("churn", 1, "Approved", by="ana")
    package = reg.approve("churn", 2, by="ana")

    assert reg.latest_approved("churn").version == 2
    reg.reject("churn", "latest", by="bob")
    assert reg.latest_approved("churn").version == 1
    history = reg.approval_history("churn", 1)
    assert [(e.from_status, e.to_status, e.by) for e in history] == [
        (None, "PendingManualApproval", "ci"),
        ("PendingManualApproval", "Approved", "ana"),
        ("Approved", "Rejected", "bob"),
        ("Rejected", "Approved", "ana"),
    ]
    assert history[2].reason == "drift"
    assert history[1].at <= history[2].at
    assert package.approval_status == "Approved"
    with pytest.raises(
        RegistryError,
        match="cannot change churn version 1 from Approved to "
        "PendingManualApproval: allowed from Approved is Rejected",
    ):
        reg.update_approval_status("churn", 1, "PendingManualApproval")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.describe("churn", 9), "has no version 9: versions are 1 to 1"),
        (
            lambda r: r.describe("nope", "latest"),
            "group 'nope' has no versions: known groups are churn",
        ),
        (lambda r: r.update_approval_status("churn", 1, "OK"), "approval status 'OK' is not valid"),
        (
            lambda r: r.create_model_package("bad name!", model_data_url=None),
            "group name 'bad name!' is not valid",
        ),
    ],
)
def test_bad_requests_are_one_line_errors(tmp_path, call, message):
    reg = _registry(tmp_path)
    reg.create_model_package("churn", model_data_url=_model(tmp_path))
    with pytest.raises(RegistryError, match=message) as info:
        call(reg)
    assert "\n" not in str(info.value)


def test_unknown_version_is_a_lookup_error(tmp_path):
    reg = _registry(tmp_path)
    with pytest.raises(ModelPackageNotFound):
        reg.describe("churn", 1)


@pytest.mark.parametrize(
    ("text", "expected"), [("3", 3), ("latest", "latest"), (" LATEST ", "latest")]
)
def test_version_arguments_are_numbers_or_latest(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "v2", "1.5", ""])
def test_bad_version_arguments_are_rejected(text):
    with pytest.raises(RegistryError, match=r"positive number|start at 1"):
        parse_version(text)


def test_verify_model_data_catches_an_artifact_changed_after_registration(tmp_path):
    reg = _registry(tmp_path)
    package = reg.create_model_package("churn", model_data_url=_model(tmp_path))
    assert reg.verify_model_data(package) == package.model_data_path

    package.model_data_path.write_bytes(b"tampered")
    with pytest.raises(RegistryError, match="changed after registration"):
        reg.verify_model_data(package)


def test_verify_model_data_refuses_an_artifact_registered_without_a_digest(tmp_path):
    # Registered before its file existed, so no digest was recorded: the one artifact
    # check is strict, as serving's is, instead of trusting whatever is there now.
    reg = _registry(tmp_path)
    package = reg.create_model_package("churn", model_data_url="s3://bucket/m/model.tar.gz")
    assert package.model_data_sha256 is None
    _model(tmp_path)
    with pytest.raises(RegistryError, match=r"churn version 1: no SHA-256 recorded .*register"):
        reg.verify_model_data(package)


REGISTER_MANY = """
import sys
sys.path.insert(0, sys.argv[1])
from sagepipe.registry import ModelRegistry, Lineage
reg = ModelRegistry.for_workspace(sys.argv[2])
for i in range(int(sys.argv[3])):
    reg.create_model_package("churn", model_data_url=None,
                             lineage=Lineage(execution_id=f"{sys.argv[4]}-{i}"))
"""


def test_concurrent_processes_never_lose_or_duplicate_a_version(tmp_path):
    workspace = tmp_path / "ws"
    writers, each = 6, 15
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                REGISTER_MANY,
                str(FRAMEWORK_SRC),
                str(workspace),
                str(each),
                f"w{n}",
            ]
        )
        for n in range(writers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * writers

    packages = ModelRegistry.for_workspace(workspace).list_model_packages("churn")
    assert [p.version for p in packages] == list(range(1, writers * each + 1))
    assert len({p.lineage.execution_id for p in packages}) == writers * each


def test_the_engine_version_in_the_lineage_is_stored_and_shown_by_registry_describe(tmp_path):
    from click.testing import CliRunner

    from sagepipe.cli import make_framework_cli

    reg = _registry(tmp_path)
    url = _model(tmp_path)
    reg.create_model_package("churn", model_data_url=url, lineage=Lineage(sagepipe_version="0.5.0"))
    reg.create_model_package("churn", model_data_url=url)

    described = CliRunner().invoke(
        make_framework_cli(), ["registry", "describe", "1", "--workspace", str(tmp_path / "ws")]
    )

    assert described.exit_code == 0, described.output
    assert json.loads(described.output)["Lineage"]["SagepipeVersion"] == "0.5.0"
    assert reg.describe("churn", 2).lineage.sagepipe_version is None
    # Versions registered before the field existed have no key in their stored JSON.
    assert Lineage.from_dict({"ExecutionId": "exec-1"}).sagepipe_version is None
