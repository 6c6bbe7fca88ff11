"""``baseline`` and ``monitor``: Model Monitor's checks over a stage's captured traffic.

``monitor --stage S`` reads what the stage's endpoint captured, compares it with the
baselines registered with the version deployed there (``DriftCheckBaselines``, else
``ModelMetrics``), writes Model Monitor's files under
``<workspace>/monitoring/<stage>/<UTC time>/`` and exits 0 when clean, 1 on any
violation, 2 on bad input, so a scheduler or CI can alert.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from .. import settings
from . import operations

EXIT_VIOLATIONS = 1
EXIT_USAGE = 2


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``30m``, ``6h``, ``2d`` ago, or an ISO time (UTC unless it says otherwise)."""
    from sagepipe.monitor.window import parse_since as parse

    return parse(text, now)


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
    notebook = migrated_from(package)
    if notebook is not None:
        raise LookupError(
            f"{package.group} version {package.version} has no data-quality baseline: the "
            f"pipeline migrated from {notebook} registered it and has no training-data "
            "baseline step; write one from the rows the model was trained on with `baseline "
            "TRAIN.csv -o DIR --exclude LABEL` and pass --baseline DIR (or add a QualityCheck "
            "feeding RegisterModel's drift_check_baselines, as pipeline.py does)"
        )
    raise LookupError(
        f"{package.group} version {package.version} has no data-quality baseline "
        "(DriftCheckBaselines.ModelDataQuality); re-run the pipeline, which baselines the "
        "training data, or pass --baseline DIR (from the `baseline` command)"
    )


