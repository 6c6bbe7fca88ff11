"""The engine finds this project through its adapter, and its pipelines by file name."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from {{ cookiecutter.package_name }}.adapter import project
from {{ cookiecutter.package_name }}.cli import make_cli

from sagepipe.project import load_adapter

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_names_the_adapter_the_cli_uses() -> None:
    loaded = load_adapter(PROJECT_ROOT)
    assert loaded.package == project.package == "{{ cookiecutter.package_name }}"
    assert loaded.root() == PROJECT_ROOT


def test_pipeline_py_is_the_default_project_pipeline() -> None:
    pipelines = project.pipelines()
    assert pipelines["project"].module == "{{ cookiecutter.package_name }}.pipeline"
    assert not pipelines["project"].migrated
    listed = CliRunner().invoke(make_cli(), ["pipelines", "--json"], env={"MLOPS_STAGE": "dev"})
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == {"project": True, "migrated": []}


def test_an_unknown_pipeline_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        make_cli(), ["compile", "--pipeline", "nope", "-o", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: pipeline 'nope': no migrated pipeline of that name (known: none yet); "
        "migrate a notebook with `migrate plan` and `migrate apply`, or list them with "
        "`pipelines`"
    )
    assert not (tmp_path / "x.json").exists()


def test_the_warm_head_start_runs_only_when_the_definition_is_compiled(tmp_path: Path) -> None:
    """`run` starts the last run's warm interpreters to overlap a compile, never for
    a definition the workspace's compile cache already has."""
    from sagepipe.prepare import before_compiling, prepare_run

    calls: list[str] = []
    with before_compiling(lambda: calls.append("compile")):
        first = prepare_run(project, tmp_path, stage=False)
        again = prepare_run(project, tmp_path, stage=False)

    assert calls == ["compile"]
    assert first.compiled is not None and again.compiled is None
    assert again.definition == first.definition
