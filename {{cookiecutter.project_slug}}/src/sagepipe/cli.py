"""Reusable click commands: ``run``, ``runs`` and ``registry`` for any pipeline.

``python -m sagepipe`` mounts them on a definition file; a project CLI mounts the same
factories with its own pipeline builder and model package group::

    cli.add_command(make_run_command(build=build_definition, pipeline_name="churn"))
    cli.add_command(make_runs_command())
    cli.add_command(make_registry_group(default_group="churn-model"))

Exit codes: 0 success, 1 the execution failed, 2 bad input (usage), 130 stopped.
Errors are one line on stderr: the value, the rule and the fix.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

# A plain exception class (no AWS SDK behind it): the SageMaker path raises it.
from .sagemaker.errors import AwsError
from .storage.workspace import default_workspace

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 130

WorkspaceDefault = Callable[[], Path]
# build(workspace) -> definition dict; it also writes the code objects the definition
# points at into the workspace's S3 folder (e.g. Compiled.write_artifacts(workspace / "s3")).
DefinitionBuilder = Callable[[Path], dict[str, Any]]


def fail_usage(message: str) -> None:
    """Print a one-line error and exit 2."""
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


TargetDefault = Callable[[], str]


def _target_option(default: TargetDefault | None) -> Callable[[Callable[..., Any]], Any]:
    # Resolved on call: the stage's settings say where its pipeline runs.
    return click.option(
        "--target",
        type=click.Choice(["local", "sagemaker"]),
        default=None,
        help="Where: this machine or SageMaker (default: the stage's settings, else local).",
        callback=lambda _ctx, _param, value: value or (default() if default else "local"),
    )


def _aws_failure(error: Exception) -> None:
    """An AWS or settings failure on the SageMaker path: one line, exit 1."""
    click.echo(f"error: {error}", err=True)
    raise click.exceptions.Exit(EXIT_FAILED)


def _workspace_option(default: WorkspaceDefault) -> Callable[[Callable[..., Any]], Any]:
    return click.option(
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
        callback=lambda _ctx, _param, value: value if value is not None else default(),
    )


# -- progress -----------------------------------------------------------------------------
_ASCII_SYMBOLS = {
    "Pending": ".",
    "Executing": ">",
    "Succeeded": "+",
    "Failed": "x",
    "Stopped": "#",
    "NotExecuted": "-",
}
_SYMBOLS = {
    "Pending": "·",
    "Executing": "▶",
    "Succeeded": "✓",
    "Failed": "✗",
    "Stopped": "■",
    "NotExecuted": "-",
}


class Progress:
    """Shows step states: a live table on a terminal, plain lines otherwise."""

    def __init__(self, stream: Any = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        encoding = (getattr(self.stream, "encoding", None) or "").lower().replace("-", "")
        self.symbols = _SYMBOLS if encoding.startswith("utf") else _ASCII_SYMBOLS
        self.lock = threading.Lock()
        self.execution: Any = None
        self.drawn = 0
        self.started: dict[str, float] = {}
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.execution = event.execution
            if event.step is not None and event.step.status == "Executing":
                self.started.setdefault(event.step.name, time.monotonic())
            if self.live:
                self._draw()
            else:
                self._line(event)
        if self.live and self._ticker is None and event.execution.status == "Executing":
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def close(self) -> None:
        """Stop refreshing and leave the final table on screen."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self.lock:
            if self.live and self.execution is not None:
                self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                self._draw()

    def _duration(self, step: Any) -> str:
        if step.duration_seconds is not None:
            return f"{step.duration_seconds:.1f}s"
        if step.status == "Executing" and step.name in self.started:
            return f"{time.monotonic() - self.started[step.name]:.1f}s"
        return ""

    def _draw(self) -> None:
        ex = self.execution
        if ex is None:
            return
        lines = [f"{ex.pipeline_name} {ex.id}: {ex.status}"]
        width = max(len(n) for n in ex.steps)
        for step in ex.steps.values():
            cached = " (cached)" if step.cache_hit else ""
            symbol = self.symbols.get(step.status, "?")
            took = self._duration(step)
            lines.append(f"  {symbol} {step.name:<{width}}  {step.status:<11} {took:>7}{cached}")
        out = ""
        if self.drawn:
            out += f"\x1b[{self.drawn}F"  # back to the first line of the previous table
        out += "".join(f"\x1b[2K{line}\n" for line in lines)
        self.stream.write(out)
        self.stream.flush()
        self.drawn = len(lines)

    def _line(self, event: Any) -> None:
        stamp = time.strftime("%H:%M:%S")
        step = event.step
        if step is None:
            text = f"{stamp} execution {event.execution.id} {event.execution.status}"
        else:
            extra = ""
            if step.duration_seconds is not None and step.status != "NotExecuted":
                extra += f" {step.duration_seconds:.1f}s"
            if step.cache_hit:
                extra += " (cached)"
            if step.failure_reason:
                extra += f": {step.failure_reason}"
            text = f"{stamp} {step.name} {step.status}{extra}"
        self.stream.write(text + "\n")
        self.stream.flush()


