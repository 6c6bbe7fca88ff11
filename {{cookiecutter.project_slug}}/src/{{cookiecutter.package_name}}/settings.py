"""A stage's settings: where and on what the pipeline runs, and what its endpoint serves.

One configuration per stage, ``stages/<stage>.toml`` in this package (dev, staging, prod),
checked against the one schema in ``stage_schema.py``. A value comes from, in order:
the environment variable ``MLOPS_<KEY>`` (``MLOPS_BUCKET``, ``MLOPS_SERVER_PORT``: the
key's dotted path in capitals), the stage file, the schema's default. The stage comes
from the argument or ``MLOPS_STAGE`` (``dev`` by default). Nothing is read at import time:
call :func:`load`. Locally the bucket is only a folder name under ``.mlops/s3/``, so the
defaults work without an AWS account.

The files live inside the package so that they ship wherever the code goes: the project
image (``COPY src/``) that CI runs ``deploy``/``promote`` in, and any wheel.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# mlflow_runs imports no MLflow: only its logging function does, when logging is on.
from sagepipe import mlflow_runs, runtimes

from . import stage_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

STAGES_DIR = Path(__file__).resolve().parent / "stages"
_ORDER = ("dev", "staging", "prod")  # the usual path of a model; other stages sort after
ENV_PREFIX = stage_schema.ENV_PREFIX

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
class Server:
    """The local endpoint's server: address, processes, limits."""

    host: str
    port: int  # 0: a free port chosen at the first deploy and kept by redeploys
    workers: int  # 0: one per core
    timeout_seconds: float
    max_payload_mb: float


@dataclass(frozen=True)
class Variant:
    """The production variant: its name and, on SageMaker, its instances."""

    name: str
    instance_type: str
    initial_instance_count: int


@dataclass(frozen=True)
class Capture:
    """Data capture of the endpoint's requests and responses."""

    enabled: bool
    sampling_percentage: float


@dataclass(frozen=True)
class Shadow:
    """The shadow variant that ``deploy --shadow-version`` adds."""

    variant_name: str
    sampling_percentage: float


@dataclass(frozen=True)
class SmokeTest:
    """What ``smoke-test`` sends and the limits it checks."""

    latency_requests: int
    max_latency_ms: float
    batch_rows: int
    tolerance: float
    metrics: tuple[str, ...]

    def options(self) -> dict[str, Any]:
        """The options as the smoke test reads them."""
        return {**asdict(self), "metrics": list(self.metrics)}


@dataclass(frozen=True)
class Deployment:
    """SageMaker only: how an endpoint update moves traffic, and the alarms that roll it back."""

    strategy: str
    canary_percentage: float
    linear_step_percentage: float
    wait_seconds: int
    termination_wait_seconds: int
    alarms: tuple[str, ...]


@dataclass(frozen=True)
class Mlflow:
    """Whether runs are also logged to MLflow tracking, and where (see sagepipe.mlflow_runs)."""

    enabled: bool
    tracking_uri: str  # empty: a sqlite store in the workspace
    experiment: str  # empty: the pipeline's name


@dataclass(frozen=True)
class Settings:
    """One stage: pipeline infrastructure (no ML choices here) and its endpoint."""

    stage: str
    pipeline_name: str
    bucket: str
    prefix: str
    region: str
    role_arn: str
    scheduler_role_arn: str
    image_uri: str
    processing_instance_type: str
    training_instance_type: str
    inference_instance_type: str
    model_package_group: str
    data_dir: str
    # Private operation (infra/project.yml with NetworkIsolation=true): comma-separated
    # PrivateSubnetIds, JobSecurityGroupId and DataKeyArn. Empty: jobs use SageMaker's network.
    subnets: str
    security_group_ids: str
    kms_key_id: str
    # A migrated pipeline's NAME makes it the one `run` and `compile` use (see `pipelines`).
    default_pipeline: str
    # Where pipeline/registry/endpoint commands act by default: "local" or "sagemaker".
    target: str
    # Extra AWS tags, "key=value,key=value"; project and stage are always tagged.
    tags: str
    # Which registry version a deploy serves: latest-approved, latest, promoted or a number.
    model_version: str
    server: Server
    variant: Variant
    capture: Capture
    shadow: Shadow
    smoke_test: SmokeTest
    deployment: Deployment
    mlflow: Mlflow
    path: Path = field(compare=False)  # the stage file

    @property
    def input_data_url(self) -> str:
        """The S3 prefix the pipeline reads the raw export from."""
        return f"s3://{self.bucket}/{self.prefix}/input/raw"


