"""Condition steps: evaluate the conditions; the outcome picks the branch that runs."""

from __future__ import annotations

from ..expressions import evaluate_conditions
from ..plan import StepPlan
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded


class ConditionRunner(InlineRunner):
    """All conditions must hold for the If branch; otherwise the Else branch runs."""

    def run(self, step: StepPlan) -> StepOutcome:
        """Evaluate the step's conditions against the properties so far."""
        conditions = list(step.arguments.get("Conditions") or [])
        outcome = evaluate_conditions(conditions, self.session.context())
        return succeeded({"Outcome": "True" if outcome else "False"}, branch=outcome)
