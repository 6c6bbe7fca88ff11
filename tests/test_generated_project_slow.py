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

import pythons
from baking import DEFAULTS, Baker

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
# What the generated CI runs; the default project also runs the pre-commit stand-ins.
SESSIONS = ("lint", "typecheck", "tests")
EXTRA_DEFAULT_SESSIONS = ("notebooks", "secrets")
RUNS = [(case, session) for case in sorted(CASES) for session in SESSIONS] + [
    ("default", session) for session in EXTRA_DEFAULT_SESSIONS
]
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def case_python(case: str) -> str:
    """The python_version answer a case bakes with."""
    return str(CASES[case].get("python_version") or DEFAULTS["python_version"][0])


def usable_cases() -> set[str]:
    """Cases whose Python this machine has; with none, the default runs on this Python."""
    usable = set(pythons.usable_from_environment())
    cases = {case for case in CASES if case_python(case) in usable}
    if not cases:
        # A machine with only another supported Python still bakes and checks a project.
        CASES["default"] = {**CASES["default"], "python_version": RUNNING_PYTHON}
        cases = {"default"}
    return cases


_usable: set[str] = set()

_baked: dict[str, Path] = {}


def baked(case: str, bake_project: Baker) -> Path:
    """The project baked for a case, once per test process and shared by its sessions."""
    if case not in _baked:
        _baked[case] = bake_project(**CASES[case])
    return _baked[case]


def nox_environment() -> dict[str, str]:
    """The environment generated nox runs in: offline uv, no GX analytics."""
    env = dict(os.environ)
    # The root noxfile already fetched what it could (tests/pythons.py): never again per run.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["GX_ANALYTICS_ENABLED"] = "false"
    # The template's own pytest settings must not leak into the generated project's run.
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTHONPATH", None)
    return env


# The second combination runs its project's fast tests only: the default bake already runs
# the whole suite, and CI's time budget is shared by everything.
POSARGS = {("gitlab-py3.12", "tests"): ["--", "-m", "not slow"]}


@pytest.mark.parametrize(("case", "session"), RUNS, ids=[f"{c}-{s}" for c, s in RUNS])
def test_generated_project_nox_session_passes(case: str, session: str, bake_project: Baker) -> None:
    if not _usable:
        _usable.update(usable_cases())
    if case not in _usable:
        pytest.skip(f"Python {case_python(case)} is not available here (see the nox log line)")
    project = baked(case, bake_project)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "nox", "--non-interactive", "-s", session),
            *POSARGS.get((case, session), []),
        ],
        cwd=project,
        env=nox_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, f"nox -s {session} failed in {project}:\n{tail}"
