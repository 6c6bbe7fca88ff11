"""Log a finished pipeline execution as one MLflow run (optional: the ``mlflow`` extra).

Off unless the stage turns it on. When on, ``run`` checks before it starts that the MLflow
client is installed (so a long run never ends in a missing package), and after the
execution ends it writes one MLflow run: the pipeline parameters as params, each step's
reported metrics as ``<step>/<metric>`` (and ``<step>/duration_seconds``), and tags that
link the run to the execution id, git commit, data and code digests, engine version and
the registered model version (group, version, model package ARN).

``mlflow`` is imported only inside :func:`log_execution`: the pipeline's jobs never import
this module, and no command imports MLflow while logging is off (importing it costs
seconds; docs/monitoring.md has the figures).

Tracking URIs: empty means a sqlite store in the workspace (``<workspace>/mlflow/mlflow.db``,
artifacts beside it), which ``mlflow ui --backend-store-uri sqlite:///...`` shows (the UI
needs the full ``mlflow`` package); a SageMaker managed MLflow tracking server is named by
its ARN, which the ``sagemaker-mlflow`` plugin resolves and signs requests for.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ._version import __version__

# The modules the extra installs: mlflow-skinny's client, and SQLAlchemy + Alembic for the
# sqlite store (mlflow-skinny leaves them out; without them it refuses sqlite:// URIs).
CLIENT_MODULES = ("mlflow",)
SQLITE_MODULES = ("sqlalchemy", "alembic")
ARN_MODULES = ("sagemaker_mlflow",)
TAG = "sagepipe."
# MLflow's own tag: its UI shows the commit in the run's "Source" column.
MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"
EXTRA_HINT = "pip install -e '.[mlflow]' in the project"
_STATUS = {"Succeeded": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}


class MlflowUnavailable(RuntimeError):
    """MLflow logging is on but what it needs is not installed (one line: what to install)."""


@dataclass(frozen=True)
class MlflowTarget:
    """Where runs go: a tracking URI (``""``: the workspace's sqlite store) and experiment."""

    tracking_uri: str = ""
    experiment: str = ""  # "": the pipeline's name

    def resolved_uri(self, workspace: Path) -> str:
        """The tracking URI, the workspace's sqlite store when none is set."""
        return self.tracking_uri or local_store_uri(workspace)


def local_store_uri(workspace: Path) -> str:
    """``sqlite:///<workspace>/mlflow/mlflow.db`` (an absolute path: four slashes)."""
    return f"sqlite:///{(workspace / 'mlflow' / 'mlflow.db').resolve()}"


def check_installed(target: MlflowTarget, extra_hint: str = EXTRA_HINT) -> None:
    """Raise :class:`MlflowUnavailable` if the URI's client is missing; imports nothing."""
    wanted = list(CLIENT_MODULES)
    if not target.tracking_uri or target.tracking_uri.startswith("sqlite:"):
        wanted += SQLITE_MODULES
    if target.tracking_uri.startswith("arn:"):
        wanted += ARN_MODULES
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if not missing:
        return
    if missing == list(ARN_MODULES):
        raise MlflowUnavailable(
            f"mlflow.tracking_uri {target.tracking_uri} is a SageMaker ARN, which needs the "
            "sagemaker-mlflow plugin: pip install sagemaker-mlflow (or set mlflow.enabled = "
            "false)"
        )
    raise MlflowUnavailable(
        f"mlflow.enabled is true but {', '.join(missing)} not installed: install the "
        f"mlflow extra ({extra_hint}) or set mlflow.enabled = false (MLOPS_MLFLOW_ENABLED)"
    )


@dataclass(frozen=True)
class RunRecord:
    """What one execution becomes in MLflow, before any MLflow call."""

    name: str
    status: str  # MLflow's: FINISHED, FAILED or KILLED
    start_ms: int | None
    end_ms: int | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def _millis(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def run_record(
    execution: Any,
    *,
    step_metrics: Mapping[str, tuple[str, float]],
    digests: Mapping[str, str | None],
    git: tuple[str | None, bool | None],
    packages: list[tuple[Any, bool]],
) -> RunRecord:
    """The MLflow run of ``execution`` (a ``sagepipe.local.Execution``).

    ``step_metrics`` maps metric -> (step, value) as ``runs.db`` keeps them; ``digests``
    has ``data`` and ``code``; ``git`` is (commit, dirty); ``packages`` are the model
    versions the execution registered (``True``) or found already registered (``False``).
    """
    metrics = {f"{step}/{name}": value for name, (step, value) in step_metrics.items()}
    for name, step in execution.steps.items():
        if step.duration_seconds is not None and not step.cache_hit:
            metrics[f"{name}/duration_seconds"] = float(step.duration_seconds)
    commit, dirty = git
    tags = {
        TAG + "execution_id": execution.id,
        TAG + "pipeline_name": execution.pipeline_name,
        TAG + "status": str(execution.status),
        TAG + "version": __version__,
        TAG + "cached_steps": ",".join(n for n, s in execution.steps.items() if s.cache_hit),
    }
    if commit:
        tags[TAG + "git_commit"] = commit
        tags[MLFLOW_GIT_COMMIT] = commit
        tags[TAG + "git_dirty"] = str(bool(dirty)).lower()
    for kind in ("data", "code"):
        if digests.get(kind):
            tags[f"{TAG}{kind}_digest"] = str(digests[kind])
    if execution.failure_reason:
        tags[TAG + "failure_reason"] = str(execution.failure_reason)[:5000]
    if packages:
        package, created = packages[0]
        tags[TAG + "model_package_group"] = package.group
        tags[TAG + "model_version"] = str(package.version)
        tags[TAG + "model_package_arn"] = package.arn
        tags[TAG + "model_version_new"] = str(created).lower()
        tags[TAG + "model_approval_status"] = package.approval_status
        # Every version when a pipeline registers in more than one group.
        tags[TAG + "registered"] = ",".join(f"{p.group}/{p.version}" for p, _ in packages)
    return RunRecord(
        name=execution.id,
        status=_STATUS.get(str(execution.status), "FAILED"),
        start_ms=_millis(execution.started),
        end_ms=_millis(execution.ended),
        params={str(k): str(v) for k, v in sorted(execution.parameters.items())},
        metrics=metrics,
        tags=tags,
    )


def record_of(execution: Any, workspace: Path) -> RunRecord:
    """Gather what the run records from the workspace (run history, registry, git)."""
    from .local.run_metrics import RunMetrics
    from .registry.lineage import git_state
    from .registry.store import ModelRegistry

    store = RunMetrics(workspace / "runs.db")
    try:
        step_metrics = store.get_with_steps(execution.id)
    finally:
        store.close()
    packages: list[tuple[Any, bool]] = []
    wanted = [(*ref, True) for ref in execution.registered]
    wanted += [(*ref, False) for ref in execution.already_registered]
    if wanted:
        registry = ModelRegistry.for_workspace(workspace)
        packages = [(registry.describe(group, version), new) for group, version, new in wanted]
    return run_record(
        execution,
        step_metrics=step_metrics,
        digests=dict(execution.input_digests),
        git=git_state(workspace.resolve().parent),
        packages=packages,
    )


def remote_record(
    execution: Any,
    *,
    reports: list[tuple[str, Any]],
    definition_sha256: str,
    git: tuple[str | None, bool | None],
    packages: list[tuple[Any, bool]],
) -> RunRecord:
    """The MLflow run of a SageMaker execution (a ``sagemaker.pipelines.RemoteExecution``).

    ``reports`` are ``(step, parsed report)`` from ``sagemaker.reports.step_reports``,
    flattened as a local run's are; ``git`` is the state of the checkout that published
    the definition, whose sha256 is tagged instead of a local run's code digest.
    """
    from .local.run_metrics import flatten

    step_metrics: dict[str, tuple[str, float]] = {}
    for step, document in reports:
        for metric, value in flatten(document).items():
            step_metrics.setdefault(metric, (step, value))  # the first step's, as runs.db
    record = run_record(
        execution,
        step_metrics=step_metrics,
        digests={},
        git=git,
        packages=packages,
    )
    record.tags[TAG + "target"] = "sagemaker"
    record.tags[TAG + "definition_sha256"] = definition_sha256
    # The ARN stays in the execution_id tag; the run is named by its id, as on the console.
    return replace(record, name=str(execution.id).rsplit("/", 1)[-1])


def log_remote_execution(
    execution: Any,
    *,
    session: Any,
    definition: bytes,
    source_root: Path | None,
    workspace: Path,
    target: MlflowTarget,
    warn: Callable[[str], None],
) -> str:
    """Write a finished SageMaker execution as one MLflow run and return the run's id.

    Its metrics are the reports its steps wrote to S3; the model versions it registered
    are described from SageMaker's registry (``session``: a ``sagemaker.session.AwsSession``).
    """
    from .registry.lineage import git_state
    from .sagemaker.registry import SageMakerRegistry
    from .sagemaker.reports import step_reports

    registry = SageMakerRegistry(session.sagemaker)
    packages = [
        (registry.describe(group, version), True) for group, version in execution.registered
    ]
    record = remote_record(
        execution,
        reports=step_reports(session, definition, execution, warn),
        definition_sha256=hashlib.sha256(definition).hexdigest(),
        git=git_state(source_root) if source_root is not None else (None, None),
        packages=packages,
    )
    return write_run(record, execution.pipeline_name, workspace, target)


def log_execution(execution: Any, workspace: Path, target: MlflowTarget) -> str:
    """Write a local ``execution`` as one MLflow run and return the run's id."""
    return write_run(record_of(execution, workspace), execution.pipeline_name, workspace, target)


def write_run(record: RunRecord, pipeline_name: str, workspace: Path, target: MlflowTarget) -> str:
    """Write ``record`` to ``target`` (experiment: the target's, else ``pipeline_name``)."""
    import logging

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    # MLflow logs each sqlite schema migration at INFO; the run's summary is what matters.
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    uri = target.resolved_uri(workspace)
    if not target.tracking_uri:
        (workspace / "mlflow").mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = target.experiment or pipeline_name
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        # The local store keeps artifacts in the workspace too, never in the current folder.
        location = None if target.tracking_uri else (workspace / "mlflow" / "artifacts").as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    run = client.create_run(
        experiment_id, start_time=record.start_ms, tags=record.tags, run_name=record.name
    )
    run_id = str(run.info.run_id)
    stamp = record.end_ms or record.start_ms or 0
    metrics = [Metric(k, v, stamp, 0) for k, v in sorted(record.metrics.items())]
    params = [Param(k, v) for k, v in record.params.items()]
    # MLflow takes at most 100 params and 1000 metrics per batch.
    for start in range(0, max(len(metrics), len(params)), 100):
        client.log_batch(
            run_id, metrics=metrics[start : start + 100], params=params[start : start + 100]
        )
    client.set_terminated(run_id, status=record.status, end_time=record.end_ms)
    return run_id
