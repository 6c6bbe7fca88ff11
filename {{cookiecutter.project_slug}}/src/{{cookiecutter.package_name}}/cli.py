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
from .workspace import default_workspace, prepare


def _set_stage(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    # Settings are read on call; the stage option only chooses which ones they return.
    if value:
        os.environ[project_settings.ENV_PREFIX + "STAGE"] = value
    return value


def _build_definition(workspace: Path, data: Path | None = None) -> dict[str, Any]:
    """Called by ``run``: compile the pipeline and stage code and data (``--data``)."""
    try:
        return prepare(workspace, data=data)
    except (FileNotFoundError, ValueError) as error:
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
def compile_command(output: Path, workspace: Path | None) -> None:
    """Compile the pipeline to SageMaker's definition JSON (offline, byte-reproducible).

    The code objects it points at are written to the workspace's local S3 folder and the
    sample data is staged, so `python -m sagepipe run FILE` can run the file directly.
    """
    from .pipeline import compile_definition

    settings = project_settings.load()
    compiled = compile_definition(settings)
    workspace = workspace or default_workspace()
    prepare(workspace, settings)
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
    from sagepipe.cli import make_registry_group, make_run_command, make_runs_command

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
        runtimes=project_settings.runtime_resolver,
    )
    run.params.append(
        click.Option(
            ["--data"],
            type=click.Path(exists=True, path_type=Path),
            default=None,
            help="Raw CSV file or folder to run on (default: data/raw from settings).",
        )
    )
    main.add_command(run)
    main.add_command(compile_command)
    main.add_command(make_runs_command(workspace_default=default_workspace))
    main.add_command(
        make_registry_group(
            default_group=lambda: project_settings.load().model_package_group,
            workspace_default=default_workspace,
        )
    )
    main.add_command(make_data)

    # Other command groups are mounted here.
    from .deploy.commands import COMMANDS as DEPLOY_COMMANDS

    for command in DEPLOY_COMMANDS:
        main.add_command(command)

    from sagepipe.migrate.cli import migrate

    main.add_command(migrate)
    return main


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    make_cli()(args=argv, prog_name="{{ cookiecutter.project_slug }}")
