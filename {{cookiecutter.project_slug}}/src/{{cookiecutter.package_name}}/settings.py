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

from sagepipe import runtimes

STAGES = ("dev", "staging", "prod")
ENV_PREFIX = "MLOPS_"
PROJECT = "{{ cookiecutter.project_slug }}"
DEFAULT_REGION = "{{ cookiecutter.aws_region }}"
# The project's own image (Dockerfile + requirements.lock at the project root) runs the
# pipeline's steps and serves the model; its tag is the lock's content digest.
LOCK_FILE = "requirements.lock"
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
# Images of your own (besides the project image and SageMaker's scikit-learn/XGBoost ones)
# that steps may name: what each stands for locally, e.g.
# runtimes.Runtime(name="my-tool-3", repository="my-tool", version="3", python="3.11",
#                  packages=("pandas==2.2.3",), key_packages=("pandas",), source="its Dockerfile")
EXTRA_RUNTIMES: tuple[runtimes.Runtime, ...] = ()


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
    """Return SageMaker's scikit-learn 1.2-1 image for ``region`` (sagepipe's image table)."""
    return runtimes.framework_image_uri("sklearn", region, runtimes.table.DEFAULT_SKLEARN_VERSION)


def lock_path() -> Path:
    """The project's ``requirements.lock`` (next to pyproject.toml)."""
    here = Path(__file__).resolve().parents[2]
    root = here if (here / LOCK_FILE).is_file() else project_root()
    return root / LOCK_FILE


def project_image_uri(region: str, role_arn: str) -> str:
    """The project image on ECR in the role's account, tagged by requirements.lock's digest."""
    lock = lock_path()
    if not lock.is_file():
        raise ValueError(
            f"{lock} does not exist, and the project image is tagged by it; create it with "
            "`uv pip compile --universal --python-version 3.10 --no-annotate --extra aws "
            "pyproject.toml -o requirements.lock`"
        )
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "000000000000"
    return runtimes.project_image_uri(PROJECT, region, account, lock.read_bytes())


def runtime_resolver() -> runtimes.RuntimeResolver:
    """Which environment each step's image stands for when the pipeline runs locally."""
    return runtimes.RuntimeResolver(
        project_repository=PROJECT,
        lock_file=lock_path(),
        project_python=PYTHON_VERSION,
        extra=EXTRA_RUNTIMES,
    )


def _defaults(stage: str, region: str) -> Settings:
    large = stage == "prod"
    role_arn = "arn:aws:iam::000000000000:role/SageMakerExecutionRole"
    return Settings(
        stage=stage,
        pipeline_name=f"{PROJECT}-{stage}",
        bucket=f"{PROJECT}-{stage}",
        prefix=PROJECT,
        region=region,
        role_arn=role_arn,
        image_uri=project_image_uri(region, role_arn),
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
    if "image_uri" not in overrides and "role_arn" in overrides:
        # The project image lives in the account of the role that runs the pipeline.
        overrides["image_uri"] = project_image_uri(region, overrides["role_arn"])
    return replace(settings, **overrides)


def project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` (default: cwd) with a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here
