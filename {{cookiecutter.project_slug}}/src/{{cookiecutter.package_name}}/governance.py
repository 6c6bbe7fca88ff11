"""``model-card`` and ``lineage``: governance records of a registered model version.

The model card's human part (purpose, intended uses, risk rating, caveats) lives in
``model_card.toml`` at the project root: edit it, reviewers read it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
@click.option(
    "--target",
    type=click.Choice(["local", "sagemaker"]),
    default=None,
    help="sagemaker: create (or update) the card on SageMaker, linked to the model package "
    "(default: the stage's settings, else local).",
)
@click.option(
    "--status",
    type=click.Choice(["Draft", "PendingReview", "Approved", "Archived"]),
    default="Draft",
    show_default=True,
    help="SageMaker: the card's review status.",
)
def model_card(
    version: str,
    output: Path | None,
    html: bool,
    card_file: Path | None,
    workspace: Path | None,
    target: str | None,
    status: str,
) -> None:
    """Write a SageMaker model card (content schema validated) for a registered version.

    With --target sagemaker the card is created on SageMaker (a new card version when it
    changed) with the same content plus model_package_details, which links it to the
    version's model package; its ARN is printed.
    """
    from sagepipe.governance.model_card import (
        ModelCardError,
        build_card,
        load_team_file,
        render_html,
        validate,
    )
    from sagepipe.registry import RegistryError
    from sagepipe.sagemaker.errors import AwsError

    on_sagemaker = (target or _stage_target()) == "sagemaker"
    try:
        package = _remote_package(version) if on_sagemaker else _package(workspace, version)[1]
        team = load_team_file(card_file or settings.project_root() / TEAM_FILE)
        card = build_card(package, team)
        validate(card)
    except (ModelCardError, RegistryError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    except (AwsError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if on_sagemaker:
        _publish(package, card, status)
    text = json.dumps(card, indent=2) + "\n"
    title = f"Model card: {package.group} version {package.version}"
    if on_sagemaker and output is None and not html:
        return  # the card is on SageMaker; -o or --html also keep a copy here
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


def _stage_target() -> str:
    try:
        return settings.load().target
    except ValueError:
        return "local"  # bad settings: the command itself reports them in one line


def _remote_package(version: str) -> ModelPackage:
    from sagepipe.registry import parse_version

    from .deploy.sagemaker_target import remote

    ctx = remote()
    wanted = version if version in ("latest", "latest-approved") else parse_version(version)
    return ctx.registry.describe(ctx.group, wanted)


def _publish(package: ModelPackage, card: dict[str, Any], status: str) -> None:
    """Create or update the version's card on SageMaker; print its ARN (exit 1 on failure)."""
    from sagepipe.sagemaker import model_cards
    from sagepipe.sagemaker.errors import AwsError

    from .deploy.sagemaker_target import remote, say

    try:
        ctx = remote()
        published = model_cards.publish(
            ctx.sm,
            model_cards.card_name(package.group, package.version),
            model_cards.content_for(card, package),
            status=status,
            tags=ctx.target.tags,
            echo=say,
        )
    except (AwsError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if published.action == "unchanged":
        say(f"model card {published.name} already holds this content; nothing to change")
    click.echo(
        f"{published.action} model card {published.arn} (card version {published.version}) "
        f"for {package.arn}"
    )


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
