"""QualityCheck steps: the monitor's analyzer against a baseline (see ``..quality_check``)."""

from __future__ import annotations

from ..expressions import resolve
from ..plan import StepPlan
from ..quality_check import run_quality_check
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded


class QualityCheckRunner(InlineRunner):
    """Runs the check in-process; violations and missing baselines fail the step."""

    def run(self, step: StepPlan) -> StepOutcome:
        """The step's settings sit beside its Arguments, so the whole step is resolved."""
        resolved = resolve(step.raw, self.session.context())
        return succeeded(run_quality_check(self.session, step.name, resolved))
