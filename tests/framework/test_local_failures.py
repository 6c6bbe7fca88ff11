"""Failure semantics: failing steps, Ctrl-C/SIGTERM, and SIGKILL of the whole run."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _local_scripts import staged_workspace
from sagepipe.local import execute
from sagepipe.local.history import RunHistory
from sagepipe.registry import ModelRegistry

FRAMEWORK_SRC = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        # Processing: the container's /opt/ml/output/message
        ("Preprocess", "preprocess refused: FAIL_STEP is set"),
        # Training: the first line of /opt/ml/output/failure
        ("Train", "training diverged: loss is nan"),
        # no failure file: the end of the job's log
        ("Evaluate", "RuntimeError: evaluation exploded (exit code 1)"),
    ],
)
def test_failing_step_fails_the_execution_with_its_name_and_reason(
    tmp_path, monkeypatch, step, reason
):
    definition, workspace = staged_workspace(tmp_path, "v2")
    monkeypatch.setenv("FAIL_STEP", step)

    execution = execute(definition, workspace=workspace)

    assert execution.status == "Failed"
    assert execution.failure_reason == f"step {step} failed: {reason}"
    order = ["Preprocess", "Train", "Evaluate", "CheckAccuracy", "Register-RegisterModel"]
    downstream = order[order.index(step) + 1 :]
    assert all(execution.steps[name].status == "NotExecuted" for name in downstream)
    assert ModelRegistry.for_workspace(workspace).list_model_packages() == []
    record = RunHistory(workspace / "runs.db").get_execution(execution.id)
    assert record.status == "Failed"
    assert {s.name: s.failure_reason for s in record.steps}[step] == reason


def test_missing_code_object_fails_with_the_uri_and_where_it_was_looked_for(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    submit = json.loads(
        definition["Steps"][1]["Arguments"]["HyperParameters"]["sagemaker_submit_directory"]
    )
    (workspace / "s3" / submit[len("s3://") :]).unlink()

    execution = execute(definition, workspace=workspace)

    assert execution.status == "Failed"
    assert execution.failure_reason.startswith(
        f"step Train failed: step Train: sagemaker_submit_directory {submit} does not exist"
    )
    assert execution.steps["Preprocess"].status == "Succeeded"


def _start_run(workspace: Path, definition_path: Path, extra_env: dict[str, str]):
    env = dict(os.environ, PYTHONPATH=str(FRAMEWORK_SRC), **extra_env)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sagepipe",
            "run",
            str(definition_path),
            "--workspace",
            str(workspace),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for(predicate, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of someone else still answers kill(0); check its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _staged_run(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return workspace, path, tmp_path / "train.pid"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_stops_running_jobs_and_marks_the_execution_stopped(tmp_path, sig):
    workspace, path, pid_file = _staged_run(tmp_path)
    run = _start_run(workspace, path, {"TRAIN_SLEEP": "120", "PID_FILE": str(pid_file)})
    _wait_for(pid_file.exists, "the training job to start")
    job_pid = int(pid_file.read_text())

    run.send_signal(sig)
    _out, err = run.communicate(timeout=60)

    assert run.returncode == 130, err.decode()
    _wait_for(lambda: not _alive(job_pid), "the training job to end")
    (record,) = RunHistory(workspace / "runs.db").list_executions()
    assert record.status == "Stopped"
    steps = {s.name: s.status for s in record.steps}
    assert steps["Preprocess"] == "Succeeded"
    assert steps["Train"] == "Stopped"
    assert steps["Evaluate"] == steps["Register-RegisterModel"] == "NotExecuted"
    assert ModelRegistry.for_workspace(workspace).list_model_packages() == []


def test_after_sigkill_of_the_whole_run_state_is_consistent_and_completed_steps_are_reused(
    tmp_path,
):
    workspace, path, pid_file = _staged_run(tmp_path)
    run = _start_run(workspace, path, {"TRAIN_SLEEP": "120", "PID_FILE": str(pid_file)})
    _wait_for(pid_file.exists, "the training job to start")
    job_pid = int(pid_file.read_text())

    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)

    # the job dies with its executor instead of running on as an orphan
    _wait_for(lambda: not _alive(job_pid), "the orphaned training job to end")
    assert ModelRegistry.for_workspace(workspace).list_model_packages() == []

    definition = json.loads(path.read_text())
    again = execute(definition, workspace=workspace)

    assert again.status == "Succeeded", again.failure_reason
    assert again.steps["Preprocess"].cache_hit  # completed before the kill: reused
    assert not again.steps["Train"].cache_hit  # killed mid-way: no cache entry was written
    packages = ModelRegistry.for_workspace(workspace).list_model_packages()
    assert [(p.version, p.lineage.execution_id) for p in packages] == [(1, again.id)]
    killed, latest = sorted(
        RunHistory(workspace / "runs.db").list_executions(), key=lambda r: r.started
    )
    assert killed.status == "Stopped"
    assert "killed" in killed.failure_reason
    assert latest.status == "Succeeded"


def test_parallel_runs_in_one_workspace_all_succeed_with_distinct_versions(tmp_path):
    # v3 writes to fixed output URIs, so the runs also race on the same S3 prefixes
    definition, workspace = staged_workspace(tmp_path, "v3")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))

    runs = [_start_run(workspace, path, {}) for _ in range(4)]
    results = [run.communicate(timeout=300) for run in runs]

    # On failure, show the end of each failed run's output (the reason is on its last lines).
    ended = zip(runs, results, strict=True)
    failures = [err.decode()[-1500:] for run, (_, err) in ended if run.returncode]
    assert failures == []
    packages = ModelRegistry.for_workspace(workspace).list_model_packages("my-model-group")
    # Versions are consecutive and unique; a run whose model is already the latest version
    # registers nothing (so never two versions in a row with the same artifact).
    assert [p.version for p in packages] == list(range(1, len(packages) + 1))
    assert len({p.lineage.execution_id for p in packages}) == len(packages)
    digests = [p.model_data_sha256 for p in packages]
    assert all(a != b for a, b in itertools.pairwise(digests))
    outputs = [out.decode() for out, _ in results]
    assert all(("registered " in out) != ("already holds" in out) for out in outputs), outputs
    assert sum("registered my-model-group" in out for out in outputs) == len(packages)
    assert all(ModelRegistry.for_workspace(workspace).verify_model_data(p) for p in packages)
