"""``model-card`` and ``lineage``: governance records of a registered model version.

The model card's human part (purpose, intended uses, risk rating, caveats) lives in
``model_card.toml`` at the project root: edit it, reviewers read it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import settings
from .deploy import operations

if TYPE_CHECKING:
    from sagepipe.registry import ModelPackage

EXIT_USAGE = 2
TEAM_FILE = "model_card.toml"


def _package(workspace: Path | None, version: str) -> tuple[operations.Context, ModelPackage]:
    from sagepipe.registry import parse_version

    ctx = operations.context(workspace)
    return ctx, ctx.registry.describe(ctx.group, parse_version(version))


@click.command(name="model-card")
@click.argument("version")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the card JSON here (default: print it).",
)
@click.option("--html", is_flag=True, help="Also write an HTML rendering (OUTPUT.html).")
@click.option(
    "--card-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The team's model card file (default: <project>/{TEAM_FILE}).",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
)
def model_card(
    version: str, output: Path | None, html: bool, card_file: Path | None, workspace: Path | None
) -> None:
    """Write a SageMaker model card (content schema validated) for a registered version."""
    from sagepipe.governance.model_card import (
        ModelCardError,
        build_card,
        load_team_file,
        render_html,
        validate,
    )
    from sagepipe.registry import RegistryError

    try:
        _, package = _package(workspace, version)
        team = load_team_file(card_file or settings.project_root() / TEAM_FILE)
        card = build_card(package, team)
        validate(card)
    except (ModelCardError, RegistryError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    text = json.dumps(card, indent=2) + "\n"
    title = f"Model card: {package.group} version {package.version}"
    if output is None:
        click.echo(text, nl=False)
        if html:
            page = Path(f"model-card-v{package.version}.html")
            page.write_text(render_html(card, title), encoding="utf-8")
            click.echo(f"html: {page}", err=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")
    if html:
        page = output.with_suffix(".html")
        page.write_text(render_html(card, title), encoding="utf-8")
        click.echo(f"wrote {page}")


@click.command(name="lineage")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a tree.")
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
)
def lineage(version: str, as_json: bool, workspace: Path | None) -> None:
    """Show where a version came from and where it went: data, code, steps, deployments."""
    from sagepipe.governance.lineage import build_lineage, render_tree
    from sagepipe.local.history import RunHistory
    from sagepipe.registry import RegistryError

    try:
        ctx, package = _package(workspace, version)
    except (RegistryError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    execution_id = package.lineage.execution_id
    execution = (
        RunHistory(ctx.workspace / "runs.db").get_execution(execution_id) if execution_id else None
    )
    deployments_db = ctx.workspace / "deployments.db"
    document = build_lineage(
        package,
        execution=execution,
        deployments=ctx.history.deployments() if deployments_db.exists() else [],
        monitoring_root=ctx.workspace / "monitoring",
    )
    if as_json:
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        click.echo(render_tree(document))


COMMANDS: list[click.Command] = [model_card, lineage]