def run_and_report(
    definition: Any,
    *,
    workspace: Path,
    params: tuple[str, ...],
    no_cache: bool,
    pipeline_name: str,
    as_json: bool = False,
    runtimes: Any = None,
    mlflow: Any = None,
) -> int:
    """Execute with progress output and a summary; return the exit code.

    ``runtimes`` (a ``sagepipe.runtimes.RuntimeResolver``) runs each job in its image's
    environment; without it jobs use this interpreter. ``mlflow`` (a
    ``sagepipe.mlflow_runs.MlflowTarget``) also logs the execution as an MLflow run.
    """
    from .local import DefinitionError, ParameterError, execute, parse_assignment
    from .storage.sqlite import StorageError

    try:
        overrides = dict(parse_assignment(p) for p in params)
    except ParameterError as exc:
        fail_usage(str(exc))
    progress = Progress()
    try:
        execution = execute(
            definition,
            workspace=workspace,
            parameters=overrides,
            use_cache=not no_cache,
            on_event=None if as_json else progress,
            pipeline_name=pipeline_name,
            runtimes=runtimes,
        )
    except (ParameterError, DefinitionError, StorageError) as exc:
        fail_usage(str(exc))
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(execution.to_dict(), indent=2))
    else:
        _summarise(execution)
    if mlflow is not None:
        _log_to_mlflow(execution, workspace, mlflow)
    return {"Succeeded": EXIT_OK, "Stopped": EXIT_STOPPED}.get(execution.status, EXIT_FAILED)


def _log_to_mlflow(execution: Any, workspace: Path, target: Any) -> None:
    """Log a finished local execution (see :func:`_report_mlflow`)."""
    from .mlflow_runs import log_execution

    _report_mlflow(
        lambda: log_execution(execution, workspace, target),
        execution,
        workspace,
        target,
        kept="the run itself is recorded in runs.db",
    )


def _log_remote_to_mlflow(execution: Any, prepared: Any, workspace: Path, target: Any) -> None:
    """Log a finished SageMaker execution: its parameters, reports and registered version."""
    from .mlflow_runs import log_remote_execution

    _report_mlflow(
        lambda: log_remote_execution(
            execution,
            session=prepared.target.session(),
            definition=prepared.definition,
            source_root=prepared.source_root,
            workspace=workspace,
            target=target,
            warn=lambda line: click.echo(line, err=True),
        ),
        execution,
        workspace,
        target,
        kept="it stays in SageMaker's history (`runs --target sagemaker`)",
    )


def _report_mlflow(
    write: Callable[[], str], execution: Any, workspace: Path, target: Any, *, kept: str
) -> None:
    """Run ``write``; a tracking failure is a warning, the run's outcome stands."""
    try:
        run_id = write()
    except Exception as error:  # MLflow raises its own, requests' and sqlite's errors
        reason = " ".join(str(error).split())[:300]
        click.echo(
            f"warning: execution {execution.id} was not logged to MLflow at "
            f"{target.resolved_uri(workspace)} ({type(error).__name__}: {reason}); {kept}",
            err=True,
        )
        return
    click.echo(
        f"mlflow: run {run_id} in {target.resolved_uri(workspace)} "
        f"(experiment {target.experiment or execution.pipeline_name!r})",
        err=True,
    )


