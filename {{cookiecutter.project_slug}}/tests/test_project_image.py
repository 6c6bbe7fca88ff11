"""The project image's environment: the local jobs ran with exactly requirements.lock.

The Dockerfile installs requirements.lock and nothing else, so a job that ran locally
with the lock's versions on the Dockerfile's Python ran with what the image holds.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }} import settings

from sagepipe.runtimes import lock as lockfile

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JOB_STEPS = ("Preprocess", "DataQuality", "Train", "Evaluate")


def _runtimes(workspace: Path, execution_id: str) -> dict[str, dict[str, Any]]:
    # Only the warm run's own jobs: other tests share the workspace and add runs of theirs.
    with sqlite3.connect(workspace / "runs.db") as conn:
        rows = conn.execute(
            "SELECT name, properties FROM step_runs WHERE execution_id = ?", (execution_id,)
        ).fetchall()
    return {name: json.loads(props)["Runtime"] for name, props in rows if name in JOB_STEPS}


def test_dockerfile_builds_on_the_python_the_settings_name() -> None:
    first = (PROJECT_ROOT / "Dockerfile").read_text().split("\nFROM ", 1)[1].split()[0]
    assert first == f"python:{settings.PYTHON_VERSION}-slim"


def test_every_job_ran_on_the_project_image_with_the_locks_versions(
    warm_workspace: dict[str, Any],
) -> None:
    image = settings.load("dev", environ={}).image_uri
    pins = lockfile.pins_for(
        lockfile.read_lock(PROJECT_ROOT / settings.LOCK_FILE), settings.PYTHON_VERSION
    )
    locked = dict(pin.split("==") for pin in pins)
    records = _runtimes(
        warm_workspace["workspace"], warm_workspace["execution"]["PipelineExecutionId"]
    )
    assert set(records) == set(JOB_STEPS)
    for name, record in records.items():
        assert record["Image"] == image, name
        assert record["Runtime"] == "project"
        assert re.fullmatch(re.escape(settings.PYTHON_VERSION) + r"\.\d+", record["Python"])
        assert record["Packages"], name
        for package, version in record["Packages"].items():
            assert locked[package] == version, (name, package)
