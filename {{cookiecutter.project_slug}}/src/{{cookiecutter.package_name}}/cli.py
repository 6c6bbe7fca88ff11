"""The project's command line: ``python -m {{ cookiecutter.package_name }}`` or ``{{ cookiecutter.project_slug }}``.

One command group. The run, history and registry commands come from ``sagepipe.cli``
(shared with ``python -m sagepipe``); this module adds what is specific to the project:
compiling its pipeline and making example data. Settings are read when a command runs,
never at import. Exit codes: 0 ok, 1 the run failed, 2 bad input, 130 stopped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from . import settings as project_settings
from .adapter import project
from .workspace import default_workspace


def _set_stage(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    # Settings are read on call; the stage option only chooses which ones they return.
    if value:
        os.environ[project_settings.ENV_PREFIX + "STAGE"] = value
    return value


def _settings_stage_option() -> click.Option:
    """``--stage`` for commands that read settings, so ``compile --stage prod`` works like
    ``--stage prod compile``."""
    return click.Option(
        ["--stage"],
        type=click.Choice(project_settings.STAGES),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_stage,
        help="Settings stage (default: $MLOPS_STAGE or dev).",
    )


def _add_stage_options(command: click.Command) -> None:
    """Give ``command`` (and a group's subcommands) ``--stage`` unless it has its own."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_stage_options(sub)
        if not command.invoke_without_command:
            return  # a plain group only dispatches; `runs` also lists by itself
    if not any("--stage" in getattr(param, "opts", ()) for param in command.params):
        command.params.append(_settings_stage_option())


def _build_definition(
    workspace: Path, data: Path | None = None, pipeline: str | None = None
) -> dict[str, Any]:
    """Called by ``run``: compile the chosen pipeline and stage code and data (``--data``)."""
    from sagepipe.prepare import prepare_run

    try:
        return prepare_run(project, workspace, pipeline=pipeline, data=data).definition
    except (FileNotFoundError, ValueError) as error:
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(2) from None


def _run_label(data: Path | None = None, pipeline: str | None = None) -> str:
    """Called by ``run``: the name a local run is recorded under (``runs``, lineage): the
    project's for its own pipeline, a migrated pipeline's own name (``pipelines``) for it."""
    try:
        entry = project.pipeline(pipeline, project_settings.load())
    except ValueError as error:  # bad settings or an unknown pipeline (ProjectError): exit 2
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(2) from None
    return entry.name if entry.migrated else "{{ cookiecutter.project_slug }}"


def _listed_pipelines(target: str, pipeline: str | None) -> list[str] | None:
    """Called by ``runs``: whose executions to list. Locally every run (or those
    ``pipeline``'s runs are recorded under); on SageMaker the project pipeline's and every
    migrated one's, or ``pipeline``'s only."""
    if target != "sagemaker":
        return None if pipeline is None else [_run_label(pipeline=pipeline)]
    from . import aws

    try:
        return aws.pipeline_names(pipeline)
    except ValueError as error:  # bad settings or an unknown pipeline (ProjectError): exit 2
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(2) from None


@click.command("compile")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the pipeline definition JSON.",
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write the code objects here (default: $SAGEPIPE_WORKSPACE or .mlops).",
)
@click.option("--pipeline", default=None, help="A pipeline's name (see `pipelines`).")
def compile_command(output: Path, workspace: Path | None, pipeline: str | None) -> None:
    """Compile the pipeline to SageMaker's definition JSON (offline, byte-reproducible).

    The code objects it points at are written to the workspace's local S3 folder and the
    sample data is staged, so `python -m sagepipe run FILE` can run the file directly.
    """
    from sagepipe.prepare import prepare_run

    workspace = workspace or default_workspace()
    try:  # bad settings: the same one line and exit code as `run`
        compiled = prepare_run(project, workspace, pipeline=pipeline, reuse=False).compiled
    except (FileNotFoundError, ValueError) as error:
        click.echo(f"error: {error}", err=True)
        raise click.exceptions.Exit(2) from None
    assert compiled is not None  # reuse=False always compiles
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(compiled.to_json())
    steps = len(compiled.definition["Steps"])
    click.echo(
        f"wrote {output} ({steps} top-level steps, {len(compiled.artifacts)} code objects "
        f"in {workspace / 's3'})"
    )


@click.command("make-data")
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=None,
    help="Number of customers (default: the shipped sample's size). Planted "
    "duplicates add about 1%.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default 42).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV file to write, e.g. data/raw/churn.csv or /tmp/churn-1m.csv.",
)
def make_data(rows: int | None, seed: int | None, output: Path) -> None:
    """Generate the example churn data deterministically (no download needed)."""
    from . import data

    written = data.write_csv(
        output, rows or data.SAMPLE_ROWS, data.DEFAULT_SEED if seed is None else seed
    )
    click.echo(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")


def make_cli() -> click.Group:
    """Build the command group; settings are only read inside the commands."""
    from sagepipe.cli import (
        make_registry_group,
        make_run_command,
        make_runs_command,
        make_stop_command,
    )

    from . import aws

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--stage",
        type=click.Choice(project_settings.STAGES),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_stage,
        help="Settings stage (default: $MLOPS_STAGE or dev).",
    )
    def main() -> None:
        """{{ cookiecutter.project_name }}: build, register and serve the model locally or on SageMaker."""

    run = make_run_command(
        build=_build_definition,
        pipeline_name="{{ cookiecutter.project_slug }}",
        workspace_default=default_workspace,
        aws_prepare=aws.prepare,
        target_default=aws.target_default,
        runtimes=project_settings.runtime_resolver,
        mlflow=project_settings.mlflow_target,
        label=_run_label,
    )
    run.params.append(
        click.Option(
            ["--data"],
            type=click.Path(exists=True, path_type=Path),
            default=None,
            help="Raw CSV file or folder to run on (default: data/raw from settings).",
        )
    )
    run.params.append(
        click.Option(["--pipeline"], default=None, help="A pipeline's name (see `pipelines`).")
    )
    main.add_command(run)
    main.add_command(compile_command)
    main.add_command(
        make_runs_command(
            workspace_default=default_workspace,
            aws_target=aws.target,
            target_default=aws.target_default,
            pipelines=_listed_pipelines,
        )
    )
    main.add_command(make_stop_command(aws.target, pipelines=aws.pipeline_names))
    main.add_command(
        make_registry_group(
            default_group=lambda: project_settings.load().model_package_group,
            workspace_default=default_workspace,
            aws_target=aws.target,
            target_default=aws.target_default,
        )
    )
    main.add_command(make_data)
    for name in ("run", "compile", "runs", "registry"):
        _add_stage_options(main.commands[name])

    # Other command groups are mounted here.
    from .deploy.commands import COMMANDS as DEPLOY_COMMANDS

    for command in DEPLOY_COMMANDS:
        main.add_command(command)
    from .deploy.explain import COMMANDS as EXPLAIN_COMMANDS
    from .deploy.monitoring import COMMANDS as MONITOR_COMMANDS
    from .governance import COMMANDS as GOVERNANCE_COMMANDS

    for command in [*MONITOR_COMMANDS, *GOVERNANCE_COMMANDS, *EXPLAIN_COMMANDS]:
        main.add_command(command)

    from sagepipe.migrate.cli import migrate, pipelines_command

    main.add_command(migrate)
    main.add_command(pipelines_command(project))
    return main


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; it ends the process (see ``sagepipe.quick_exit``)."""
    from sagepipe.quick_exit import exit_after

    exit_after(lambda: make_cli()(args=argv, prog_name="{{ cookiecutter.project_slug }}"))
