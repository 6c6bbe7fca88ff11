"""What every runner shares: the session it runs in and, for inline steps, the error policy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ..expressions import ExpressionError
from ..plan import StepPlan
from ..scheduler import StepOutcome, Work
from ..session import RunSession
from ..states import StepState

# What a step's own mistake raises (a bad expression, a missing file, a wrong value):
# it fails the step. Anything else is an executor bug and ends the execution.
STEP_ERRORS = (ExpressionError, OSError, ValueError, KeyError, TypeError)


def succeeded(properties: Mapping[str, Any], **fields: Any) -> StepOutcome:
    """A successful outcome with these properties."""
    return StepOutcome(StepState.SUCCEEDED, dict(properties), **fields)


def failed(reason: str, **fields: Any) -> StepOutcome:
    """A failed outcome with this (one-line) reason."""
    return StepOutcome(StepState.FAILED, failure_reason=reason, **fields)


class BaseRunner(ABC):
    """Runs the steps of one type in one execution (the scheduler's ``StepRunner``)."""

    #: True: the step takes one of the execution's worker slots and runs on a thread.
    concurrent = False

    def __init__(self, session: RunSession) -> None:
        self.session = session

    @abstractmethod
    def prepare(self, step: StepPlan) -> Work:
        """The work of ``step``; called on the scheduler's thread when it starts."""


class InlineRunner(BaseRunner):
    """A quick step run on the scheduler's thread; its own mistakes fail the step."""

    def prepare(self, step: StepPlan) -> Work:
        """Run :meth:`run` when called, turning the step's own errors into a failure."""
        return Work(lambda: self._guarded(step))

    @abstractmethod
    def run(self, step: StepPlan) -> StepOutcome:
        """Do the step (its arguments are resolved here, once its inputs exist)."""

    def _guarded(self, step: StepPlan) -> StepOutcome:
        try:
            return self.run(step)
        except STEP_ERRORS as exc:
            return failed(" ".join(str(exc).split()) or type(exc).__name__)
