"""``baseline`` and ``monitor``: Model Monitor's checks over a stage's captured traffic.

``monitor --stage S`` reads what the stage's endpoint captured, compares it with the
baselines registered with the version deployed there (``DriftCheckBaselines``, else
``ModelMetrics``), writes Model Monitor's files under
``<workspace>/monitoring/<stage>/<UTC time>/`` and exits 0 when clean, 1 on any
violation, 2 on bad input, so a scheduler or CI can alert.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from .. import settings
from . import operations

EXIT_VIOLATIONS = 1
EXIT_USAGE = 2
_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``30m``, ``6h``, ``2d`` ago, or an ISO time (UTC unless it says otherwise)."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
        return now - timedelta(**{unit_name: amount})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: not a time; use e.g. 30m, 6h, 2d or 2026-01-31T12:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _local(ctx: operations.Context, uri: str) -> Path:
    from sagepipe.storage.objects import uri_to_path

    return uri_to_path(ctx.workspace / "s3", uri) if uri.startswith("s3://") else Path(uri)


def _baseline_file(ctx: operations.Context, source: dict[str, Any], name: str) -> Path | None:
    uri = (source or {}).get("S3Uri")
    if not uri:
        return None
    path = _local(ctx, str(uri))
    return path / name if path.is_dir() else path


def deployed_version(ctx: operations.Context, stage: str) -> int:
    """The version the stage's endpoint serves (or served last)."""
    for row in reversed(ctx.history.deployments(stage)):
        if row.version is not None and row.model_package_group == ctx.group:
            return int(row.version)
    raise LookupError(
        f"nothing was ever deployed to {stage}; run `deploy --stage {stage}` first or pass "
        "--version N"
    )


def baselines_of(ctx: operations.Context, package: Any) -> tuple[Path, Path]:
    """The data-quality statistics and constraints registered with ``package``."""
    for section in (package.drift_check_baselines, package.model_metrics):
        block = (section or {}).get("ModelDataQuality") or {}
        statistics = _baseline_file(ctx, block.get("Statistics", {}), "statistics.json")
        constraints = _baseline_file(ctx, block.get("Constraints", {}), "constraints.json")
        if statistics and constraints:
            return statistics, constraints
    raise LookupError(
        f"{package.group} version {package.version} has no data-quality baseline "
        "(DriftCheckBaselines.ModelDataQuality); re-run the pipeline, which baselines the "
        "training data, or pass --baseline DIR (from the `baseline` command)"
    )


def quality_constraints(ctx: operations.Context, package: Any) -> dict[str, Any] | None:
    """Model-quality constraints of ``package``: registered, else from its evaluation."""
    from sagepipe.monitor.baseline import read_json
    from sagepipe.monitor.model_quality import CONSTRAINTS_KEY, suggest_quality_constraints

    for section in (package.drift_check_baselines, package.model_metrics):
        block = (section or {}).get("ModelQuality") or {}
        path = _baseline_file(ctx, block.get("Constraints", {}), "constraints.json")
        if path is not None and path.is_file():
            document = read_json(path, "model quality constraints")
            if CONSTRAINTS_KEY in document:
                return document
        path = _baseline_file(ctx, block.get("Statistics", {}), "statistics.json")
        if path is not None and path.is_file():
            return suggest_quality_constraints(read_json(path, "model quality statistics"))
    return None


