"""The deploy commands the project CLI mounts: ``for c in COMMANDS: cli.add_command(c)``.

serve, deploy, undeploy, endpoints, smoke-test, promote, rollback, batch-transform,
shadow-report, deployments. Errors are one line on stderr and exit code 1; refused
promotions exit 2 so scripts can tell "not allowed" from "broken".
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import settings
from . import operations

F = TypeVar("F", bound=Callable[..., Any])
EXIT_REFUSED = 2


def _one_line_errors(func: F) -> F:
    """Turn expected failures into one line on stderr and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sagepipe.sagemaker.errors import AwsError
        from sagepipe.serving import EndpointError, ModelLoadError, TransformError

        try:
            return func(*args, **kwargs)
        except operations.PromotionRefused as err:
            click.echo(f"refused: {err}", err=True)
            sys.exit(EXIT_REFUSED)
        except (
            ValueError,
            LookupError,
            EndpointError,
            ModelLoadError,
            TransformError,
            OSError,
            AwsError,
        ) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _workspace_option(func: F) -> F:
    return click.option(
        "--workspace",
        type=click.Path(path_type=Path),
        default=None,
        help="Workspace folder (default: SAGEPIPE_WORKSPACE or <project>/.mlops).",
    )(func)


def _stage_option(default: str | None = None) -> Callable[[F], F]:
    return click.option(
        "--stage",
        type=click.Choice(settings.STAGES),
        default=default,
        required=default is None,
        help="Stage whose settings (stages/<stage>.toml) to use.",
    )


def _target_option(func: F) -> F:
    return click.option(
        "--target",
        type=click.Choice(["local", "sagemaker"]),
        default=None,
        help="This machine or SageMaker (default: the stage's settings, else local).",
    )(func)


def _on_sagemaker(target: str | None, stage: str | None = None) -> bool:
    chosen = target or settings.load(stage).target
    return chosen == "sagemaker"


class ModelVersion(click.ParamType):
    """A registry version: a positive number, ``latest`` or (where allowed) ``latest-approved``.

    Every command's ``--version`` takes the same words, so ``serve`` and ``deploy`` agree.
    """

    name = "VERSION"

    def __init__(self, *, approved: bool = True) -> None:
        self.words = ("latest", "latest-approved") if approved else ("latest",)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        text = str(value).strip().lower()
        if text in self.words:
            return text
        if text.isdigit() and int(text) >= 1:
            return int(text)
        self.fail(
            f"{value!r} is not a version: use a number (1, 2, ...) or {' or '.join(self.words)}",
            param,
            ctx,
        )


JSON_HELP = "Print the result as JSON."


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.command()
@click.option(
    "--version",
    "version",
    type=ModelVersion(),
    default="latest-approved",
    show_default=True,
    help="Registry version number, 'latest' or 'latest-approved'.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Default: SAGEMAKER_BIND_TO_PORT or 8080.")
@click.option(
    "--workers", type=int, default=0, help="Default: SAGEMAKER_MODEL_SERVER_WORKERS or cores."
)
@click.option("--capture/--no-capture", default=False, help="Write data capture for this server.")
@_workspace_option
@_one_line_errors
def serve(
    version: int | str,
    host: str,
    port: int | None,
    workers: int,
    capture: bool,
    workspace: Path | None,
) -> None:
    """Serve a registered model in the foreground (Ctrl-C stops it)."""
    from sagepipe.registry import parse_version
    from sagepipe.serving import (
        LATEST_APPROVED,
        CaptureSpec,
        EndpointSpec,
        ServerOptions,
        build_app,
        default_port,
        default_timeout,
        package_id,
        prepare_variant,
        resolve_model,
        run_server,
    )

    ctx = operations.context(workspace)
    wanted = version if version == LATEST_APPROVED else parse_version(version)
    package = resolve_model(ctx.registry, ctx.group, wanted)
    port = default_port() if port is None else port
    name = f"{operations.endpoint_name('dev')}-{port}"
    spec = EndpointSpec(
        endpoint_name=name,
        variants=[prepare_variant(package, ctx.workspace, name="AllTraffic")],
        capture=CaptureSpec(
            enabled=capture, destination=str(operations.capture_destination(ctx, "dev"))
        ),
        timeout_seconds=default_timeout(),
    )
    build_app(spec)  # fail here, with one line, rather than in every worker
    options = ServerOptions(host=host, port=port, workers=workers)
    count = options.resolved_workers()  # a bad SAGEMAKER_MODEL_SERVER_WORKERS fails here
    spec_path = ctx.workspace / "endpoints" / name / "spec.json"
    spec.write(spec_path)
    click.echo(
        f"serving {package_id(package)} on http://{host}:{port} with {count} workers "
        "(Ctrl-C to stop)",
        err=True,
    )
    run_server(spec_path, options)