def _summarise(execution: Any) -> None:
    cached = sum(1 for s in execution.steps.values() if s.cache_hit)
    click.echo(
        f"execution {execution.id} {execution.status}"
        + (f" ({cached} step(s) reused from cache)" if cached else "")
    )
    for group, version in execution.registered:
        click.echo(f"registered {group} version {version}")
    for group, version in execution.already_registered:
        click.echo(
            f"{group} version {version} already holds this model (same sha256); "
            "nothing new registered"
        )
    if execution.failure_reason:
        click.echo(f"reason: {execution.failure_reason}", err=True)
        for step in execution.steps.values():
            if step.status == "Failed" and step.log_path:
                click.echo(f"log: {step.log_path}", err=True)


# -- factories ----------------------------------------------------------------------------
_RUN_OPTIONS = ("params", "no_cache", "as_json", "workspace", "target", "wait")


def make_run_command(
    build: DefinitionBuilder | None = None,
    *,
    pipeline_name: str = "pipeline",
    workspace_default: WorkspaceDefault = default_workspace,
    name: str = "run",
    aws_prepare: Callable[..., Any] | None = None,
    target_default: TargetDefault | None = None,
    runtimes: Callable[[], Any] | None = None,
    mlflow: Callable[[], Any] | None = None,
    label: Callable[..., str] | None = None,
) -> click.Command:
    """``run``: with ``build``, run the project's pipeline; without, a definition file.

    ``runtimes()`` returns the runtime resolver that runs each job in its image's
    environment (called only when the command runs). ``mlflow()`` returns a
    ``sagepipe.mlflow_runs.MlflowTarget`` when the stage logs runs to MLflow, else None;
    it is checked before the run starts, so a missing client fails in one line, at once.

    ``build(workspace)`` returns the definition and writes its code objects into
    ``workspace / "s3"``. Options appended to the returned command's ``params`` are
    passed to ``build`` as keyword arguments. ``aws_prepare(workspace, **options)``
    returns a :class:`sagepipe.sagemaker.runner.Prepared` for ``--target sagemaker``.
    ``label(**options)`` names a local run in the history and the registry's lineage
    (default ``pipeline_name``), so a project with several pipelines records which one ran.
    """

    @click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a pipeline parameter (repeatable).",
    )
    @click.option("--no-cache", is_flag=True, help="Run every step, ignoring cached results.")
    @click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON.")
    @_target_option(target_default)
    @click.option("--wait", is_flag=True, help="SageMaker: follow the execution to its end.")
    @_workspace_option(workspace_default)
    def command(definition: Path | None = None, **kw: Any) -> None:
        workspace: Path = kw["workspace"]
        tracking = _mlflow_target(mlflow)
        if kw["target"] == "sagemaker":
            raise click.exceptions.Exit(_run_on_sagemaker(aws_prepare, workspace, kw, tracking))
        if build is None:
            assert definition is not None
            named = pipeline_name if pipeline_name != "pipeline" else definition.stem
            code = _run_local(definition, workspace, named, kw, runtimes, tracking)
            raise click.exceptions.Exit(code)
        workspace.mkdir(parents=True, exist_ok=True)
        from .local.launch import prestarted_warm
        from .prepare import before_compiling

        # Options a project appends to this command (e.g. --data) go to its builder.
        extra = {k: v for k, v in kw.items() if k not in _RUN_OPTIONS}
        run_label = label(**extra) if label is not None else pipeline_name
        # The warm interpreters of this pipeline's last run import what its jobs will
        # need while the definition is compiled; the run adopts them. When the compile
        # cache has the definition there is nothing to overlap with: none start early.
        with prestarted_warm(run_label, workspace) as start, before_compiling(start):
            source: Any = build(workspace, **extra) if extra else build(workspace)
            code = _run_local(source, workspace, run_label, kw, runtimes, tracking)
        raise click.exceptions.Exit(code)

    if build is None:
        command = click.argument(
            "definition", type=click.Path(exists=True, dir_okay=False, path_type=Path)
        )(command)
        doc = "Run a pipeline definition JSON locally."
    else:
        doc = "Run the pipeline (compiled from its source) here, or on SageMaker with --target."
    return click.command(name=name, help=doc)(command)


