"""What one local execution is and reports: :class:`Execution` and progress :class:`Event`."""

from __future__ import annotations

import datetime as _dt
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .history import StepRun
from .states import ExecutionState

LOCAL_ARN = "arn:aws:sagemaker:local:000000000000"
# Where Model (CreateModel) steps record the models they create, under the workspace.
# sagepipe 0.5.0 and earlier wrote them to models/, beside unpacked registered models,
# where a fresh registry took them for a lost registry.db; Session.model reads both.
CREATED_MODELS = "created-models"
LEGACY_CREATED_MODELS = "models"


def now() -> str:
    """The current UTC time as the history stores it (ISO 8601, milliseconds)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_execution_id() -> str:
    """A sortable, recognisable execution id: ``exec-YYYYMMDD-HHMMSS-xxxxxx``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"exec-{stamp}-{secrets.token_hex(3)}"


@dataclass
class Execution:
    """The outcome of :func:`~sagepipe.local.executor.execute` (also in the run history)."""

    id: str
    pipeline_name: str
    status: ExecutionState
    parameters: dict[str, Any]
    started: str
    workspace: Path
    steps: dict[str, StepRun] = field(default_factory=dict)
    ended: str | None = None
    failure_reason: str | None = None
    registered: list[tuple[str, int]] = field(default_factory=list)
    # Versions a RegisterModel step found already holding the same artifact (same sha256).
    already_registered: list[tuple[str, int]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)  # from the steps' property files
    # One digest over the data inputs, one over the code inputs of the steps that ran,
    # computed as a registered version's lineage computes them.
    input_digests: dict[str, str | None] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """True when every executed step succeeded."""
        return self.status == ExecutionState.SUCCEEDED

    @property
    def log_dir(self) -> Path:
        """The folder with one sub-folder (sandbox + job.log) per job."""
        return self.workspace / "executions" / self.id

    @property
    def variables(self) -> dict[str, str]:
        """The ``Execution.*`` values expressions can read (``CurrentDateTime`` is now)."""
        return {
            "PipelineExecutionId": self.id,
            "PipelineExecutionArn": (
                f"{LOCAL_ARN}:pipeline/{self.pipeline_name}/execution/{self.id}"
            ),
            "PipelineName": self.pipeline_name,
            "PipelineArn": f"{LOCAL_ARN}:pipeline/{self.pipeline_name}",
            "StartDateTime": self.started,
            "CurrentDateTime": now(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "PipelineExecutionId": self.id,
            "PipelineName": self.pipeline_name,
            "Status": self.status,
            "Parameters": self.parameters,
            "Started": self.started,
            "Ended": self.ended,
            "FailureReason": self.failure_reason,
            "Registered": [{"Group": g, "Version": v} for g, v in self.registered],
            "AlreadyRegistered": [{"Group": g, "Version": v} for g, v in self.already_registered],
            "Metrics": self.metrics,
            "Steps": [s.to_dict() for s in self.steps.values()],
        }


@dataclass(frozen=True)
class Event:
    """A progress notification: ``kind`` is ``"execution"`` or ``"step"``."""

    kind: str
    execution: Execution
    step: StepRun | None = None
