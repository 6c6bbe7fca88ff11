"""What the CLI does for ``--target sagemaker``: publish and start, watch, stop.

Kept out of ``sagepipe.cli`` so the local path never loads it. Every function prints
what it is about to do (stderr) before doing it and returns an exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import pipelines
from .errors import AwsError
from .runner import Prepared, publish_and_start

EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 130


def say(message: str) -> None:
    """Progress goes to stderr, so stdout stays the result (an ARN, JSON)."""
    print(message, file=sys.stderr, flush=True)


def exit_code(status: str) -> int:
    """Exit status of a finished execution, as for local runs."""
    return {"Succeeded": EXIT_OK, "Stopped": EXIT_STOPPED}.get(status, EXIT_FAILED)


def run(
    prepared: Prepared,
    parameters: Mapping[str, Any],
    *,
    wait: bool,
    as_json: bool,
    progress: Any = None,
    poll_delay: float = 2.0,
    log_run: Callable[[Any], None] | None = None,
) -> int:
    """Publish and start; with ``wait`` follow it to the end (Ctrl-C detaches).

    ``log_run(execution)`` is called with the finished execution (MLflow logging); a
    detached or unwaited run is not logged, and says so.
    """
    started = publish_and_start(prepared, parameters, echo=say)
    action = "created" if started.created else "updated"
    say(f"{action} pipeline {started.pipeline_arn}")
    if not wait and log_run is not None:
        say("mlflow: not logged: a run is logged to MLflow when followed to its end (--wait)")
    if not wait:
        if as_json:
            print(json.dumps({"PipelineExecutionArn": started.execution_arn}, indent=2))
        else:
            print(started.execution_arn)
        return EXIT_OK
    say(f"started {started.execution_arn}; following it (Ctrl-C detaches, it keeps running)")
    sm = prepared.target.session().sagemaker
    try:
        execution = pipelines.watch(
            sm,
            started.execution_arn,
            step_names=pipelines.step_names(prepared.definition),
            on_event=progress or (lambda _event: None),
            first_delay=poll_delay,
        )
    except KeyboardInterrupt:
        say(
            f"detached; {started.execution_arn} keeps running on SageMaker. "
            f"Follow it with `runs show {started.execution_arn} --target sagemaker`, "
            f"stop it with `stop {started.execution_arn}`"
        )
        return EXIT_OK
    finally:
        if progress is not None and hasattr(progress, "close"):
            progress.close()
    if as_json:
        print(json.dumps(execution.to_dict(), indent=2))
    else:
        print(f"execution {execution.id} {execution.status}")
        for group, version in execution.registered:
            print(f"registered {group} version {version}")
        if execution.failure_reason:
            say(f"reason: {execution.failure_reason}")
    if log_run is not None:
        log_run(execution)
    return exit_code(execution.status)


def stop(
    target: Any, execution_arn: str, project_pipelines: Callable[[], list[str]] | None = None
) -> int:
    """Stop an execution; its pipeline must be this project's: the target's, or one of
    ``project_pipelines()`` (the migrated ones; asked only for another pipeline's ARN)."""
    name = pipelines.pipeline_name_of(execution_arn)
    known = [target.pipeline_name]
    if name != target.pipeline_name and project_pipelines is not None:
        known = project_pipelines()
    if name not in known:
        raise AwsError(
            f"{execution_arn} belongs to pipeline {name}, not {' or '.join(known)}; "
            "pass --stage for the stage that started it"
        )
    pipelines.stop(target.session().sagemaker, execution_arn, echo=say)
    print(f"stop requested for {execution_arn}")
    return EXIT_OK