@click.command()
@_stage_option()
@click.option(
    "--version",
    type=ModelVersion(),
    default=None,
    help="Serve this version (a number, 'latest' or 'latest-approved') instead of the "
    "stage's rule.",
)
@click.option(
    "--shadow-version",
    type=ModelVersion(),
    default=None,
    help="Copy traffic to this version (shadow test).",
)
@click.option(
    "--shadow-percentage",
    type=click.FloatRange(0, 100),
    default=None,
    help="Share of requests copied to the shadow variant (default: the stage's setting).",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --stage prod: deploy even if promote's gates (Approved, passed staging smoke "
    "test) refuse the version; the deployment history records that the gates were skipped.",
)
@click.option("--port", type=int, default=None, help="Override the stage's port.")
@click.option("--workers", type=int, default=None, help="Override the stage's worker count.")
@click.option("--json", "as_json", is_flag=True, help="Print the endpoint as JSON.")
@_target_option
@_workspace_option
@_one_line_errors
def deploy(
    stage: str,
    version: int | str | None,
    shadow_version: int | str | None,
    shadow_percentage: float | None,
    force: bool,
    port: int | None,
    workers: int | None,
    as_json: bool,
    target: str | None,
    workspace: Path | None,
) -> None:
    """Start (or switch) the stage's endpoint; returns once it answers /ping."""
    if _on_sagemaker(target, stage):
        from . import sagemaker_target

        result = sagemaker_target.deploy(
            stage,
            version=version,
            shadow_version=shadow_version,
            shadow_percentage=shadow_percentage,
        )
        click.echo(json.dumps(result, indent=2) if as_json else sagemaker_target.summary(result))
        return
    ctx = operations.context(workspace)
    state = operations.deploy(
        ctx,
        stage,
        version=version,
        shadow_version=shadow_version,
        shadow_percentage=shadow_percentage,
        port=port,
        workers=workers,
        force=force,
    )
    if as_json:
        _echo_json(state.to_dict())
    else:
        shadow = f", shadow {state.shadow_package}" if state.shadow_package else ""
        click.echo(
            f"{state.name} InService at {state.url} serving {state.model_package}{shadow} "
            f"(pid {state.pid})"
        )


@click.command()
@_stage_option()
@_target_option
@_workspace_option
@_one_line_errors
def undeploy(stage: str, target: str | None, workspace: Path | None) -> None:
    """Stop the stage's endpoint (in-flight requests finish first)."""
    if _on_sagemaker(target, stage):
        from . import sagemaker_target

        gone = sagemaker_target.undeploy(stage)
        click.echo(
            f"deleted {gone['EndpointName']}" if gone else f"no {stage} endpoint on SageMaker"
        )
        return
    ctx = operations.context(workspace)
    state = operations.undeploy(ctx, stage)
    if state is None:
        click.echo(f"no {stage} endpoint was running")
    else:
        click.echo(f"stopped {state.name} ({state.model_package}, pid {state.pid})")


@click.command(name="endpoints")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@_target_option
@_workspace_option
@_one_line_errors
def endpoints_command(as_json: bool, target: str | None, workspace: Path | None) -> None:
    """List endpoints: stage, status, URL, version, PID (SageMaker's with --target)."""
    if _on_sagemaker(target):
        from . import sagemaker_target

        sagemaker_target.print_endpoints(sagemaker_target.list_endpoints(), as_json)
        return
    from sagepipe.serving import list_endpoints

    ctx = operations.context(workspace)
    states = list_endpoints(ctx.workspace)
    if as_json:
        _echo_json([s.to_dict() for s in states])
        return
    if not states:
        click.echo("no endpoints; start one with `deploy --stage staging`")
        return
    click.echo(f"{'STAGE':<9}{'STATUS':<11}{'URL':<24}{'MODEL':<32}{'SHADOW':<24}PID")
    for s in states:
        click.echo(
            f"{s.stage:<9}{s.status:<11}{s.url:<24}{s.model_package:<32}"
            f"{s.shadow_package or '-':<24}{s.pid}"
        )