def _run_local(
    source: Any,
    workspace: Path,
    label: str,
    kw: Any,
    runtimes: Callable[[], Any] | None,
    tracking: Any,
) -> int:
    """``run_and_report`` with the run command's options."""
    return run_and_report(
        source,
        workspace=workspace,
        params=kw["params"],
        no_cache=kw["no_cache"],
        pipeline_name=label,
        as_json=kw["as_json"],
        runtimes=runtimes() if runtimes is not None else None,
        mlflow=tracking,
    )


def _mlflow_target(mlflow: Callable[[], Any] | None) -> Any:
    """The stage's MLflow target (None when off), its client checked as installed."""
    if mlflow is None:
        return None
    try:
        target = mlflow()
    except ValueError as error:  # bad settings: the same one line as every command
        fail_usage(str(error))
    if target is None:
        return None
    # Only the off switch above keeps MLflow's import cost away; this check imports nothing.
    from .mlflow_runs import MlflowUnavailable, check_installed

    try:
        check_installed(target)
    except MlflowUnavailable as error:
        fail_usage(str(error))
    return target


def _run_on_sagemaker(
    aws_prepare: Callable[..., Any] | None, workspace: Path, kw: Any, tracking: Any = None
) -> int:
    from .local import ParameterError, parse_assignment

    if aws_prepare is None:
        fail_usage(
            "--target sagemaker needs a project (bucket, role and region in its settings); "
            "use the project's CLI"
        )
        raise AssertionError("unreachable")
    try:
        overrides = dict(parse_assignment(p) for p in kw["params"])
    except ParameterError as exc:
        fail_usage(str(exc))
    from .sagemaker import commands

    extra = {k: v for k, v in kw.items() if k not in _RUN_OPTIONS}
    try:
        prepared = aws_prepare(workspace, **extra)
        progress = Progress() if kw["wait"] and not kw["as_json"] else None
        log_run = None
        if tracking is not None:

            def log_run(execution: Any) -> None:
                _log_remote_to_mlflow(execution, prepared, workspace, tracking)

        return commands.run(
            prepared,
            overrides,
            wait=kw["wait"],
            as_json=kw["as_json"],
            progress=progress,
            log_run=log_run,
        )
    except (AwsError, ValueError) as error:
        _aws_failure(error)
    raise AssertionError("unreachable")


def make_stop_command(
    aws_target: Callable[[], Any] | None = None,
    *,
    name: str = "stop",
    pipelines: Callable[[], list[str]] | None = None,
) -> click.Command:
    """``stop EXECUTION_ARN``: stop a pipeline execution on SageMaker; ``pipelines()``
    names the project's pipelines there (default: the target's one), the ones it may stop."""

    @click.command(name=name)
    @click.argument("execution")
    def stop(execution: str) -> None:
        """Stop a running SageMaker pipeline execution (its ARN, from `runs`)."""
        from .sagemaker import commands

        if aws_target is None:
            fail_usage("stop needs a project (region and pipeline in its settings)")
        try:
            code = commands.stop(aws_target(), execution, pipelines)  # type: ignore[misc]
            raise click.exceptions.Exit(code)
        except (AwsError, ValueError) as error:
            _aws_failure(error)

    return stop


