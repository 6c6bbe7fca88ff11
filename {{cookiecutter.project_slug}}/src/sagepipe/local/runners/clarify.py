"""ClarifyCheck steps: bias and explainability against a baseline (see ``..clarify_check``)."""

from __future__ import annotations

from ..clarify_check import run_clarify_check
from ..expressions import resolve
from ..plan import StepPlan
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded


class ClarifyCheckRunner(InlineRunner):
    """Runs Clarify's analysis in-process; violations and missing baselines fail the step."""

    def run(self, step: StepPlan) -> StepOutcome:
        """The step's settings sit beside its Arguments, so the whole step is resolved."""
        resolved = resolve(step.raw, self.session.context())
        return succeeded(run_clarify_check(self.session, step.name, resolved))
