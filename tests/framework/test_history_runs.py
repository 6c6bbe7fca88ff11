"""Run history: executions, parameters, per-step status, cache hits, logs, abandoned runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _local_scripts import staged_workspace
from sagepipe.local import execute
from sagepipe.local.history import RunHistory

FRAMEWORK_SRC = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"


def test_every_execution_is_recorded_with_parameters_steps_and_cache_hits(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    first = execute(definition, workspace=workspace, pipeline_name="demo")
    second = execute(
        definition,
        workspace=workspace,
        parameters={"AccuracyThreshold": "0.99"},
        pipeline_name="demo",
    )

    newest, oldest = RunHistory(workspace / "runs.db").list_executions()

    assert (newest.id, oldest.id) == (second.id, first.id)
    assert oldest.status == "Succeeded" and newest.status == "Failed"
    assert newest.parameters["AccuracyThreshold"] == 0.99
    assert oldest.parameters["AccuracyThreshold"] == 0.8
    assert newest.failure_reason == "step AccuracyTooLow (Fail): accuracy below threshold"
    steps = {s.name: s for s in newest.steps}
    assert steps["Preprocess"].cache_hit and not oldest.steps[0].cache_hit
    assert steps["Evaluate"].status == "Succeeded"
    assert steps["Evaluate"].duration_seconds >= 0
    assert steps["Evaluate"].started <= steps["Evaluate"].ended
    assert Path(steps["Evaluate"].log_path).is_file()
    assert steps["Register-RegisterModel"].status == "NotExecuted"
    assert steps["AccuracyTooLow"].failure_reason == "accuracy below threshold"
    assert newest.to_dict()["Steps"][0]["Name"] == "Preprocess"


ABANDON = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from sagepipe.local.history import RunHistory
h = RunHistory(sys.argv[2])
h.start_execution("exec-x", pipeline_name="p", parameters={}, definition_sha256="0",
                  started="2026-01-01T00:00:00+00:00", steps=[("A", "Processing")])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_executions_of_a_killed_process_are_marked_stopped_by_the_next_run(tmp_path):
    db = tmp_path / "runs.db"
    killed = subprocess.run([sys.executable, "-c", ABANDON, str(FRAMEWORK_SRC), str(db)])
    assert killed.returncode == -9
    history = RunHistory(db)
    assert history.get_execution("exec-x").status == "Executing"

    assert history.mark_abandoned("2026-01-01T00:01:00+00:00") == ["exec-x"]

    record = history.get_execution("exec-x")
    assert record.status == "Stopped"
    assert record.steps[0].status == "NotExecuted"
    assert "ended without finishing" in record.failure_reason
