"""Execute a SageMaker pipeline definition on this machine.

The executor interprets exactly the JSON that would go to SageMaker, in three phases:
parse (:mod:`.validate` checks the whole definition, :mod:`.plan` turns it into typed,
immutable step plans), schedule (:mod:`.scheduler` orders the steps by their data
references and ``DependsOn`` and runs independent jobs in parallel, at most one per
core) and run (:mod:`.runners`: one runner per step type). This module wires the
phases together and records the execution in the run history.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..registry.lineage import input_digests
from .execution import Event, Execution, new_execution_id, now
from .history import RunHistory, StepRun
from .launch import handle_stop_signals, restore_signal_handlers
from .parameters import resolve_parameters
from .plan import load_definition, parse_definition
from .run_metrics import record_execution_metrics
from .runners import runners_for
from .scheduler import Scheduler
from .session import RunSession
from .states import ExecutionState, StepState
from .step_times import last_seconds, remember_seconds
from .validate import validate_definition


def execute(
    definition: Mapping[str, Any] | str | Path,
    *,
    workspace: Path | str,
    parameters: Mapping[str, Any] | None = None,
    use_cache: bool = True,
    on_event: Callable[[Event], None] | None = None,
    pipeline_name: str = "pipeline",
    max_workers: int | None = None,
    keep_sandboxes: bool | None = None,
    runtimes: Any = None,
) -> Execution:
    """Run a pipeline definition locally and return its :class:`Execution`.

    ``parameters`` override the definition's defaults (strings are converted by the
    declared type). Invalid definitions or parameters raise ``DefinitionError`` /
    ``ParameterError`` before anything is written. A failing step does not raise: the
    returned execution has ``status == "Failed"`` and a ``failure_reason`` naming the step.
    SIGINT/SIGTERM (when called from the main thread) stop the jobs; the status is then
    ``"Stopped"``. Sandboxes of successful jobs are removed (their ``job.log`` stays)
    unless ``keep_sandboxes`` or ``$SAGEPIPE_KEEP_SANDBOXES=1``. ``runtimes`` (a
    :class:`sagepipe.runtimes.RuntimeResolver`) runs each job in its image's environment;
    without it jobs use this interpreter.
    """
    data = load_definition(definition)
    validate_definition(data)  # the whole definition, before anything is written
    plan = parse_definition(data)
    values = resolve_parameters(list(plan.parameters), parameters)
    workspace = Path(workspace).absolute()
    workspace.mkdir(parents=True, exist_ok=True)
    history = RunHistory(workspace / "runs.db")
    history.mark_abandoned(now())

    execution = Execution(
        id=new_execution_id(),
        pipeline_name=pipeline_name,
        status=ExecutionState.EXECUTING,
        parameters=values,
        started=now(),
        workspace=workspace,
        steps={s.name: StepRun(name=s.name, type=s.type, status=StepState.PENDING) for s in plan},
    )
    history.start_execution(
        execution.id,
        pipeline_name=pipeline_name,
        parameters=values,
        definition_sha256=plan.definition_sha256,
        started=execution.started,
        steps=[(s.name, s.type) for s in plan],
    )
    if keep_sandboxes is None:
        keep_sandboxes = os.environ.get("SAGEPIPE_KEEP_SANDBOXES") == "1"
    session = RunSession(
        plan, execution, use_cache=use_cache, keep_sandboxes=keep_sandboxes, runtimes=runtimes
    )

    def emit(step: StepRun | None = None) -> None:
        if step is not None:
            history.update_step(execution.id, step)
        if on_event is not None:
            on_event(Event("step" if step else "execution", execution, step))

    scheduler = Scheduler(
        plan.steps,
        runners_for(session),
        execution.steps,
        notify=emit,
        stop=session.stop,
        max_workers=max_workers or os.cpu_count() or 1,
        properties=session.properties,
        inputs=session.inputs,
        expected_seconds=last_seconds(pipeline_name),
    )
    previous = handle_stop_signals(session.stop)
    try:
        emit()
        try:
            scheduler.run()
        except KeyboardInterrupt:
            session.stop.request("interrupted (Ctrl-C)")
            scheduler.run()
    except Exception as exc:  # e.g. the disk filled under the history: record Failed
        if scheduler.failure is None and not session.stop.is_set():
            scheduler.failure = " ".join(
                f"the executor failed: {type(exc).__name__}: {exc}".split()
            )
        session.stop.force()  # no job outlives the run it belonged to
        raise
    finally:
        restore_signal_handlers(previous)
        if session.stop.is_set():
            execution.status = ExecutionState.STOPPED
            execution.failure_reason = session.stop.reason
        elif scheduler.failure is not None:
            execution.status = ExecutionState.FAILED
            execution.failure_reason = scheduler.failure
        else:
            execution.status = ExecutionState.SUCCEEDED
        execution.ended = now()
        execution.metrics = record_execution_metrics(session)
        execution.input_digests = input_digests(session.inputs)
        history.finish_execution(
            execution.id,
            status=execution.status,
            ended=execution.ended,
            failure_reason=execution.failure_reason,
        )
        emit()
        history.close()
        session.close()
        remember_seconds(pipeline_name, _ran_seconds(execution))
    return execution


def _ran_seconds(execution: Execution) -> dict[str, float]:
    """The durations of the steps that ran and succeeded (a cache hit took no time)."""
    return {
        name: step.duration_seconds
        for name, step in execution.steps.items()
        if step.status is StepState.SUCCEEDED
        and not step.cache_hit
        and step.duration_seconds is not None
    }
