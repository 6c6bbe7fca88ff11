"""Slow tier: bake projects and run their own nox sessions, exactly as their CI would.

Each case builds real environments with uv (offline-capable from uv's cache), so this tier
takes minutes, not seconds; `nox -s tests` runs it, `-m "not slow"` skips it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from baking import Baker

pytestmark = pytest.mark.slow

CASES = {
    "default": {},
    "gitlab-py3.12": {
        "project_name": "Fraud Detector",
        "package_name": "fraud_detector",
        "ci_provider": "gitlab",
        "python_version": "3.12",
        "license": "Apache-2.0",
    },
}
SESSIONS = ("lint", "typecheck", "tests")


@pytest.fixture(scope="module", params=sorted(CASES))
def baked(request: pytest.FixtureRequest, bake_project: Baker) -> Path:
    """A baked project per case, shared by its sessions."""
    return bake_project(**CASES[request.param])


def nox_environment() -> dict[str, str]:
    """The environment generated nox runs in: offline uv, no GX analytics."""
    env = dict(os.environ)
    # Never let uv fetch an interpreter: the machine must already have the chosen Python.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["GX_ANALYTICS_ENABLED"] = "false"
    # The template's own pytest settings must not leak into the generated project's run.
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.parametrize("session", SESSIONS)
def test_generated_project_nox_session_passes(baked: Path, session: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--non-interactive", "-s", session],
        cwd=baked,
        env=nox_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, f"nox -s {session} failed in {baked}:\n{tail}"
