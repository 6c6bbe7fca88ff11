"""QualityCheck steps: the monitor's analyzer against a baseline (see ``..quality_check``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..quality_check import run_quality_check
from ..session import RunSession
from .checks import CheckRunner


class QualityCheckRunner(CheckRunner):
    """Runs the check in-process; violations and missing baselines fail the step.

    Cached and threaded as :class:`~.checks.CheckRunner` describes.
    """

    supplied_baselines = ("SuppliedBaselineStatistics", "SuppliedBaselineConstraints")
    engine_packages = ("monitor", "local/quality_check.py")

    def check(self, session: RunSession, name: str, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """Model Monitor's data or model quality job on the step's dataset."""
        return run_quality_check(session, name, resolved)
