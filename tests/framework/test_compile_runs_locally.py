"""A compiled pipeline runs end to end on the local executor: compile + execute agree."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from compiled_example import compile_example
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry


def stage(workspace: Path, rows: int = 40) -> dict:
    compiled = compile_example()
    compiled.write_artifacts(workspace / "s3")
    raw = workspace / "s3" / "example-bucket" / "raw" / "data.csv"
    raw.parent.mkdir(parents=True, exist_ok=True)
    with raw.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["feature", "label"])
        writer.writerows([[i, "yes" if i % 4 else "no"] for i in range(rows)])
    return json.loads(compiled.to_json())


def test_compiled_pipeline_runs_and_registers_a_version(tmp_path: Path) -> None:
    definition = stage(tmp_path)
    execution = execute(definition, workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    statuses = {name: step.status for name, step in execution.steps.items()}
    assert statuses["RegisterModel"] == "Succeeded"
    assert statuses["AccuracyTooLow"] == "NotExecuted"
    package = ModelRegistry.for_workspace(tmp_path).describe("example-model", "latest")
    assert package.version == 1
    assert package.approval_status == "PendingManualApproval"


def test_failing_condition_runs_the_fail_step_with_the_metric_in_its_message(
    tmp_path: Path,
) -> None:
    definition = stage(tmp_path)
    execution = execute(definition, workspace=tmp_path, parameters={"AccuracyThreshold": "0.99"})
    assert execution.status == "Failed"
    reason = execution.steps["AccuracyTooLow"].failure_reason or ""
    assert re.fullmatch(r"accuracy 0\.\d+ is below 0\.99", reason), reason
    assert ModelRegistry.for_workspace(tmp_path).list_model_packages() == []


def test_step_exception_reason_reaches_the_execution(tmp_path: Path) -> None:
    definition = stage(tmp_path)
    raw = tmp_path / "s3" / "example-bucket" / "raw" / "data.csv"
    raw.write_text("feature,label\n")  # header only: preprocess raises
    execution = execute(definition, workspace=tmp_path)
    assert execution.status == "Failed"
    reason = execution.steps["Preprocess"].failure_reason or ""
    assert reason.startswith("ValueError: no CSV rows under"), reason
    assert execution.steps["Train"].status != "Succeeded"
