"""The project CLI's own commands and its one-line errors (run in-process, no pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import make_cli


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
        "Train",
        "Evaluate",
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