_SECTIONS: dict[str, type] = {
    "server": Server,
    "variant": Variant,
    "capture": Capture,
    "shadow": Shadow,
    "smoke_test": SmokeTest,
    "deployment": Deployment,
    "mlflow": Mlflow,
}


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


def mlflow_target() -> mlflow_runs.MlflowTarget | None:
    """Where the stage logs runs to MLflow, or None when it does not (``[mlflow] enabled``)."""
    chosen = load().mlflow
    if not chosen.enabled:
        return None
    return mlflow_runs.MlflowTarget(tracking_uri=chosen.tracking_uri, experiment=chosen.experiment)


def available(folder: Path = STAGES_DIR) -> tuple[str, ...]:
    """The stages that have a file: dev, staging, prod first, then any others by name."""
    names = {path.stem for path in folder.glob("*.toml")}
    return tuple(sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else 3, n)))


STAGES = available()  # a folder listing, nothing read


def _derived(key: str, stage: str, values: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """The defaults that depend on the project, the stage or other keys (DERIVED in the schema)."""
    if key in ("pipeline_name", "bucket"):
        return f"{PROJECT}-{stage}"
    if key == "prefix":
        return PROJECT
    if key == "model_package_group":
        return f"{PROJECT}-models"
    if key == "region":
        return env.get("AWS_REGION") or DEFAULT_REGION
    if key == "image_uri":
        # The project image lives in the account of the role that runs the pipeline.
        return project_image_uri(values["region"], values["role_arn"])
    raise KeyError(f"stage_schema declares {key!r} DERIVED but settings.py has no rule for it")


def _read(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    try:
        return dict(tomllib.loads(text)), text
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML ({err}); fix the file") from None


def load(
    stage: str | None = None,
    environ: Mapping[str, str] | None = None,
    folder: Path = STAGES_DIR,
) -> Settings:
    """Return ``stage``'s settings: ``MLOPS_*`` over ``stages/<stage>.toml`` over defaults.

    Every problem in the file or the environment is refused before any value is used, in
    one line naming the file and line or the variable, the rule and the fix.
    """
    env = os.environ if environ is None else environ
    stage = stage or env.get(stage_schema.STAGE_VARIABLE) or "dev"
    names = available(folder)
    if stage not in names:
        raise ValueError(
            f"stage {stage!r}: not one of {', '.join(names)}; set {stage_schema.STAGE_VARIABLE} "
            "or --stage to one of them (a new stage needs its own stages/<stage>.toml)"
        )
    path = folder / f"{stage}.toml"
    raw, text = _read(path)
    overrides, env_found = stage_schema.environment_problems(env)
    stage_schema.raise_first(stage_schema.file_problems(raw, path, text) + env_found)
    values: dict[str, Any] = {}
    for key in stage_schema.KEYS:
        table = raw.get(key.section, {}) if key.section else raw
        if key.path in overrides:
            values[key.path] = overrides[key.path]
        elif key.name in table:
            values[key.path] = table[key.name]
        elif key.default is not stage_schema.DERIVED:
            values[key.path] = key.default
    for key in stage_schema.KEYS:  # derived defaults see every value set above
        if key.path not in values:
            values[key.path] = _derived(key.name, stage, values, env)
    timeout = env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", "").strip()
    if timeout:  # SageMaker's own variable wins on an endpoint (checked above)
        values["server.timeout_seconds"] = float(timeout)
    return _build(stage, path, values)


def _build(stage: str, path: Path, values: Mapping[str, Any]) -> Settings:
    def typed(key: str, value: Any) -> Any:
        kind = stage_schema.BY_PATH[key].kind
        if kind is list:
            return tuple(str(item) for item in value)
        return kind(value)

    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    top: dict[str, Any] = {}
    for key, value in values.items():
        section, _, name = key.rpartition(".")
        (sections[section] if section else top)[name] = typed(key, value)
    return Settings(
        stage=stage,
        path=path,
        **top,
        **{name: cls(**sections[name]) for name, cls in _SECTIONS.items()},
    )


def project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` (default: cwd) with a pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here
