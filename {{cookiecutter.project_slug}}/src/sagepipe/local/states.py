"""The states of steps and executions, with the exact strings the run history stores.

Both enums are ``str`` subclasses so that a member *is* its SageMaker status string:
it compares equal to the text read back from ``runs.db``, is written to SQLite and to
``--json`` output unchanged, and formats as the bare value.
"""

from __future__ import annotations

from enum import Enum


class StepState(str, Enum):
    """A step's status (SageMaker's ``StepStatus`` values that occur locally)."""

    PENDING = "Pending"
    # Never written by this executor; recognised when an abandoned run is cleaned up.
    STARTING = "Starting"
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    NOT_EXECUTED = "NotExecuted"

    def __str__(self) -> str:
        return str(self.value)

    @property
    def terminal(self) -> bool:
        """True when the step will not change any more."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {StepState.SUCCEEDED, StepState.FAILED, StepState.STOPPED, StepState.NOT_EXECUTED}
)


class ExecutionState(str, Enum):
    """An execution's status (SageMaker's ``PipelineExecutionStatus`` values used here)."""

    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"

    def __str__(self) -> str:
        return str(self.value)


def is_terminal(status: str) -> bool:
    """True for a final step status, given as a member or as the stored text."""
    return status in _TERMINAL
