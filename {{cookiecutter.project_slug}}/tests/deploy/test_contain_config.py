"""Containment, configuration: a stage file or override that is wrong is refused in one line.

Each case edits a copy of the real staging.toml, so the file the project ships is also
checked to pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import settings

BAD_FILES = [
    (
        "string for a boolean",
        "[capture]\nenabled = true",
        '[capture]\nenabled = "false"',
        "true or false",
    ),
    ("misspelt section", "\n[server]\n", "\n[servr]\n", "did you mean 'server'"),
    ("misspelt key", "max_payload_mb = 6", "max_payload = 6", "has no key 'max_payload'"),
    (
        "unknown top-level key",
        'model_version = "latest-approved"',
        'model_version = "latest-approved"\nmodle = 1',
        "unknown key 'modle'",
    ),
    ("zero payload limit", "max_payload_mb = 6", "max_payload_mb = 0", "must be above 0"),
    ("negative workers", "workers = 0 ", "workers = -2 ", "at least 0"),
    ("negative timeout", "timeout_seconds = 60", "timeout_seconds = -1", "above 0"),
    ("NaN timeout", "timeout_seconds = 60", "timeout_seconds = nan", "finite"),
    ("infinite payload", "max_payload_mb = 6", "max_payload_mb = inf", "finite"),
    ("port 0", 'host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 0', "between 1 and 65535"),
    ("port 70000", 'host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 70000', "between 1 and 65535"),
    ("port as text", 'host = "127.0.0.1"', 'host = "127.0.0.1"\nport = "8080"', "whole number"),
    ("port as a float", 'host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 8080.0', "whole number"),
    ("boolean workers", "workers = 0 ", "workers = true ", "whole number"),
    (
        "sampling over 100",
        "sampling_percentage = 100\n\n[shadow]",
        "sampling_percentage = 101\n\n[shadow]",
        "at most 100",
    ),
    ("empty host", 'host = "127.0.0.1"', 'host = ""', "non-empty text"),
    (
        "bad model version",
        'model_version = "latest-approved"',
        'model_version = "newest"',
        "latest-approved",
    ),
    ("list for a number", "tolerance = 0.02", "tolerance = [0.02]", "must be a number"),
    (
        "metrics not a list",
        'metrics = ["accuracy", "auc"]',
        'metrics = "accuracy"',
        "list of metric names",
    ),
    ("zero instances", "initial_instance_count = 1", "initial_instance_count = 0", "at least 1"),
]


def _stage_copy(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "stages"
    folder.mkdir()
    source = settings.STAGES_DIR / "staging.toml"
    text = source.read_text()
    assert old in text, old
    (folder / "staging.toml").write_text(text.replace(old, new, 1))
    return folder


def test_the_shipped_stage_files_pass_the_schema() -> None:
    for stage in settings.STAGES:
        assert settings.load(stage, environ={}).stage == stage


@pytest.mark.parametrize(
    ("kind", "old", "new", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_stage_files_are_refused_in_one_line(
    tmp_path: Path, kind: str, old: str, new: str, message: str
) -> None:
    folder = _stage_copy(tmp_path, old, new)
    with pytest.raises(ValueError) as info:
        settings.load("staging", environ={}, folder=folder)
    text = str(info.value)
    assert message in text, (kind, text)
    assert "staging.toml" in text and "\n" not in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "soon"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "nan"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "-5"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "2.5"),
        ("SAGEMAKER_BIND_TO_PORT", "70000"),
        ("SAGEMAKER_BIND_TO_PORT", "http"),
    ],
)
def test_bad_environment_overrides_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as info:
        settings.load("staging")
    assert f"{name}={value!r}" in str(info.value) and "\n" not in str(info.value)


def test_several_problems_are_counted(tmp_path: Path) -> None:
    folder = _stage_copy(tmp_path, "workers = 0 ", "port = 0\nworkers = -1 ")
    with pytest.raises(ValueError, match=r"and \d+ more problems"):
        settings.load("staging", environ={}, folder=folder)


def test_the_cli_reports_a_bad_stage_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from {{ cookiecutter.package_name }}.cli import make_cli

    monkeypatch.setenv("SAGEPIPE_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "99999")
    result = CliRunner().invoke(make_cli(), ["deploy", "--stage", "staging"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "SAGEMAKER_BIND_TO_PORT='99999'" in lines[0], result.output


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MLOPS_STAGE", "bogus", "not one of dev, staging, prod"),
        ("MLOPS_BUCKET", "../x", "not a valid S3 bucket name"),
        ("MLOPS_BUCKET", "Upper_Case", "not a valid S3 bucket name"),
    ],
)
def test_compile_and_run_report_bad_settings_the_same_way_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    from click.testing import CliRunner

    from {{ cookiecutter.package_name }}.cli import make_cli

    monkeypatch.setenv("SAGEPIPE_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv(name, value)
    answers = []
    for argv in (["compile", "-o", str(tmp_path / "definition.json")], ["run"]):
        result = CliRunner().invoke(make_cli(), argv)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], (argv, result.output)
        answers.append((result.exit_code, lines[0]))
    assert answers[0] == answers[1]
    assert not (tmp_path / "definition.json").exists()
