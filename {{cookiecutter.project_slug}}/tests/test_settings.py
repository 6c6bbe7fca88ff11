"""Settings: per-stage defaults, environment overrides, clear errors."""

from __future__ import annotations

import hashlib

import pytest

from {{ cookiecutter.package_name }} import settings


def test_stages_differ_and_prod_gets_larger_training_instances() -> None:
    dev = settings.load("dev", environ={})
    prod = settings.load("prod", environ={})
    assert dev.bucket != prod.bucket
    assert prod.training_instance_type != dev.training_instance_type


def test_environment_overrides_a_field_and_picks_the_stage() -> None:
    loaded = settings.load(environ={"MLOPS_STAGE": "staging", "MLOPS_BUCKET": "team-bucket"})
    assert loaded.stage == "staging" and loaded.bucket == "team-bucket"
    assert loaded.input_data_url.startswith("s3://team-bucket/")


def test_unknown_stage_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="stage 'qa': not one of dev, staging, prod"):
        settings.load("qa", environ={})


def test_steps_run_on_the_project_image_tagged_by_the_lock_in_the_roles_account() -> None:
    lock = settings.lock_path().read_bytes()
    tag = hashlib.sha256(lock).hexdigest()[:12]
    loaded = settings.load(
        "dev",
        environ={
            "MLOPS_REGION": "ap-south-1",
            "MLOPS_ROLE_ARN": "arn:aws:iam::123456789012:role/Pipelines",
        },
    )
    assert loaded.image_uri == (
        f"123456789012.dkr.ecr.ap-south-1.amazonaws.com/{settings.PROJECT}:{tag}"
    )


def test_framework_image_of_every_region_is_a_full_registry_uri() -> None:
    # Before the one image table, ap-south-1 compiled to a bare, unpullable image name.
    assert settings.sklearn_image_uri("ap-south-1") == (
        "720646828776.dkr.ecr.ap-south-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    with pytest.raises(ValueError, match="region 'mars-north-1' has no known scikit-learn image"):
        settings.sklearn_image_uri("mars-north-1")


def test_mlflow_is_off_by_default_and_on_by_environment_with_the_workspace_store() -> None:
    assert settings.load("dev", environ={}).mlflow.enabled is False
    on = settings.load("dev", environ={"MLOPS_MLFLOW_ENABLED": "true"})
    assert on.mlflow.enabled is True and on.mlflow.tracking_uri == ""
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team"
    chosen = settings.load(
        "prod", environ={"MLOPS_MLFLOW_ENABLED": "true", "MLOPS_MLFLOW_TRACKING_URI": arn}
    )
    assert chosen.mlflow.tracking_uri == arn


@pytest.mark.parametrize(
    "uri", ["file:///tmp/mlruns", "arn:aws:s3:::bucket", "mlruns", "sqlite://relative.db"]
)
def test_an_unusable_mlflow_tracking_uri_is_refused_in_one_line(uri: str) -> None:
    with pytest.raises(ValueError) as caught:
        settings.load("dev", environ={"MLOPS_MLFLOW_TRACKING_URI": uri})
    message = str(caught.value)
    assert "MLOPS_MLFLOW_TRACKING_URI" in message and "\n" not in message
    assert "mlflow-tracking-server" in message