def make_runs_command(
    *,
    workspace_default: WorkspaceDefault = default_workspace,
    name: str = "runs",
    aws_target: Callable[[], Any] | None = None,
    target_default: TargetDefault | None = None,
    pipelines: Callable[[str, str | None], list[str] | None] | None = None,
) -> click.Group:
    """``runs [--json] [--limit N]``: the run history, newest first; ``runs show ID``.

    ``pipelines(target, NAME or None)`` names the pipelines whose executions are listed on
    ``target`` (None: all of the local history); with it, ``runs`` takes ``--pipeline NAME``.
    Without it, SageMaker's history is the target's one pipeline.
    """

    def history(target: str, workspace: Path) -> Any:
        from .backends import open_history

        return open_history(target, workspace, aws_target)

    def listed(target: str, workspace: Path, limit: int, pipeline: str | None) -> list[Any]:
        names = pipelines(target, pipeline) if pipelines is not None else None
        if names is None:
            return list(history(target, workspace).list_executions(limit=limit))
        return list(history(target, workspace).list_executions(limit=limit, pipelines=names))

    @click.group(name=name, invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help="Show at most this many executions, newest first.",
    )
    @_target_option(target_default)
    @_workspace_option(workspace_default)
    @click.pass_context
    def runs(
        ctx: click.Context,
        as_json: bool,
        limit: int,
        target: str,
        workspace: Path,
        pipeline: str | None = None,
    ) -> None:
        """List pipeline executions with per-step status, duration and cache hits."""
        if ctx.invoked_subcommand is not None:
            return
        try:
            records = listed(target, workspace, limit, pipeline)
        except AwsError as error:
            _aws_failure(error)
        if as_json:
            click.echo(json.dumps([r.to_dict() for r in records], indent=2))
            return
        if not records:
            click.echo(f"no runs yet in {workspace}")
            return
        for record in records:
            click.echo(
                f"{record.id}  {record.status:<9}  {record.pipeline_name}  started {record.started}"
            )
            if getattr(record, "parameters", None) and target == "sagemaker":
                shown = " ".join(f"{k}={v}" for k, v in sorted(record.parameters.items()))
                click.echo(f"    parameters: {shown}")
            for step in record.steps:
                took = f"{step.duration_seconds:.1f}s" if step.duration_seconds is not None else ""
                cached = " cached" if step.cache_hit else ""
                click.echo(f"    {step.name:<28} {step.status:<11} {took:>8}{cached}")
            if record.failure_reason:
                click.echo(f"    reason: {record.failure_reason}")

    if pipelines is not None:
        runs.params.append(
            click.Option(
                ["--pipeline"],
                default=None,
                help="Only this pipeline's executions (see `pipelines`; default: all of them).",
            )
        )

    @runs.command("show")
    @click.argument("execution")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @_target_option(target_default)
    @_workspace_option(workspace_default)
    def show(execution: str, as_json: bool, target: str, workspace: Path) -> None:
        """One execution: its steps, their jobs and where their logs are."""
        try:
            record = history(target, workspace).get_execution(execution)
        except (AwsError, ValueError) as error:
            _aws_failure(error)
        if record is None:
            fail_usage(f"no execution {execution!r} in the {target} history; see `runs`")
        if as_json:
            click.echo(json.dumps(record.to_dict(), indent=2))
            return
        click.echo(
            f"{record.id}  {record.status}  {record.pipeline_name}  started {record.started}"
        )
        steps = record.steps.values() if isinstance(record.steps, dict) else record.steps
        for step in steps:
            took = f"{step.duration_seconds:.1f}s" if step.duration_seconds is not None else ""
            cached = " cached" if step.cache_hit else ""
            click.echo(f"    {step.name:<28} {step.status:<11} {took:>8}{cached}")
            job = getattr(step, "job_arn", None)
            logs = getattr(step, "log_hint", None) or getattr(step, "log_path", None)
            if job:
                click.echo(f"        job: {job}")
            if logs:
                click.echo(f"        logs: {logs}")
            if step.failure_reason:
                click.echo(f"        reason: {step.failure_reason}")
        if record.failure_reason:
            click.echo(f"    reason: {record.failure_reason}")

    from .experiments import make_compare_command

    runs.add_command(make_compare_command(workspace_default))
    return runs


