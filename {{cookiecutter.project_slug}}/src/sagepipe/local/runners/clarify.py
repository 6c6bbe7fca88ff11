"""ClarifyCheck steps: bias and explainability against a baseline (see ``..clarify_check``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..clarify_check import run_clarify_check
from ..session import RunSession
from .checks import CheckRunner


class ClarifyCheckRunner(CheckRunner):
    """Runs Clarify's analysis as a job; violations and missing baselines fail the step.

    Cached and threaded as :class:`~.checks.CheckRunner` describes.
    """

    supplied_baselines = ("SuppliedBaselineConstraints",)
    engine_packages = ("clarify", "local/clarify_check.py", "local/clarify_job.py")

    def check(self, session: RunSession, name: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """Clarify's bias or SHAP analysis of the step's dataset (and model)."""
        return run_clarify_check(session, name, resolved)
