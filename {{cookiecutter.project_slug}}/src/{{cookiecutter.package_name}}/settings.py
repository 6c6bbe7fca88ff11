"""Infrastructure settings: bucket, role, instance types, images, registry group, per stage.

Nothing here is read at import time: call :func:`load` when you need the values. Each
field has a per-stage default below and can be overridden by an environment variable
``MLOPS_<FIELD>`` (for example ``MLOPS_BUCKET=my-team-bucket``). The stage comes from
the argument or ``MLOPS_STAGE`` (``dev`` by default). Locally the bucket is only a folder
name under ``.mlops/s3/``, so the defaults work without an AWS account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

STAGES = ("dev", "staging", "prod")
ENV_PREFIX = "MLOPS_"
PROJECT = "{{ cookiecutter.project_slug }}"
DEFAULT_REGION = "{{ cookiecutter.aws_region }}"
# Accounts that host SageMaker's scikit-learn images, per region (public AWS docs).
_SKLEARN_IMAGE_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-central-1": "492215442770",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-northeast-1": "354813040037",
}
SKLEARN_IMAGE_TAG = "1.2-1-cpu-py3"


@dataclass(frozen=True)
class Settings:
    """Where and on what the pipeline runs. Infrastructure only: no ML choices here."""

    stage: str
    pipeline_name: str
    bucket: str
    prefix: str
    region: str
    role_arn: str
    image_uri: str
    processing_instance_type: str
    training_instance_type: str
    inference_instance_type: str
    model_package_group: str
    data_dir: str
    # Private operation (infra/project.yml with NetworkIsolation=true): comma-separated
    # PrivateSubnetIds, JobSecurityGroupId and DataKeyArn. Empty: jobs use SageMaker's network.
    subnets: str = ""
    security_group_ids: str = ""
    kms_key_id: str = ""
    # A migrated pipeline's NAME makes it the one `run` and `compile` use (see `pipelines`).
    default_pipeline: str = ""
    # Where pipeline/registry/endpoint commands act by default: "local" or "sagemaker".
    target: str = "local"
    # Extra AWS tags, "key=value,key=value"; project and stage are always tagged.
    tags: str = ""

    @property
    def input_data_url(self) -> str:
        """The S3 prefix the pipeline reads the raw export from."""
        return f"s3://{self.bucket}/{self.prefix}/input/raw"


def sklearn_image_uri(region: str) -> str:
    """Return SageMaker's scikit-learn image for ``region``; override with MLOPS_IMAGE_URI."""
    account = _SKLEARN_IMAGE_ACCOUNTS.get(region)
    if account is None:
        known = ", ".join(sorted(_SKLEARN_IMAGE_ACCOUNTS))
        raise ValueError(
            f"region {region!r}: no known scikit-learn image account (known: {known}); "
            "set MLOPS_IMAGE_URI to the image for your region"
        )
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{SKLEARN_IMAGE_TAG}"


def _defaults(stage: str, region: str) -> Settings:
    large = stage == "prod"
    image = (
        sklearn_image_uri(region)
        if region in _SKLEARN_IMAGE_ACCOUNTS
        else f"sagemaker-scikit-learn:{SKLEARN_IMAGE_TAG}"
    )
    return Settings(
        stage=stage,
        pipeline_name=f"{PROJECT}-{stage}",
        bucket=f"{PROJECT}-{stage}",
        prefix=PROJECT,
        region=region,
        role_arn="arn:aws:iam::000000000000:role/SageMakerExecutionRole",
        image_uri=image,
        processing_instance_type="ml.m5.xlarge" if large else "ml.m5.large",
        training_instance_type="ml.m5.2xlarge" if large else "ml.m5.large",
        inference_instance_type="ml.m5.large",
        model_package_group=f"{PROJECT}-models",
        data_dir="data/raw",
    )


def load(stage: str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Return the settings of ``stage`` with ``MLOPS_*`` environment overrides applied."""
    env = dict(os.environ if environ is None else environ)
    stage = stage or env.get(ENV_PREFIX + "STAGE", "dev")
    if stage not in STAGES:
        raise ValueError(
            f"stage {stage!r}: not one of {', '.join(STAGES)}; "
            f"set MLOPS_STAGE or --stage to one of them"
        )
    region = env.get(ENV_PREFIX + "REGION", env.get("AWS_REGION", DEFAULT_REGION))
    settings = _defaults(stage, region)
    overrides = {
        field.name: env[ENV_PREFIX + field.name.upper()]
        for field in fields(Settings)
        if field.name != "stage" and ENV_PREFIX + field.name.upper() in env
    }
    return replace(settings, **overrides)


def project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` (default: cwd) with a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here
