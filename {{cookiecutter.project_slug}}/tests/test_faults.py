"""Fault injection: whatever breaks, nothing half-done is registered and the registry stays
consistent (versions 1..n, no gaps, no duplicates)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import (
    PROJECT_ROOT,
    SAMPLE,
    cli_command,
    project_env,
    registered_versions,
    run_cli,
    run_pipeline,
)


def _steps(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in execution["Steps"]}


def _assert_consistent(workspace: Path, expected: list[dict[str, Any]]) -> None:
    versions = registered_versions(workspace)
    assert versions == expected
    numbers = [p["ModelPackageVersion"] for p in versions]
    assert numbers == list(range(1, len(numbers) + 1))


def test_corrupt_input_fails_preprocess_and_registers_nothing(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    workspace = warm_workspace["workspace"]
    before = registered_versions(workspace)
    (tmp_path / "churn.csv").write_bytes(b"\x00\x9c\xff not a csv \x00" * 200)
    code, execution, _ = run_pipeline(workspace, "--data", tmp_path)
    assert code == 1
    assert execution["Status"] == "Failed"
    assert "Preprocess" in execution["FailureReason"]
    assert "churn.csv" in execution["FailureReason"]
    assert _steps(execution)["Train"]["Status"] == "NotExecuted"
    _assert_consistent(workspace, before)


def test_failing_data_quality_stops_before_training_with_the_summary(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    workspace = warm_workspace["workspace"]
    before = registered_versions(workspace)
    raw = pd.read_csv(SAMPLE)
    raw.loc[:9, "monthly_charges"] = -40.0
    raw.to_csv(tmp_path / "churn.csv", index=False)
    code, execution, _ = run_pipeline(workspace, "--data", tmp_path)
    assert code == 1
    steps = _steps(execution)
    assert steps["Preprocess"]["Status"] == "Succeeded"
    assert steps["DataQuality"]["Status"] == "Failed"
    assert steps["Train"]["Status"] == "NotExecuted"
    reason = execution["FailureReason"]
    assert "Data quality failed" in reason and "monthly_charges" in reason
    _assert_consistent(workspace, before)


def test_exception_in_training_fails_the_run_with_the_reason(
    warm_workspace: dict[str, Any],
) -> None:
    workspace = warm_workspace["workspace"]
    before = registered_versions(workspace)
    code, execution, _ = run_pipeline(workspace, "--param", "LearningRate=0")
    assert code == 1
    steps = _steps(execution)
    assert steps["Preprocess"]["CacheHit"] and steps["DataQuality"]["CacheHit"]
    assert steps["Train"]["Status"] == "Failed"
    assert "learning_rate=0.0" in execution["FailureReason"]
    assert steps["Evaluate"]["Status"] == "NotExecuted"
    _assert_consistent(workspace, before)


def test_invalid_parameter_is_refused_before_anything_runs(
    warm_workspace: dict[str, Any],
) -> None:
    workspace = warm_workspace["workspace"]
    before = registered_versions(workspace)
    runs_before = json.loads(run_cli("runs", "--json", "--workspace", workspace).stdout)
    done = run_cli("run", "--workspace", workspace, "--param", "ModelApprovalStatus=Maybe")
    assert done.returncode == 2
    assert "Maybe" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    runs_after = json.loads(run_cli("runs", "--json", "--workspace", workspace).stdout)
    assert len(runs_after) == len(runs_before)
    _assert_consistent(workspace, before)


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before {path.name} started: {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_mid_run_leaves_registry_consistent_and_next_run_reuses_finished_steps(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "workspace"
    process = subprocess.Popen(
        cli_command("run", "--workspace", workspace),
        cwd=PROJECT_ROOT,
        env=project_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        executions = workspace / "executions"
        _wait_for(executions, process)
        _wait_for(next(iter(executions.iterdir())) / "Train", process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    assert registered_versions(workspace) == []
    code, execution, stderr = run_pipeline(workspace)
    assert code == 0, stderr
    steps = _steps(execution)
    assert steps["Preprocess"]["CacheHit"] and steps["DataQuality"]["CacheHit"]
    assert not steps["Train"]["CacheHit"]
    _assert_consistent(workspace, registered_versions(workspace))
    assert [p["ModelPackageVersion"] for p in registered_versions(workspace)] == [1]
    history = json.loads(run_cli("runs", "--json", "--workspace", workspace).stdout)
    assert len(history) == 2
    assert {run["Status"] for run in history} <= {"Succeeded", "Failed", "Stopped"}
