"""``migrate plan | apply | verify``: the click group the project CLI mounts.

Mount it with ``cli.add_command(migrate)`` (``from sagepipe.migrate.cli import migrate``).
Errors are one line naming the value, the rule and the fix, with exit status 1.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import MigrationError
from .project import Project

if TYPE_CHECKING:
    from ..project import ProjectAdapter


def _project(project_dir: Path | None, package: str | None) -> Project:
    from .project import find_project

    return find_project(project_dir, package)


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group()
def migrate() -> None:
    """Move notebook code into steps and a pipeline: plan, review, apply, verify."""


_project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Project root (default: the nearest folder with pyproject.toml).",
)
_package_option = click.option(
    "--package",
    default=None,
    help="Project package (default: the one pyproject.toml's [tool.sagepipe] adapter names).",
)


@migrate.command("plan")
@click.argument("notebook", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Plan file (default: migrations/<notebook name>.yaml).",
)
@click.option(
    "--name",
    default=None,
    help="Module name for the migration (default: from the notebook file name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON too.")
@_project_option
@_package_option
def plan_command(
    notebook: Path,
    output: Path | None,
    name: str | None,
    as_json: bool,
    project_dir: Path | None,
    package: str | None,
) -> None:
    """Write a reviewable YAML plan for NOTEBOOK (.ipynb or percent .py); print its path."""
    from ..project import PROJECT_PIPELINE
    from .build import build, module_name
    from .notebook import read_notebook
    from .planfile import to_document, write_plan

    try:
        project = _project(project_dir, package)
        if name is not None and (
            not re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", name) or name == PROJECT_PIPELINE
        ):
            raise MigrationError(
                f"--name {name!r} must be a lowercase Python identifier (letters, digits, _) "
                "other than 'project' (the project pipeline's name), e.g. 'churn'"
            )
        migration = build(read_notebook(notebook), name=name)
        target = output or project.migrations / f"{name or module_name(notebook)}.yaml"
        path = write_plan(migration, project, target)
    except MigrationError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(to_document(migration, project), indent=2, default=str))
    summary = (
        ", ".join(f"{s.name} (cells {', '.join(map(str, s.cells))})" for s in migration.steps)
        or "no steps"
    )
    click.echo(f"steps: {summary}", err=True)
    for warning in migration.warnings:
        click.echo(f"warning: {warning}", err=True)
    if migration.todos:
        click.echo(
            f"{len(migration.todos)} TODO entries (magics, shell lines) are in the plan", err=True
        )
    click.echo(str(path))


@migrate.command("apply")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@_project_option
@_package_option
def apply_command(plan: Path, as_json: bool, project_dir: Path | None, package: str | None) -> None:
    """Write the step modules, pipeline module and tests that PLAN describes."""
    from .apply import apply_plan

    try:
        project = _project(project_dir, package)
        result = apply_plan(project, plan.resolve())
    except MigrationError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "written": result.written,
                    "unchanged": result.unchanged,
                    "kept_edits": result.kept_edits,
                    "dependencies_added": result.dependencies_added,
                    "manifest": str(result.manifest),
                },
                indent=2,
            )
        )
        return
    for label, items in (
        ("wrote", result.written),
        ("unchanged", result.unchanged),
        ("kept your edits", result.kept_edits),
    ):
        for item in items:
            click.echo(f"{label}: {item}")
    if result.dependencies_added:
        click.echo(f"added to pyproject dependencies: {', '.join(result.dependencies_added)}")


@migrate.command("verify")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--timeout",
    default=600,
    show_default=True,
    type=click.IntRange(min=1),
    help="Time limit per notebook cell, in seconds.",
)
@click.option(
    "--runner",
    type=click.Choice(["local", "direct"]),
    default="local",
    show_default=True,
    help="local: compile and run with the local executor; direct: call the steps.",
)
@click.option(
    "--notebook-runner",
    type=click.Choice(["kernel", "in-process"]),
    default="kernel",
    show_default=True,
    help="kernel: run the notebook with nbclient; in-process: exec its cells here (faster).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_project_option
@_package_option
def verify_command(
    plan: Path,
    timeout: int,
    runner: str,
    notebook_runner: str,
    as_json: bool,
    project_dir: Path | None,
    package: str | None,
) -> None:
    """Run the notebook and the migrated pipeline; compare every metric and data shape."""
    from .verify import verify

    try:
        project = _project(project_dir, package)
        report = verify(
            project,
            plan.resolve(),
            timeout=timeout,
            runner=runner,
            notebook_runner=notebook_runner,
        )
    except MigrationError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        for row in report.steps:
            for name, pair in row["values"].items():
                want = (pair["notebook"] or {}).get("shape")
                got = pair["pipeline"]["shape"]
                mark = "ok" if want == got else "DIFFERS"
                click.echo(f"{row['step']:<14} {name:<20} notebook {want} pipeline {got} {mark}")
        for key, entry in report.metrics.items():
            mark = "ok" if entry["same"] else "DIFFERS"
            click.echo(
                f"metric {key:<24} notebook {entry['notebook']} pipeline {entry['pipeline']} {mark}"
            )
        for shown in report.shown:
            mark = "ok" if shown["matched"] is not None else "ABSENT"
            click.echo(
                f"shown  cell {shown['cell']:<3} {shown['number']:<18} pipeline "
                f"{shown['matched']} {mark}"
            )
        click.echo(
            f"{len(report.metrics)} metrics from the code, {len(report.shown)} numbers shown "
            "in saved outputs"
        )
    if report.problem:
        click.echo(f"error: {report.problem}", err=True)
        sys.exit(1)
    if not report.ok:
        first = next(d for d in report.differences if d.step == report.first_mismatch)
        if first.pipeline == "(absent)":
            click.echo(
                f"error: metric {first.name} ({first.notebook} in the notebook) is absent from "
                f"the pipeline's results (step {report.first_mismatch!r}); see the plan's "
                "metrics for that step",
                err=True,
            )
        else:
            click.echo(
                f"error: mismatch starts at step {report.first_mismatch!r}: {first.name} is "
                f"{first.notebook} in the notebook but {first.pipeline} in the pipeline",
                err=True,
            )
        sys.exit(1)
    if not as_json:
        click.echo(f"verified: the pipeline ({runner}) reproduces the notebook")


def pipelines_command(project: ProjectAdapter) -> click.Command:
    """``pipelines``: the project's pipeline and every migrated one; ``*`` marks the default."""

    @click.command("pipelines")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def pipelines(as_json: bool) -> None:
        """List the pipelines `run --pipeline NAME` and `compile --pipeline NAME` accept."""
        from ..project import PROJECT_PIPELINE

        settings = project.load_settings()
        default = project.default_pipeline(settings)
        found = project.pipelines()
        rows = [
            {
                "name": p.name,
                "module": p.module,
                "plan": f"migrations/{p.name}.yaml",
                "default": p.name == default,
            }
            for p in found.values()
            if p.migrated
        ]
        if as_json:
            click.echo(
                json.dumps({"project": default == PROJECT_PIPELINE, "migrated": rows}, indent=2)
            )
            return
        click.echo(
            f"{'*' if default == PROJECT_PIPELINE else ' '} (project)  {project.package}.pipeline"
        )
        for row in rows:
            click.echo(f"{'*' if row['default'] else ' '} {row['name']:<10} {row['module']}")
        if default not in found:
            click.echo(f"error: default_pipeline {default!r} is not a migrated pipeline", err=True)
            sys.exit(2)

    return pipelines