def make_registry_group(
    *,
    default_group: str | Callable[[], str | None] | None = None,
    workspace_default: WorkspaceDefault = default_workspace,
    name: str = "registry",
    aws_target: Callable[[], Any] | None = None,
    target_default: TargetDefault | None = None,
) -> click.Group:
    """``registry list|describe|approve|reject`` over the workspace's model registry.

    ``default_group`` (a name or a callable) is used when ``--group`` is not given; with
    neither, the only group in the registry is used.
    """

    def open_registry(workspace: Path, target: str = "local") -> Any:
        from .backends import open_registry as open_backend

        try:
            return open_backend(target, workspace, aws_target)
        except ValueError as error:
            fail_usage(str(error))

    def pick_group(registry: Any, group: str | None) -> str:
        if group:
            return group
        fallback = default_group() if callable(default_group) else default_group
        if fallback:
            return fallback
        groups = registry.list_groups()
        if len(groups) == 1:
            return str(groups[0])
        if not groups:
            fail_usage("the registry is empty: run the pipeline first to register a model")
        fail_usage(f"several model package groups ({', '.join(groups)}): pass --group NAME")
        raise AssertionError("unreachable")

    group_option = click.option("--group", default=None, help="Model package group.")

    @click.group(name=name)
    def registry() -> None:
        """Model registry: list, describe, approve and reject model versions."""

    @registry.command("list")
    @group_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @_target_option(target_default)
    @_workspace_option(workspace_default)
    def list_(group: str | None, as_json: bool, target: str, workspace: Path) -> None:
        """List registered model versions, oldest first."""
        reg = open_registry(workspace, target)
        try:
            packages = reg.list_model_packages(group)
        except AwsError as error:
            _aws_failure(error)
        if as_json:
            click.echo(json.dumps([p.to_dict() for p in packages], indent=2))
            return
        if not packages:
            click.echo("no model versions registered yet")
            return
        for p in packages:
            metrics = ", ".join(
                f"{k}={v:.4g}" for k, v in sorted(p.metrics.items()) if isinstance(v, (int, float))
            )
            click.echo(
                f"{p.group}  v{p.version:<3} {p.approval_status:<21} {p.creation_time[:19]}  "
                f"{metrics}"
            )

    def version_command(action: str) -> Callable[..., None]:
        @click.argument("version")
        @group_option
        @_target_option(target_default)
        @_workspace_option(workspace_default)
        def handler(
            version: str, group: str | None, target: str, workspace: Path, **kw: Any
        ) -> None:
            from .registry import RegistryError, parse_version

            reg = open_registry(workspace, target)
            try:
                chosen = pick_group(reg, group)
                if target == "sagemaker":
                    version = parse_version(version)  # type: ignore[assignment]
                if action == "describe":
                    package = reg.describe(chosen, version)
                else:
                    status = "Approved" if action == "approve" else "Rejected"
                    package = reg.update_approval_status(
                        chosen, version, status, reason=kw.get("reason") or ""
                    )
            except RegistryError as exc:
                fail_usage(str(exc))
            except AwsError as error:
                _aws_failure(error)
            if action == "describe":
                click.echo(json.dumps(package.to_dict(), indent=2))
            else:
                click.echo(f"{package.group} version {package.version}: {package.approval_status}")

        typed: Callable[..., None] = handler
        return typed

    describe = version_command("describe")
    describe.__doc__ = "Show one version (a number or 'latest') as JSON."
    registry.command("describe")(describe)
    for action in ("approve", "reject"):
        handler = version_command(action)
        handler.__doc__ = f"{action.capitalize()} a version (a number or 'latest')."
        handler = click.option("--reason", default="", help="Why (kept in the history).")(handler)
        registry.command(action)(handler)
    return registry


def make_framework_cli() -> click.Group:
    """The ``python -m sagepipe`` command group."""

    @click.group()
    def cli() -> None:
        """sagepipe: run SageMaker pipeline definitions locally, with a model registry."""

    cli.add_command(make_run_command())
    cli.add_command(make_runs_command())
    cli.add_command(make_registry_group())
    return cli


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sagepipe``; it ends the process (:mod:`.quick_exit`)."""
    from .quick_exit import exit_after

    exit_after(lambda: make_framework_cli()(args=argv, prog_name="python -m sagepipe"))
