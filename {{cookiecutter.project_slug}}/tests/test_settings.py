"""Settings: per-stage defaults, environment overrides, clear errors."""

from __future__ import annotations

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


def test_image_uri_follows_the_region() -> None:
    loaded = settings.load("dev", environ={"MLOPS_REGION": "us-west-2"})
    assert ".dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:" in loaded.image_uri
    with pytest.raises(ValueError, match="set MLOPS_IMAGE_URI"):
        settings.sklearn_image_uri("mars-north-1")
