"""Fail steps: end the execution as Failed with the step's (resolved) message."""

from __future__ import annotations

from ..expressions import resolve, to_text
from ..plan import StepPlan
from ..scheduler import StepOutcome
from .base import InlineRunner, failed


class FailRunner(InlineRunner):
    """Always fails; the execution's reason names the step and its ErrorMessage."""

    def run(self, step: StepPlan) -> StepOutcome:
        """Resolve ``ErrorMessage`` and fail with it."""
        message = to_text(resolve(step.arguments.get("ErrorMessage", ""), self.session.context()))
        return failed(message, failure_summary=f"step {step.name} (Fail): {message}")
