"""The project CLI's own commands and its one-line errors (run in-process, no pipeline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import make_cli

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_make_data_writes_the_requested_rows_deterministically(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a.csv", "b.csv"):
        result = runner.invoke(
            make_cli(), ["make-data", "--rows", "700", "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "a.csv")
    assert frame.drop_duplicates()["customer_id"].max() == 700


def test_make_data_refuses_zero_rows_with_the_rule(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        make_cli(), ["make-data", "--rows", "0", "-o", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2
    assert "0 is not in the range x>=1" in result.output
    assert not (tmp_path / "x.csv").exists()


def test_run_on_a_folder_without_csv_fails_before_running(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(
        make_cli(), ["run", "--workspace", str(tmp_path / "ws"), "--data", str(tmp_path / "empty")]
    )
    assert result.exit_code == 2
    assert "no CSV data found" in result.output
    assert not (tmp_path / "ws" / "runs.db").exists()


def test_compile_writes_a_definition_and_stages_code_and_data(tmp_path: Path) -> None:
    target = tmp_path / "definition.json"
    result = CliRunner().invoke(
        make_cli(), ["compile", "-o", str(target), "--workspace", str(tmp_path / "ws")]
    )
    assert result.exit_code == 0, result.output
    definition = json.loads(target.read_text())
    names = [step["Name"] for step in definition["Steps"]]
    assert names == [
        "Preprocess",
        "DataQuality",
        "BaselineTrainingData",
        "BaselineTrainingBias",
        "Train",
        "Evaluate",
        "BaselineModelQuality",
        "BaselineModelBias",
        "BaselineModelExplainability",
        "CheckAccuracy",
    ]
    assert list((tmp_path / "ws" / "s3").rglob("sourcedir.tar.gz"))
    assert list((tmp_path / "ws" / "s3").rglob("input/raw/*.csv"))


def test_stage_option_changes_the_settings_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The option sets MLOPS_STAGE for the process; monkeypatch puts it back afterwards.
    monkeypatch.setenv("MLOPS_STAGE", "dev")
    target = tmp_path / "prod.json"
    result = CliRunner().invoke(
        make_cli(),
        ["--stage", "prod", "compile", "-o", str(target), "--workspace", str(tmp_path / "ws")],
    )
    assert result.exit_code == 0, result.output
    parameters = {p["Name"]: p for p in json.loads(target.read_text())["Parameters"]}
    assert parameters["TrainingInstanceType"]["DefaultValue"] == "ml.m5.2xlarge"


def test_stage_works_after_the_command_name_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_STAGE", "dev")
    target = tmp_path / "prod.json"
    result = CliRunner().invoke(
        make_cli(),
        ["compile", "--stage", "prod", "-o", str(target), "--workspace", str(tmp_path / "ws")],
    )
    assert result.exit_code == 0, result.output
    parameters = {p["Name"]: p for p in json.loads(target.read_text())["Parameters"]}
    assert parameters["TrainingInstanceType"]["DefaultValue"] == "ml.m5.2xlarge"


def _leaf_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _leaf_commands(command, f"{prefix}{name} ")
        else:
            found.append((f"{prefix}{name}", command))
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name} {param.opts[0]}"
        for name, command in _leaf_commands(make_cli())
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []


def test_settings_commands_all_take_stage() -> None:
    cli = make_cli()
    commands = dict(_leaf_commands(cli))
    runs = cli.commands["runs"]  # a group that lists by itself, with `show` and `compare`
    assert any("--stage" in p.opts for p in runs.params), "runs"
    for name in ("run", "compile", "runs show", "registry list", "registry approve"):
        assert any("--stage" in p.opts for p in commands[name].params), name


def test_every_version_option_takes_a_number_or_latest() -> None:
    commands = dict(_leaf_commands(make_cli()))
    for name in ("serve", "deploy", "promote", "batch-transform"):
        (option,) = [p for p in commands[name].params if "--version" in p.opts]
        assert option.type.convert("3", option, None) == 3, name
        assert option.type.convert("latest", option, None) == "latest", name
        with pytest.raises(click.BadParameter, match="not a version"):
            option.type.convert("v3", option, None)


def test_a_bad_version_is_a_usage_error_naming_the_value() -> None:
    result = CliRunner().invoke(make_cli(), ["deploy", "--stage", "staging", "--version", "abc"])
    assert result.exit_code == 2
    assert "'abc' is not a version: use a number (1, 2, ...) or latest" in result.output


def test_a_missing_column_names_the_users_file_before_anything_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    sample = pd.read_csv(PROJECT_ROOT / "data" / "raw" / "churn.csv").drop(columns=["age"])
    sample.to_csv(data_dir / "churn.csv", index=False)
    workspace = tmp_path / "ws"

    result = CliRunner().invoke(
        make_cli(), ["run", "--workspace", str(workspace), "--data", str(data_dir)]
    )

    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {data_dir / 'churn.csv'}: missing column(s) age; the raw data needs the "
        "columns customer_id, age, tenure_months, monthly_charges, total_charges, "
        "support_calls, contract, payment_method, internet_service, churned"
    )
    assert not (workspace / "runs.db").exists()


def test_help_loads_no_data_library() -> None:
    # Every command's start-up pays for what the CLI imports at the top: pandas and numpy
    # cost ~0.7 s, so only the commands that read data may import them (lazily).
    code = (
        "import sys\n"
        "from {{ cookiecutter.package_name }}.cli import make_cli\n"
        "try:\n"
        "    make_cli()(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('HEAVY:', sorted({'pandas', 'numpy', 'sklearn'} & set(sys.modules)))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT / "src"))

    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY: []"
