"""Real bakes: bad answers leave nothing behind, every option combination bakes exactly."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from baking import (
    ALL_CI_FILES,
    CI_FILES,
    DEFAULTS,
    TEMPLATE_DIR,
    Baker,
    expected_files,
    files_under,
    listed_files,
    template_file_list,
)

COOKIECUTTER = [sys.executable, "-m", "cookiecutter"]

# Bad answers given on the command line, as a user would (the unit tests cover the rest).
NEGATIVE_BAKES = [
    ("package_name", "json"),
    ("package_name", "sagemaker"),
    ("package_name", "class"),
    ("project_slug", "My Project"),
    ("project_slug", "../escape"),
    ("project_name", "Café Model"),  # derives the slug "café-model"
    ("aws_region", "EU-WEST-1"),
    ("author_email", "not-an-email"),
    ("project_slug", "pandas"),
    ("aws_region", "eu-west-1;rm"),
    # Cookiecutter creates the project folder before the pre-generation hook runs: these
    # used to leave `a/` (or part of a path) behind; local_extensions.py checks them first.
    ("project_slug", "a/../b"),
    ("project_slug", "x/y"),
    ("project_name", ""),
]

# Choice options: cookiecutter itself refuses a value outside the choices before any hook
# runs (our pre-gen hook checks them too, for replays and programmatic calls).
NEGATIVE_CHOICES = [
    ("python_version", "3.9"),
    ("ci_provider", "jenkins"),
    ("license", "GPL-3.0"),
]


def run_cookiecutter(
    output_dir: Path, config: Path, *answers: str
) -> subprocess.CompletedProcess[str]:
    """Run the cookiecutter CLI on the template, the way users do."""
    command = [
        *COOKIECUTTER,
        "--no-input",
        "--config-file",
        str(config),
        "-o",
        str(output_dir),
    ]
    return subprocess.run(
        [*command, str(TEMPLATE_DIR), *answers],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(("key", "value"), NEGATIVE_BAKES)
def test_bad_answer_stops_the_bake_and_leaves_no_folder(
    tmp_path: Path, cookiecutter_config: Path, key: str, value: str
) -> None:
    result = run_cookiecutter(tmp_path, cookiecutter_config, f"{key}={value}")

    assert result.returncode == 1
    ours = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(ours) == 1, result.stderr
    assert " is invalid: " in ours[0]
    assert "; pass " in ours[0]
    # The one line is all: no cookiecutter traceback or "Hook script failed" after it.
    assert result.stderr.splitlines() == ours
    assert result.stdout.strip() == ""
    assert list(tmp_path.iterdir()) == []


def test_a_bad_derived_slug_says_it_came_from_the_name(
    tmp_path: Path, cookiecutter_config: Path
) -> None:
    result = run_cookiecutter(tmp_path, cookiecutter_config, "project_name=Café Model")
    assert result.returncode == 1
    assert 'project_slug was derived from project_name="Café Model"' in result.stderr
    assert "change project_name, or pass project_slug yourself" in result.stderr


@pytest.mark.parametrize(("key", "value"), NEGATIVE_CHOICES)
def test_value_outside_the_choices_stops_the_bake_and_leaves_no_folder(
    tmp_path: Path, cookiecutter_config: Path, key: str, value: str
) -> None:
    result = run_cookiecutter(tmp_path, cookiecutter_config, f"{key}={value}")

    assert result.returncode != 0
    assert f"{value} provided for choice variable {key}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_negative_bake_message_names_the_value(tmp_path: Path, cookiecutter_config: Path) -> None:
    result = run_cookiecutter(tmp_path, cookiecutter_config, "package_name=pandas")
    assert 'error: package_name="pandas" is invalid: it shadows a module' in result.stderr


def test_cli_bake_with_defaults_succeeds(tmp_path: Path, cookiecutter_config: Path) -> None:
    result = run_cookiecutter(tmp_path, cookiecutter_config)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["churn-model"]


def matrix() -> list[dict[str, str]]:
    """Every ci_provider with every Python version; the other options cycle alongside."""
    licenses = DEFAULTS["license"]
    regions = ["eu-west-1", "us-east-1", "ap-southeast-2", "us-gov-west-1"]
    cases = []
    for index, (provider, python) in enumerate(
        itertools.product(DEFAULTS["ci_provider"], DEFAULTS["python_version"])
    ):
        cases.append(
            {
                "project_name": f"Fraud Detector {index}",
                "package_name": f"fraud_{index}" if index % 2 else f"fraud_detector_{index}",
                "ci_provider": provider,
                "python_version": python,
                "license": licenses[index % len(licenses)],
                "aws_region": regions[index % len(regions)],
                "author_name": ["Ada", "Grace Hopper", "Zoë O'Neil"][index % 3],
            }
        )
    return cases


MATRIX = matrix()


def test_matrix_covers_every_provider_python_and_license() -> None:
    assert {case["ci_provider"] for case in MATRIX} == set(DEFAULTS["ci_provider"])
    assert {case["python_version"] for case in MATRIX} == set(DEFAULTS["python_version"])
    assert {case["license"] for case in MATRIX} == set(DEFAULTS["license"])


@pytest.fixture(
    scope="module",
    params=MATRIX,
    ids=lambda c: f"{c['ci_provider']}-py{c['python_version']}",
)
def matrix_project(
    request: pytest.FixtureRequest, bake_project: Baker
) -> tuple[dict[str, str], Path]:
    """One baked project per matrix case, shared by the checks below."""
    answers: dict[str, str] = request.param
    return answers, bake_project(**answers)


def test_matrix_bake_has_exactly_the_expected_files(
    matrix_project: tuple[dict[str, str], Path],
) -> None:
    answers, project = matrix_project
    assert project.name == answers["project_name"].lower().replace(" ", "-")
    assert files_under(project) == expected_files(answers)


def test_matrix_bake_keeps_only_the_chosen_ci_config(
    matrix_project: tuple[dict[str, str], Path],
) -> None:
    answers, project = matrix_project
    present = {path for path in ALL_CI_FILES if (project / path).exists()}
    assert present == CI_FILES[answers["ci_provider"]]
    if answers["ci_provider"] != "github":
        assert not (project / ".github").exists()


def test_matrix_bake_records_the_answers(
    matrix_project: tuple[dict[str, str], Path],
) -> None:
    answers, project = matrix_project
    recorded = json.loads((project / ".cookiecutter.json").read_text())
    assert {key: recorded[key] for key in answers} == answers
    assert not [key for key in recorded if key.startswith("_")]


def test_matrix_bake_uses_the_chosen_python(
    matrix_project: tuple[dict[str, str], Path],
) -> None:
    answers, project = matrix_project
    noxfile = (project / "noxfile.py").read_text()
    assert f'PYTHON = "{answers["python_version"]}"' in noxfile
    pyproject = (project / "pyproject.toml").read_text()
    assert f'python_version = "{answers["python_version"]}"' in pyproject


def test_matrix_bake_license_matches_choice(
    matrix_project: tuple[dict[str, str], Path],
) -> None:
    answers, project = matrix_project
    first_line = (project / "LICENSE").read_text().splitlines()[0].strip()
    expected = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "Copyright (c)",
    }[answers["license"]]
    assert first_line.startswith(expected)
    assert answers["author_name"] in (project / "LICENSE").read_text()


def test_default_bake_has_exactly_the_listed_files(default_project: Path) -> None:
    answers = {"package_name": "churn_model", "ci_provider": "github"}
    assert files_under(default_project) == expected_files(answers)


def test_listed_files_match_the_template_folder() -> None:
    # The committed list is the contract; a file added to or removed from the template
    # without updating tests/expected_project_files.txt fails here.
    assert set(template_file_list()) == listed_files()


def test_default_project_is_importable_as_module_and_package(
    default_project: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import churn_model, sagepipe; print(churn_model.__name__)",
        ],
        cwd=default_project,
        env={**os.environ, "PYTHONPATH": str(default_project / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "churn_model"
