"""The backend interfaces the CLI codes against, and the one place a backend is chosen.

Each has two implementations: local (the embedded default, in ``sagepipe.local`` /
``sagepipe.registry``) and SageMaker (``sagepipe.sagemaker``, boto3). Choosing
``local`` never imports anything from ``sagepipe.sagemaker`` or boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .registry import ModelPackage
    from .sagemaker.runner import AwsTarget

TARGETS = ("local", "sagemaker")
LOCAL, SAGEMAKER = TARGETS


class Registry(Protocol):
    """Model package groups and versions (local SQLite or the SageMaker Model Registry)."""

    def list_groups(self) -> list[str]: ...

    def list_model_packages(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]: ...

    def describe(self, group: str, version: int | str = "latest") -> ModelPackage: ...

    def latest_approved(self, group: str) -> ModelPackage | None: ...

    def update_approval_status(
        self, group: str, version: int | str, status: str, *, reason: str = ""
    ) -> ModelPackage: ...


class RunRecord(Protocol):
    """One pipeline execution as the history shows it."""

    id: str
    pipeline_name: str
    status: str
    started: str | None
    failure_reason: str | None

    def to_dict(self) -> dict[str, Any]: ...


class RunHistory(Protocol):
    """Executions (of the named pipelines, if given), newest first; one with its steps."""

    def list_executions(
        self, limit: int | None = None, pipelines: Sequence[str] | None = None
    ) -> list[Any]: ...

    def get_execution(self, execution_id: str) -> Any | None: ...


AwsTargetFactory = Callable[[], "AwsTarget"]


def _need_aws(aws_target: AwsTargetFactory | None) -> AwsTarget:
    if aws_target is None:
        raise ValueError(
            "--target sagemaker needs a project (bucket, role, region in its settings); "
            "run it through the project's CLI"
        )
    return aws_target()


def open_registry(
    target: str, workspace: Path, aws_target: AwsTargetFactory | None = None
) -> Registry:
    """The registry of ``target``: the workspace's SQLite file, or SageMaker's."""
    if target == SAGEMAKER:
        from .sagemaker.registry import SageMakerRegistry

        aws = _need_aws(aws_target)
        return SageMakerRegistry(aws.session().sagemaker, echo=_stderr)
    from .registry import ModelRegistry

    return ModelRegistry.for_workspace(workspace)


def open_history(
    target: str, workspace: Path, aws_target: AwsTargetFactory | None = None
) -> RunHistory:
    """The run history of ``target``: ``runs.db``, or the pipeline's executions on AWS."""
    if target == SAGEMAKER:
        from .sagemaker.pipelines import SageMakerHistory

        aws = _need_aws(aws_target)
        return SageMakerHistory(aws.session().sagemaker, aws.pipeline_name)
    from .local.history import RunHistory as LocalHistory

    return LocalHistory(workspace / "runs.db")


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)