def migrated_from(package: Any) -> str | None:
    """The notebook a migrated pipeline's version came from (None: the project pipeline's)."""
    from sagepipe.compile_lineage import MIGRATED_FROM

    return (package.customer_metadata or {}).get(MIGRATED_FROM)


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
@click.option(
    "--target",
    type=click.Choice(["local", "sagemaker"]),
    default=None,
    help="Here, or a SageMaker Processing job over the S3 capture (default: the stage's "
    "settings, else local).",
)
@click.option(
    "--schedule",
    "schedule_expression",
    default=None,
    metavar="EXPR",
    help="SageMaker: run on this EventBridge schedule, e.g. 'rate(1 day)' or "
    "'cron(0 6 * * ? *)' (creates or updates the stage's schedule).",
)
@click.option("--unschedule", is_flag=True, help="SageMaker: delete the stage's schedule.")
@click.option("--wait", is_flag=True, help="SageMaker: follow the job and fetch its results.")
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
    target: str | None,
    schedule_expression: str | None,
    unschedule: bool,
    wait: bool,
) -> None:
    """Check a stage's captured traffic against its model's baselines (exit 1 on violations).

    With --target sagemaker the same job runs as a SageMaker Processing job over what the
    endpoint captured in S3, once or, with --schedule, on an EventBridge schedule.
    """
    import json

    from sagepipe.monitor.baseline import BaselineError
    from sagepipe.monitor.job import monitor
    from sagepipe.monitor.model_quality import GroundTruthError

    on_sagemaker = (target or _stage_target(stage)) == "sagemaker"
    if on_sagemaker:
        _on_sagemaker(
            stage,
            since=since,
            version=version,
            baseline_dir=baseline_dir,
            ground_truth=ground_truth,
            output=output,
            as_json=as_json,
            workspace=workspace,
            schedule_expression=schedule_expression,
            unschedule=unschedule,
            wait=wait,
        )
        return
    if schedule_expression or unschedule or wait:
        flag = "--schedule" if schedule_expression else "--unschedule" if unschedule else "--wait"
        click.echo(
            f"error: {flag} is for SageMaker: add --target sagemaker (locally, run "
            "`monitor --stage STAGE` from cron or CI; it exits 1 on violations)",
            err=True,
        )
        sys.exit(EXIT_USAGE)
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
        folder = output or ctx.workspace / "monitoring" / stage / stamp
        result = monitor(
            capture,
            statistics,
            constraints,
            folder,
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


def _stage_target(stage: str) -> str:
    try:
        return settings.load(stage).target
    except ValueError:
        return "local"  # bad settings: the command itself reports them in one line


def _on_sagemaker(stage: str, **options: Any) -> None:
    """``monitor --target sagemaker``: once, on a schedule, or remove the schedule."""
    import json

    from sagepipe.sagemaker.errors import AwsError
    from sagepipe.sagemaker.poll import WaitTimeout

    for name, flag in (("baseline_dir", "--baseline"), ("ground_truth", "--ground-truth")):
        if options[name] is not None:
            click.echo(
                f"error: {flag} is not available with --target sagemaker: the job reads the "
                "baselines registered with the version on SageMaker; run it locally, or "
                "pass --version N",
                err=True,
            )
            sys.exit(EXIT_USAGE)
    from . import sagemaker_monitoring as aws

    try:
        if options["unschedule"]:
            removed = aws.unschedule(stage)
            name = aws.schedule_name(stage)
            click.echo(
                f"deleted schedule {name}" if removed else f"no schedule {name}; nothing to do"
            )
            return
        parse_since(options["since"])  # one line naming the value, before any AWS call
        if options["schedule_expression"]:
            result = aws.schedule(
                stage,
                options["schedule_expression"],
                version=options["version"],
                since=options["since"],
            )
            if options["as_json"]:
                click.echo(json.dumps(result, indent=2))
            else:
                verb = "created" if result["Created"] else "updated"
                click.echo(
                    f"{verb} schedule {result['ScheduleName']} ({result['ScheduleExpression']}): "
                    f"each run checks the {result['Window']} before it against "
                    f"{result['Model']}'s baseline; results under {result['OutputUri']}/"
                )
            return
        ctx = operations.context(options["workspace"])
        output = options["output"]
        result = aws.run_once(
            stage,
            version=options["version"],
            since=options["since"],
            wait=options["wait"],
            # Beside the local runs' results, so `lineage` lists this run too.
            download_to=lambda job: output or ctx.workspace / "monitoring" / stage / job,
        )
    except (AwsError, LookupError, ValueError, WaitTimeout) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if options["as_json"]:
        click.echo(json.dumps(result, indent=2, default=str))
    else:
        _print_remote(result)
    if options["wait"]:
        summary = result.get("Summary") or {}
        clean = result.get("ProcessingJobStatus") == "Completed" and bool(summary.get("clean"))
        sys.exit(0 if clean else EXIT_VIOLATIONS)


def _print_remote(result: dict[str, Any]) -> None:
    click.echo(f"started {result['ProcessingJobName']} checking against {result['Model']}")
    click.echo(f"results: {result['OutputUri']}/")
    if "ProcessingJobStatus" not in result:
        click.echo("follow it with --wait, or in the SageMaker console (Processing jobs)")
        return
    status = result["ProcessingJobStatus"]
    if status != "Completed":
        click.echo(f"job {status}: {result.get('FailureReason') or 'no reason given'}")
        return
    summary = result.get("Summary")
    if summary is None:
        click.echo("the job completed but wrote no summary.json; see its CloudWatch log")
        return
    click.echo(f"{summary['events']} captured requests, {summary['rows']} rows")
    for v in summary["violations"]:
        click.echo(
            f"VIOLATION {v['constraint_check_type']} {v['feature_name']}: {v['description']}"
        )
    if result.get("Downloaded"):
        click.echo(f"downloaded to {result['Downloaded']}")
        if Path(result["Downloaded"], "report.html").is_file():
            click.echo(f"report: {Path(result['Downloaded'], 'report.html')}")
    click.echo("no violations" if summary["clean"] else "violations found")


@click.command(name="monitor-schedules")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def monitor_schedules_command(as_json: bool) -> None:
    """List the project's monitoring schedules on AWS (EventBridge Scheduler)."""
    import json

    from sagepipe.sagemaker.errors import AwsError

    from . import sagemaker_monitoring as aws

    try:
        rows = aws.list_schedules()
    except (AwsError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            "no monitoring schedules; create one with `monitor --stage STAGE --target "
            "sagemaker --schedule 'rate(1 day)'`"
        )
        return
    click.echo(f"{'SCHEDULE':<36}{'STATE':<10}{'EXPRESSION':<22}ENDPOINT")
    for row in rows:
        click.echo(
            f"{row['Name']:<36}{row['State']:<10}{row['ScheduleExpression']:<22}"
            f"{row['EndpointName']}"
        )


COMMANDS: list[click.Command] = [baseline_command, monitor_command, monitor_schedules_command]
