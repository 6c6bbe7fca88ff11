"""A compiled pipeline runs end to end on the local executor: compile + execute agree."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from compiled_example import compile_example
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry
from sagepipe_example.pipeline import ROLE


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


def test_a_training_steps_output_data_reaches_a_later_step_but_not_its_model(
    tmp_path: Path,
) -> None:
    import tarfile

    from sagepipe import Pipeline, Processing, Training, compile_pipeline
    from sagepipe_example import odd_steps

    fit = Training("Fit", odd_steps.train_with_notes, channels={"train": "s3://notes-bucket/raw"})
    notes = Processing(
        "Notes", odd_steps.read_notes, inputs={"notes": fit.output_data}, outputs=["out"]
    )
    compiled = compile_pipeline(
        Pipeline("notes", steps=[fit, notes]),
        bucket="notes-bucket",
        prefix="p",
        role=ROLE,
        region="eu-west-1",
    )
    definition = json.loads(compiled.to_json())
    notes_input = definition["Steps"][1]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert notes_input == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.Fit.OutputDataConfig.S3OutputPath"},
                {"Get": "Steps.Fit.TrainingJobName"},
                "output",
                "output.tar.gz",
            ],
        }
    }
    compiled.write_artifacts(tmp_path / "s3")
    raw = tmp_path / "s3" / "notes-bucket" / "raw" / "rows.csv"
    raw.parent.mkdir(parents=True)
    raw.write_text("a\nb\nc\n")

    execution = execute(definition, workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    (run,) = (tmp_path / "s3" / "notes-bucket" / "p").glob("exec-*")
    assert (next(run.glob("Notes/output/out")) / "notes.csv").read_text() == "seen\n3\n"
    (model,) = run.glob("Fit/*/output/model.tar.gz")
    with tarfile.open(model) as packed:
        assert packed.getnames() == ["model.txt"]
