"""End to end in a baked project: plan, apply, the generated tests, verify on the executor.

Slow (about two minutes here): a real bake, the generated project's own pytest in a
subprocess, the notebook in a kernel and the compiled pipeline on the local executor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES

pytestmark = pytest.mark.slow

MIGRATE = "from sagepipe.migrate.cli import migrate; migrate()"


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "GX_ANALYTICS_ENABLED": "false"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_messy_notebook_becomes_a_pipeline_that_runs_locally(bake_project) -> None:
    project = bake_project()
    shutil.copy(FIXTURES / "churn_messy.ipynb", project / "notebooks" / "churn_messy.ipynb")
    shutil.copytree(FIXTURES / "data", project / "notebooks" / "data")

    planned = run(project, "-c", MIGRATE, "plan", "notebooks/churn_messy.ipynb")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == str(project / "migrations" / "churn_messy.yaml")

    applied = run(project, "-c", MIGRATE, "apply", "migrations/churn_messy.yaml")
    assert applied.returncode == 0, applied.stderr
    assert "wrote: src/churn_model/pipeline_churn_messy.py" in applied.stdout

    tests = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/migrated")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    verified = run(
        project,
        "-c",
        MIGRATE,
        "verify",
        "migrations/churn_messy.yaml",
        "--runner",
        "local",
        "--timeout",
        "300",
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified: the pipeline (local) reproduces the notebook" in verified.stdout
    assert "metric auc" in verified.stdout