@click.command(name="smoke-test")
@_stage_option("staging")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@_target_option
@_workspace_option
@_one_line_errors
def smoke_test(stage: str, as_json: bool, target: str | None, workspace: Path | None) -> None:
    """Send held-out rows to the running endpoint; check status, shape, latency, metrics."""
    if _on_sagemaker(target, stage):
        from . import sagemaker_target

        result = sagemaker_target.smoke_test(stage)
    else:
        result = operations.smoke_test(operations.context(workspace), stage)
    if as_json:
        _echo_json(result.to_dict())
    else:
        served = ", ".join(f"{k} {v:.4f}" for k, v in result.served_metrics.items())
        click.echo(
            f"{stage} version {result.version}: {result.rows} rows, {result.requests} requests, "
            f"p99 {result.p99_latency_ms:.1f} ms, {served}"
        )
        for failure in result.failures:
            click.echo(f"FAILED: {failure}")
        click.echo("PASSED" if result.passed else "smoke test failed")
    if not result.passed:
        sys.exit(1)


@click.command()
@click.option(
    "--version",
    type=ModelVersion(approved=False),
    default=None,
    help="A number or 'latest' (default: the version staging serves).",
)
@click.option("--port", type=int, default=None, help="Override prod's port.")
@click.option("--workers", type=int, default=None, help="Override prod's worker count.")
@_target_option
@_workspace_option
@_one_line_errors
def promote(
    version: int | str | None,
    port: int | None,
    workers: int | None,
    target: str | None,
    workspace: Path | None,
) -> None:
    """Deploy a version to prod if it is Approved and passed the staging smoke test."""
    if _on_sagemaker(target, "prod"):
        from . import sagemaker_target

        result = sagemaker_target.promote(version)
        click.echo(f"promoted {result['ModelPackageArn']} to prod ({result['EndpointName']})")
        return
    ctx = operations.context(workspace)
    state = operations.promote(ctx, version, port=port, workers=workers)
    click.echo(f"promoted {state.model_package} to prod at {state.url}")


@click.command()
@_stage_option("prod")
@click.option(
    "--to-version", type=int, default=None, help="Default: the previous Approved version served."
)
@click.option("--port", type=int, default=None, help="Override the stage's port.")
@click.option("--workers", type=int, default=None, help="Override the stage's worker count.")
@_target_option
@_workspace_option
@_one_line_errors
def rollback(
    stage: str,
    to_version: int | None,
    port: int | None,
    workers: int | None,
    target: str | None,
    workspace: Path | None,
) -> None:
    """Serve an earlier Approved version on a stage, in one step."""
    if _on_sagemaker(target, stage):
        from . import sagemaker_target

        result = sagemaker_target.rollback(stage, to_version)
        click.echo(f"rolled {stage} back to {result['ModelPackageArn']} ({result['EndpointName']})")
        return
    ctx = operations.context(workspace)
    state = operations.rollback(ctx, stage, to_version, port=port, workers=workers)
    click.echo(f"rolled {stage} back to {state.model_package} at {state.url}")


