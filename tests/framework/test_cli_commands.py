"""The framework CLI: python -m sagepipe run/runs/registry and the reusable factories."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from _local_scripts import staged_workspace
from sagepipe.cli import Progress, make_framework_cli, make_registry_group, make_run_command
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry

FRAMEWORK_SRC = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"


def _sagepipe(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(FRAMEWORK_SRC))
    return subprocess.run(
        [sys.executable, "-m", "sagepipe", *args], env=env, capture_output=True, text=True
    )


def _staged_file(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return path, workspace


def test_run_succeeds_with_exit_0_plain_progress_and_a_summary(tmp_path):
    path, workspace = _staged_file(tmp_path)

    result = _sagepipe("run", str(path), "--workspace", str(workspace))

    assert result.returncode == 0, result.stderr
    assert "Preprocess Succeeded" in result.stderr  # plain lines when not on a terminal
    assert "\x1b[" not in result.stderr
    assert "registered my-model-group version 1" in result.stdout
    (record,) = json.loads(_sagepipe("runs", "--json", "--workspace", str(workspace)).stdout)
    assert record["Status"] == "Succeeded"
    assert record["PipelineName"] == "definition"


def test_a_cached_rerun_registers_nothing_and_names_the_version_that_holds_the_model(tmp_path):
    path, workspace = _staged_file(tmp_path)
    assert _sagepipe("run", str(path), "--workspace", str(workspace)).returncode == 0

    again = _sagepipe("run", str(path), "--workspace", str(workspace))

    assert again.returncode == 0, again.stderr
    assert "registered my-model-group" not in again.stdout
    assert "my-model-group version 1 already holds this model" in again.stdout
    packages = ModelRegistry.for_workspace(workspace).list_model_packages("my-model-group")
    assert [p.version for p in packages] == [1]


def test_run_of_a_failing_pipeline_exits_1_with_the_reason(tmp_path):
    path, workspace = _staged_file(tmp_path)

    result = _sagepipe(
        "run", str(path), "--workspace", str(workspace), "--param", "AccuracyThreshold=0.99"
    )

    assert result.returncode == 1
    assert "reason: step AccuracyTooLow (Fail): accuracy below threshold" in result.stderr


def test_bad_param_exits_2_with_one_line_naming_value_rule_and_fix(tmp_path):
    path, workspace = _staged_file(tmp_path)

    result = _sagepipe("run", str(path), "--workspace", str(workspace), "--param", "Accuracy=1")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: parameter 'Accuracy' is not defined by this pipeline: use one of "
        "AccuracyThreshold, InputDataUrl, InstanceType, ModelApprovalStatus"
    ]
    assert not (workspace / "runs.db").exists()


def test_registry_commands_list_describe_approve_and_reject(tmp_path):
    path, workspace = _staged_file(tmp_path)
    runner = CliRunner()
    cli = make_framework_cli()
    ws = ["--workspace", str(workspace)]
    assert runner.invoke(cli, ["run", str(path), *ws]).exit_code == 0
    # A re-run of unchanged code registers nothing, so version 2 comes straight from the API.
    registry = ModelRegistry.for_workspace(workspace)
    registry.create_model_package("my-model-group", model_data_url="s3://bucket/other.tar.gz")

    listed = json.loads(runner.invoke(cli, ["registry", "list", "--json", *ws]).output)
    approved = runner.invoke(cli, ["registry", "approve", "1", "--reason", "ok", *ws])
    rejected = runner.invoke(cli, ["registry", "reject", "latest", *ws])
    described = json.loads(runner.invoke(cli, ["registry", "describe", "1", *ws]).output)
    missing = runner.invoke(cli, ["registry", "approve", "7", *ws])

    assert [p["ModelPackageVersion"] for p in listed] == [1, 2]
    assert approved.output.strip() == "my-model-group version 1: Approved"
    assert rejected.output.strip() == "my-model-group version 2: Rejected"
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalHistory"][-1]["Reason"] == "ok"
    assert missing.exit_code == 2
    assert "has no version 7: versions are 1 to 2" in missing.output
    table = runner.invoke(cli, ["registry", "list", *ws]).output.splitlines()
    assert table[0].startswith("my-model-group  v1   Approved")


def test_registry_needs_a_group_when_there_are_several(tmp_path):
    workspace = tmp_path / "ws"
    reg = ModelRegistry.for_workspace(workspace)
    reg.create_model_package("a", model_data_url=None)
    reg.create_model_package("b", model_data_url=None)
    runner = CliRunner()

    ambiguous = runner.invoke(
        make_registry_group(), ["approve", "1", "--workspace", str(workspace)]
    )
    chosen = runner.invoke(
        make_registry_group(default_group="b"), ["approve", "1", "--workspace", str(workspace)]
    )

    assert ambiguous.exit_code == 2
    assert "several model package groups (a, b): pass --group NAME" in ambiguous.output
    assert chosen.output.strip() == "b version 1: Approved"


def test_run_factory_with_a_builder_passes_the_workspace_and_extra_options(tmp_path):
    seen = {}

    def build(workspace: Path, label: str | None = None) -> dict:
        definition, staged = staged_workspace(tmp_path / "src", "v2")
        seen.update(workspace=workspace, label=label)
        # the builder is responsible for putting code objects into the workspace
        subprocess.run(["cp", "-r", str(staged / "s3"), str(workspace)], check=True)
        return definition

    command = make_run_command(build=build, pipeline_name="churn")
    command.params.append(click.Option(["--label"], default=None))
    workspace = tmp_path / "ws"

    result = CliRunner().invoke(command, ["--workspace", str(workspace), "--label", "x"])

    assert result.exit_code == 0, result.output
    assert seen == {"workspace": workspace, "label": "x"}
    assert (
        ModelRegistry.for_workspace(workspace).describe("my-model-group", 1).lineage.pipeline_name
        == "churn"
    )


def test_live_progress_redraws_one_table_with_states_and_durations(tmp_path):
    definition, workspace = staged_workspace(tmp_path, "v2")
    screen = io.StringIO()
    progress = Progress(screen, live=True)

    execute(definition, workspace=workspace, on_event=progress)
    progress.close()

    text = screen.getvalue()
    assert "\x1b[7F" in text  # cursor back up over the 7-line table, then redraw
    last_table = text.rsplit("\x1b[7F", 1)[1]
    assert ": Succeeded" in last_table
    assert "Train" in last_table and "Succeeded" in last_table and "s\n" in last_table
    assert "AccuracyTooLow" in last_table and "NotExecuted" in last_table