@click.command(name="baseline")
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder to write."
)
@click.option(
    "--exclude",
    multiple=True,
    help="Column to leave out, e.g. the label (repeatable).",
)
def baseline_command(dataset: Path, output: Path, exclude: tuple[str, ...]) -> None:
    """Write statistics.json and constraints.json (Model Monitor's layouts) of a CSV dataset."""
    from sagepipe.monitor.baseline import BaselineError, baseline

    try:
        statistics, _ = baseline(dataset, output, exclude=exclude)
    except (BaselineError, OSError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(
        f"baselined {statistics['dataset']['item_count']} rows, "
        f"{len(statistics['features'])} features -> {output}"
    )


@click.command(name="monitor")
@click.option(
    "--stage",
    type=click.Choice(settings.STAGES),
    required=True,
    help="Stage whose captured traffic to check.",
)
@click.option("--since", default=None, help="Only traffic since: 30m, 6h, 2d or an ISO time.")
@click.option("--version", type=int, default=None, help="Baselines of this version instead.")
@click.option(
    "--baseline",
    "baseline_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder with statistics.json and constraints.json to use instead.",
)
@click.option(
    "--ground-truth",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Ground-truth JSON lines (Model Monitor's layout) for model quality.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the results (default: a new folder under the workspace's monitoring/).",
)
@click.option("--html", is_flag=True, help="Also write report.html with distribution plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
)
def monitor_command(
    stage: str,
    since: str | None,
    version: int | None,
    baseline_dir: Path | None,
    ground_truth: Path | None,
    output: Path | None,
    html: bool,
    as_json: bool,
    workspace: Path | None,
) -> None:
    """Check a stage's captured traffic against its model's baselines (exit 1 on violations)."""
    import json

    from sagepipe.monitor.baseline import BaselineError
    from sagepipe.monitor.job import monitor
    from sagepipe.monitor.model_quality import GroundTruthError

    try:
        ctx = operations.context(workspace)
        config = settings.load(stage)
        started = parse_since(since)
        package = None
        if baseline_dir is not None:
            statistics, constraints = (
                baseline_dir / "statistics.json",
                baseline_dir / "constraints.json",
            )
        else:
            wanted = version if version is not None else deployed_version(ctx, stage)
            package = ctx.registry.describe(ctx.group, wanted)
            statistics, constraints = baselines_of(ctx, package)
        if package is None and version is not None:
            package = ctx.registry.describe(ctx.group, version)
        capture = (
            operations.capture_destination(ctx, stage)
            / operations.endpoint_name(stage)
            / config.variant.name
        )
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%SZ")
        target = output or ctx.workspace / "monitoring" / stage / stamp
        result = monitor(
            capture,
            statistics,
            constraints,
            target,
            since=started,
            ground_truth=ground_truth,
            quality_constraints=quality_constraints(ctx, package) if package else None,
            html=html,
            title=f"{operations.endpoint_name(stage)}: data and model quality",
            model=f"{package.group}/{package.version}" if package else None,
        )
    except (BaselineError, GroundTruthError, LookupError, ValueError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print(result, stage)
    sys.exit(0 if result.clean else EXIT_VIOLATIONS)


def _print(result: Any, stage: str) -> None:
    click.echo(f"{stage}: {result.events} captured requests, {result.rows} rows")
    if result.events == 0:
        click.echo("no captured traffic in this window (is capture enabled in the stage file?)")
    for drift in sorted(result.drifts, key=lambda d: -d.distance):
        mark = "DRIFT" if drift.drifted else "ok"
        click.echo(f"  {drift.feature:<20} {drift.distance:8.4f} / {drift.threshold:g}  {mark}")
    for v in result.violations:
        click.echo(
            f"VIOLATION {v['constraint_check_type']} {v['feature_name']}: {v['description']}"
        )
    if result.quality is not None:
        metrics = result.quality["binary_classification_metrics"]
        shown = ", ".join(
            f"{name} {metrics[name]['value']:.4f}"
            for name in ("accuracy", "f1", "auc")
            if isinstance(metrics[name]["value"], float)
        )
        click.echo(f"model quality on {result.matched_rows} labelled rows: {shown}")
        for v in result.quality_violations:
            click.echo(
                f"VIOLATION {v['constraint_check_type']} {v['metric_name']}: {v['description']}"
            )
    click.echo(f"results: {result.output}")
    if (result.output / "report.html").is_file():
        click.echo(f"report: {result.output / 'report.html'}")
    click.echo("no violations" if result.clean else "violations found")


COMMANDS: list[click.Command] = [baseline_command, monitor_command]