@click.command(name="batch-transform")
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--version",
    type=ModelVersion(),
    default="latest-approved",
    show_default=True,
    help="Registry version number, 'latest' or 'latest-approved'.",
)
@click.option(
    "--content-type", default="text/csv", show_default=True, help="Media type of the input."
)
@click.option(
    "--accept", default="text/csv", show_default=True, help="Media type of the predictions."
)
@click.option(
    "--split-type",
    type=click.Choice(["Line", "None"]),
    default="Line",
    show_default=True,
    help="Line: one record per line; None: each file is one record.",
)
@click.option(
    "--batch-strategy",
    type=click.Choice(["MultiRecord", "SingleRecord"]),
    default="MultiRecord",
    show_default=True,
    help="Send many records per request (up to --max-payload-mb) or one.",
)
@click.option(
    "--max-payload-mb",
    type=float,
    default=6.0,
    show_default=True,
    help="Largest request body, in MB (SageMaker's MaxPayloadInMB).",
)
@click.option(
    "--assemble-with",
    type=click.Choice(["Line", "None"]),
    default="Line",
    show_default=True,
    help="Line: one prediction per line in the output; None: concatenated.",
)
@click.option("--input-filter", default="$", show_default=True, help="JSONPath, e.g. '$[1:]'.")
@click.option(
    "--join-source",
    type=click.Choice(["Input", "None"]),
    default="None",
    show_default=True,
    help="Input: write each input record next to its prediction.",
)
@click.option("--output-filter", default="$", show_default=True, help="JSONPath, e.g. '$[0,-1]'.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@_target_option
@_workspace_option
@_one_line_errors
def batch_transform(
    source: Path,
    output: Path,
    version: int | str,
    content_type: str,
    accept: str,
    split_type: str,
    batch_strategy: str,
    max_payload_mb: float,
    assemble_with: str,
    input_filter: str,
    join_source: str,
    output_filter: str,
    progress: bool,
    target: str | None,
    workspace: Path | None,
) -> None:
    """Run a registered model over a file or folder, like a SageMaker TransformJob."""
    if _on_sagemaker(target):
        from . import sagemaker_target

        options = dict(
            content_type=content_type,
            accept=accept,
            split_type=split_type,
            batch_strategy=batch_strategy,
            max_payload_mb=max_payload_mb,
            assemble_with=assemble_with,
            input_filter=input_filter,
            join_source=join_source,
            output_filter=output_filter,
        )
        job = sagemaker_target.batch_transform(source, output, version, options)
        click.echo(
            f"{job['TransformJobName']}: {job['Status']} -> {len(job['Files'])} files in {output}"
        )
        return
    from sagepipe.registry import parse_version
    from sagepipe.serving import (
        LATEST_APPROVED,
        TransformConfig,
        batch_transform,
        load_handler,
        package_id,
        prepare_variant,
        resolve_model,
    )

    ctx = operations.context(workspace)
    wanted = version if version == LATEST_APPROVED else parse_version(version)
    package = resolve_model(ctx.registry, ctx.group, wanted)
    variant = prepare_variant(package, ctx.workspace, name="AllTraffic")
    config = TransformConfig(
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        batch_strategy=batch_strategy,
        max_payload_mb=max_payload_mb,
        assemble_with=assemble_with,
        input_filter=input_filter,
        join_source=join_source,
        output_filter=output_filter,
    )
    result = batch_transform(
        load_handler(Path(variant.model_dir)), source, output, config, progress=progress
    )
    click.echo(
        f"{package_id(package)}: {result.records} records in {result.requests} requests "
        f"-> {', '.join(str(p) for p in result.files)}"
    )


@click.command(name="shadow-report")
@_stage_option("prod")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write an HTML page with charts here.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@_workspace_option
@_one_line_errors
def shadow_report(
    stage: str, html_path: Path | None, as_json: bool, workspace: Path | None
) -> None:
    """Compare the shadow variant with production: agreement, deltas, p50/p99 latency."""
    from sagepipe.serving import compare_shadow, shadow_html, shadow_table

    ctx = operations.context(workspace)
    config = settings.load(stage)
    report = compare_shadow(
        operations.capture_destination(ctx, stage),
        operations.endpoint_name(stage),
        config.variant.name,
        config.shadow.variant_name,
    )
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(shadow_html(report))
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(shadow_table(report))
        if html_path is not None:
            click.echo(f"chart: {html_path}")


@click.command()
@click.option("--stage", default=None, help="Only this stage.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@_workspace_option
@_one_line_errors
def deployments(stage: str | None, as_json: bool, workspace: Path | None) -> None:
    """Deployment history: who deployed which version to which stage, and when."""
    ctx = operations.context(workspace)
    rows = ctx.history.deployments(stage)
    if as_json:
        _echo_json([r.to_dict() for r in rows])
        return
    click.echo(f"{'AT':<27}{'USER':<12}{'ACTION':<10}{'STAGE':<9}{'VERSION':<9}SHADOW")
    for r in rows:
        click.echo(
            f"{r.at:<27}{r.user:<12}{r.action:<10}{r.stage:<9}{r.version or '-'!s:<9}"
            f"{r.shadow_version or '-'}" + (f"  {r.note}" if r.note else "")
        )


COMMANDS: list[click.Command] = [
    serve,
    deploy,
    undeploy,
    endpoints_command,
    smoke_test,
    promote,
    rollback,
    batch_transform,
    shadow_report,
    deployments,
]


@click.group()
def main() -> None:
    """The deploy commands on their own (the project CLI mounts the same commands)."""


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
