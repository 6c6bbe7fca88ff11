"""The whole pipeline on the sample, through the project CLI: compile, run, register."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import PROJECT_ROOT, project_env, registered_versions, run_cli, run_pipeline

JOB_STEPS = ("Preprocess", "DataQuality", "Train", "Evaluate")
CHECK_STEPS = (
    "BaselineTrainingData",
    "BaselineTrainingBias",
    "BaselineModelQuality",
    "BaselineModelBias",
    "BaselineModelExplainability",
)


def _steps(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in execution["Steps"]}


def test_cold_run_registers_a_pending_version_with_metrics_and_lineage(
    warm_workspace: dict[str, Any],
) -> None:
    execution = warm_workspace["execution"]
    assert execution["Status"] == "Succeeded"
    steps = _steps(execution)
    assert all(
        steps[name]["Status"] == "Succeeded" for name in (*JOB_STEPS, *CHECK_STEPS, "RegisterModel")
    )
    assert steps["AccuracyBelowThreshold"]["Status"] == "NotExecuted"
    [registered] = execution["Registered"]

    done = run_cli(
        "registry",
        "describe",
        str(registered["Version"]),
        "--workspace",
        warm_workspace["workspace"],
    )
    assert done.returncode == 0, done.stderr
    package = json.loads(done.stdout)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    lineage = package["Lineage"]
    assert lineage["ExecutionId"] == execution["PipelineExecutionId"]
    assert lineage["DataDigest"] and lineage["CodeDigest"]
    assert lineage["Parameters"]["AccuracyThreshold"] == 0.7
    assert 0.7 <= lineage["Metrics"]["accuracy"] <= 1.0
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        "evaluation.json"
    )


def test_model_tar_gz_carries_the_serving_handler(warm_workspace: dict[str, Any]) -> None:
    [package] = [
        p
        for p in registered_versions(warm_workspace["workspace"])
        if p["Lineage"]["ExecutionId"] == warm_workspace["execution"]["PipelineExecutionId"]
    ]
    with tarfile.open(package["ModelDataPath"]) as archive:
        names = set(archive.getnames())
    assert {"model.joblib", "model.json", "code/inference.py"} <= {
        name.removeprefix("./") for name in names
    }


def test_rerun_reuses_every_job_step_and_registers_nothing_new(
    warm_workspace: dict[str, Any],
) -> None:
    before = registered_versions(warm_workspace["workspace"])
    code, execution, stderr = run_pipeline(warm_workspace["workspace"])
    assert code == 0, stderr
    steps = _steps(execution)
    # The baseline checks are cached like jobs (they skip the check on this run).
    assert all(steps[name]["CacheHit"] for name in (*JOB_STEPS, *CHECK_STEPS))
    # The same model.tar.gz is already the latest version: the run names it, adds none.
    assert registered_versions(warm_workspace["workspace"]) == before
    assert execution["Registered"] == []
    [held] = execution["AlreadyRegistered"]
    assert held["Version"] == max(p["ModelPackageVersion"] for p in before)


def test_high_threshold_fails_with_metric_and_threshold_and_registers_nothing(
    warm_workspace: dict[str, Any],
) -> None:
    before = registered_versions(warm_workspace["workspace"])
    code, execution, _ = run_pipeline(
        warm_workspace["workspace"], "--param", "AccuracyThreshold=0.99"
    )
    assert code == 1
    assert execution["Status"] == "Failed"
    reason = execution["FailureReason"]
    assert "AccuracyBelowThreshold" in reason and "0.99" in reason
    # The message carries the measured accuracy (a number below the threshold).
    measured = float(reason.split("Model accuracy ")[1].split()[0])
    assert 0.5 < measured < 0.99
    assert _steps(execution)["RegisterModel"]["Status"] == "NotExecuted"
    assert registered_versions(warm_workspace["workspace"]) == before


def test_approve_and_reject_latest_through_the_cli(warm_workspace: dict[str, Any]) -> None:
    workspace = warm_workspace["workspace"]
    # Another max depth trains another model, so "latest" and version 1 differ.
    code, _, stderr = run_pipeline(workspace, "--param", "MaxDepth=3")
    assert code == 0, stderr
    approved = run_cli("registry", "approve", "latest", "--workspace", workspace)
    assert approved.returncode == 0, approved.stderr
    assert "Approved" in approved.stdout
    rejected = run_cli("registry", "reject", "1", "--reason", "test", "--workspace", workspace)
    assert rejected.returncode == 0, rejected.stderr
    statuses = {
        p["ModelPackageVersion"]: p["ModelApprovalStatus"] for p in registered_versions(workspace)
    }
    assert statuses[1] == "Rejected"
    assert statuses[max(statuses)] == "Approved"
    missing = run_cli("registry", "describe", "999", "--workspace", workspace)
    assert missing.returncode == 2 and "999" in missing.stderr


def test_compile_is_byte_identical_and_runs_under_the_framework_cli(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    workspace = warm_workspace["workspace"]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for target in (first, second):
        done = run_cli("compile", "-o", target, "--workspace", workspace)
        assert done.returncode == 0, done.stderr
    assert first.read_bytes() == second.read_bytes()
    definition = json.loads(first.read_text())
    assert definition["Version"] == "2020-12-01"
    # The same JSON runs under the generic executor, reusing the project's cache.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sagepipe",
            "run",
            str(first),
            "--workspace",
            str(workspace),
            "--json",
        ],
        cwd=PROJECT_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Status"] == "Succeeded"


def test_runs_lists_history_as_json(warm_workspace: dict[str, Any]) -> None:
    done = run_cli("runs", "--json", "--workspace", warm_workspace["workspace"])
    assert done.returncode == 0, done.stderr
    ids = [
        run["PipelineExecutionId"] if "PipelineExecutionId" in run else run.get("Id")
        for run in json.loads(done.stdout)
    ]
    assert warm_workspace["execution"]["PipelineExecutionId"] in ids


def test_four_parallel_runs_never_duplicate_a_version(
    warm_workspace: dict[str, Any],
) -> None:
    workspace = warm_workspace["workspace"]
    before = {p["ModelPackageVersion"] for p in registered_versions(workspace)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        depths = (2, 4, 5, 5)
        results = list(
            pool.map(lambda depth: run_pipeline(workspace, "--param", f"MaxDepth={depth}"), depths)
        )
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for *_, err in results]
    new = [v["Version"] for _, execution, _ in results for v in execution["Registered"]]
    held = [v["Version"] for _, execution, _ in results for v in execution["AlreadyRegistered"]]
    # Every run either registers a version of its own or finds its model already registered
    # as the group's latest. The two runs of depth 5 train one model: it is registered once
    # when their registrations come one after the other, and twice when a run of another
    # depth registers in between (the registry dedupes against the latest version only, so
    # an older model trained again becomes the latest). Either way no number is given twice.
    assert len(new) == len(set(new)) and len(new) + len(held) == 4
    assert 3 <= len(new) <= 4
    assert all(version in new for version in held)
    after = {p["ModelPackageVersion"] for p in registered_versions(workspace)}
    assert after == before | set(new)
    assert sorted(after) == list(range(1, len(after) + 1))


@pytest.mark.slow
def test_four_parallel_cold_runs_register_four_distinct_versions(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda depth: run_pipeline(tmp_path, "--no-cache", "--param", f"MaxDepth={depth}"),
                range(2, 6),
            )
        )
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for *_, err in results]
    versions = sorted(p["ModelPackageVersion"] for p in registered_versions(tmp_path))
    assert versions == [1, 2, 3, 4]
