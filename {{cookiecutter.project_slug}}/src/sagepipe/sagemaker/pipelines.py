"""Pipelines on SageMaker: upsert the definition, start, watch, stop, list.

The definition sent is exactly the bytes ``compile`` writes. Watching polls
``DescribePipelineExecution`` and ``ListPipelineExecutionSteps`` with a delay that
grows from 2 s to 30 s (bounded: a long training job costs a few calls a minute).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import AwsError, calling, error_code

FINAL = ("Succeeded", "Failed", "Stopped")
# SageMaker accepts an inline definition up to 100 KB; larger ones go through S3.
INLINE_LIMIT = 100_000
_STATUS_FOR_TABLE = {"Starting": "Pending", "Stopping": "Executing"}
_JOB_LOGS = {
    "ProcessingJob": "/aws/sagemaker/ProcessingJobs",
    "TrainingJob": "/aws/sagemaker/TrainingJobs",
    "TransformJob": "/aws/sagemaker/TransformJobs",
}


@dataclass
class RemoteStep:
    """One step of an execution on SageMaker, in the shape the progress table reads."""

    name: str
    type: str = ""
    status: str = "Pending"
    started: str | None = None
    ended: str | None = None
    duration_seconds: float | None = None
    cache_hit: bool = False
    failure_reason: str | None = None
    job_arn: str | None = None
    log_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the local history's field names plus the job and its logs."""
        return {
            "Name": self.name,
            "Type": self.type,
            "Status": self.status,
            "Started": self.started,
            "Ended": self.ended,
            "DurationSeconds": self.duration_seconds,
            "CacheHit": self.cache_hit,
            "FailureReason": self.failure_reason,
            "JobArn": self.job_arn,
            "Logs": self.log_hint,
        }


@dataclass
class RemoteExecution:
    """One pipeline execution on SageMaker."""

    id: str  # the execution ARN: what `stop` and `runs show` take
    pipeline_name: str
    status: str
    parameters: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    ended: str | None = None
    failure_reason: str | None = None
    steps: dict[str, RemoteStep] = field(default_factory=dict)
    registered: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the local history's field names."""
        return {
            "PipelineExecutionId": self.id,
            "PipelineName": self.pipeline_name,
            "Status": self.status,
            "Parameters": self.parameters,
            "Started": self.started,
            "Ended": self.ended,
            "FailureReason": self.failure_reason,
            "Steps": [s.to_dict() for s in self.steps.values()],
        }


@dataclass(frozen=True)
class Event:
    """A change seen while watching (what :class:`sagepipe.cli.Progress` draws)."""

    execution: RemoteExecution
    step: RemoteStep | None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def tags_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` -> SageMaker's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]


def upsert(
    sm: Any,
    *,
    name: str,
    definition: bytes,
    role_arn: str,
    tags: Mapping[str, str],
    description: str = "",
    s3: Any = None,
    definition_uri: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> tuple[str, bool]:
    """Create the pipeline, or update it when it exists; return ``(arn, created)``."""
    body: dict[str, Any] = {"PipelineName": name, "RoleArn": role_arn}
    if description:
        body["PipelineDescription"] = description
    if len(definition) <= INLINE_LIMIT or s3 is None or definition_uri is None:
        body["PipelineDefinition"] = definition.decode()
    else:
        bucket, _, key = definition_uri[5:].partition("/")
        with calling(f"uploading the definition to {definition_uri}", echo):
            s3.put_object(Bucket=bucket, Key=key, Body=definition)
        body["PipelineDefinitionS3Location"] = {"Bucket": bucket, "ObjectKey": key}
    exists = True
    with calling(f"looking up pipeline {name}"):
        try:
            sm.describe_pipeline(PipelineName=name)
        except Exception as error:
            if error_code(error) not in ("ResourceNotFound", "ValidationException"):
                raise
            exists = False
    if exists:
        with calling(f"updating pipeline {name}", echo):
            arn = sm.update_pipeline(**body)["PipelineArn"]
        if tags:
            with calling(f"tagging pipeline {name}"):
                sm.add_tags(ResourceArn=arn, Tags=tags_list(tags))
        return str(arn), False
    with calling(f"creating pipeline {name} (role {role_arn})", echo):
        arn = sm.create_pipeline(**body, Tags=tags_list(tags), ClientRequestToken=uuid.uuid4().hex)[
            "PipelineArn"
        ]
    return str(arn), True


def start(
    sm: Any,
    name: str,
    parameters: Mapping[str, Any],
    echo: Callable[[str], None] | None = None,
    description: str = "",
) -> str:
    """Start an execution with parameter overrides; return its ARN."""
    shown = " ".join(f"{k}={v}" for k, v in parameters.items())
    extra = {"PipelineExecutionDescription": description} if description else {}
    with calling(f"starting pipeline {name}" + (f" with {shown}" if shown else ""), echo):
        response = sm.start_pipeline_execution(
            PipelineName=name,
            PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()],
            ClientRequestToken=uuid.uuid4().hex,
            **extra,
        )
    return str(response["PipelineExecutionArn"])


def stop(sm: Any, execution_arn: str, echo: Callable[[str], None] | None = None) -> None:
    """Ask SageMaker to stop an execution (running steps are stopped too)."""
    with calling(f"stopping execution {execution_arn}", echo):
        sm.stop_pipeline_execution(
            PipelineExecutionArn=execution_arn, ClientRequestToken=uuid.uuid4().hex
        )


def _step(summary: Mapping[str, Any]) -> RemoteStep:
    start_time, end_time = summary.get("StartTime"), summary.get("EndTime")
    duration = (
        (end_time - start_time).total_seconds()
        if isinstance(start_time, datetime) and isinstance(end_time, datetime)
        else None
    )
    job_arn = log_hint = None
    step_type = ""
    for kind, value in (summary.get("Metadata") or {}).items():
        arn = (value or {}).get("Arn") if isinstance(value, dict) else None
        step_type = kind
        if arn:
            job_arn = str(arn)
            if kind in _JOB_LOGS:
                log_hint = f"CloudWatch {_JOB_LOGS[kind]}, streams {job_arn.rsplit('/', 1)[-1]}/*"
    status = str(summary.get("StepStatus") or "Pending")
    return RemoteStep(
        name=str(summary.get("StepName")),
        type=step_type,
        status=_STATUS_FOR_TABLE.get(status, status),
        started=_iso(start_time),
        ended=_iso(end_time),
        duration_seconds=duration,
        cache_hit=bool((summary.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")),
        failure_reason=summary.get("FailureReason") or None,
        job_arn=job_arn,
        log_hint=log_hint,
    )


def pipeline_name_of(execution_arn: str) -> str:
    """``arn:...:pipeline/NAME/execution/ID`` -> ``NAME``."""
    parts = execution_arn.split(":pipeline/", 1)
    if len(parts) != 2 or "/execution/" not in parts[1]:
        raise ValueError(
            f"{execution_arn!r} is not a pipeline execution ARN "
            "(arn:aws:sagemaker:REGION:ACCOUNT:pipeline/NAME/execution/ID); copy it from `runs`"
        )
    return parts[1].split("/execution/", 1)[0]


def describe(
    sm: Any, execution_arn: str, step_names: Iterable[str] = (), with_steps: bool = True
) -> RemoteExecution:
    """One execution with its steps (steps not started yet show as Pending)."""
    name = pipeline_name_of(execution_arn)
    with calling(f"describing execution {execution_arn}"):
        info = sm.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution_arn)
    execution = RemoteExecution(
        id=execution_arn,
        pipeline_name=name,
        status=str(info.get("PipelineExecutionStatus")),
        parameters={p["Name"]: p["Value"] for p in params.get("PipelineParameters", [])},
        started=_iso(info.get("CreationTime")),
        ended=_iso(info.get("LastModifiedTime"))
        if info.get("PipelineExecutionStatus") in FINAL
        else None,
        failure_reason=(info.get("FailureReason") or None),
        steps={n: RemoteStep(name=n) for n in step_names},
    )
    if with_steps:
        add_steps(sm, execution)
    return execution


def add_steps(sm: Any, execution: RemoteExecution) -> None:
    """Fill ``execution.steps`` (and what it registered) from ListPipelineExecutionSteps."""
    with calling(f"listing the steps of {execution.id}"):
        pages = sm.get_paginator("list_pipeline_execution_steps").paginate(
            PipelineExecutionArn=execution.id, SortOrder="Ascending"
        )
        for page in pages:
            for summary in page.get("PipelineExecutionSteps", []):
                step = _step(summary)
                execution.steps[step.name] = step
                meta = (summary.get("Metadata") or {}).get("RegisterModel") or {}
                arn = str(meta.get("Arn") or "")
                if arn and arn.rsplit("/", 1)[-1].isdigit():
                    group = arn.split(":model-package/", 1)[-1].rsplit("/", 1)[0]
                    execution.registered.append((group, int(arn.rsplit("/", 1)[-1])))


def list_executions(
    sm: Any, name: str, limit: int = 20, *, missing_ok: bool = False
) -> list[RemoteExecution]:
    """The newest ``limit`` executions of pipeline ``name``, newest first, with parameters
    (none, with ``missing_ok``, when the pipeline was never created)."""
    with calling(f"listing executions of pipeline {name}"):
        try:
            response = sm.list_pipeline_executions(
                PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=limit
            )
        except Exception as error:
            if missing_ok and _no_such_pipeline(error):
                return []
            raise
    records = []
    for summary in response.get("PipelineExecutionSummaries", [])[:limit]:
        arn = str(summary["PipelineExecutionArn"])
        with calling(f"reading the parameters of {arn}"):
            params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        reason = summary.get("PipelineExecutionFailureReason")
        records.append(
            RemoteExecution(
                id=arn,
                pipeline_name=name,
                status=str(summary.get("PipelineExecutionStatus")),
                parameters={p["Name"]: p["Value"] for p in params.get("PipelineParameters", [])},
                started=_iso(summary.get("StartTime")),
                failure_reason=None if reason in (None, "", "None") else str(reason),
            )
        )
    return records


def _no_such_pipeline(error: BaseException) -> bool:
    # SageMaker says ResourceNotFound; moto (and older endpoints) a ValidationException.
    code = error_code(error)
    message = str((getattr(error, "response", None) or {}).get("Error", {}).get("Message", ""))
    lowered = message.lower()
    return code == "ResourceNotFound" or (
        code == "ValidationException"
        and ("could not find" in lowered or "does not exist" in lowered)
    )


def watch(
    sm: Any,
    execution_arn: str,
    *,
    step_names: Iterable[str] = (),
    on_event: Callable[[Event], None],
    timeout: float = 24 * 3600,
    first_delay: float = 2.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RemoteExecution:
    """Follow an execution until it ends, reporting each change; return the last state.

    Ctrl-C (KeyboardInterrupt) propagates to the caller, which detaches: the execution
    keeps running on AWS.
    """
    names = list(step_names)
    seen: dict[str, tuple[str, bool, str | None]] = {}
    last_status = None
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        execution = describe(sm, execution_arn, names, with_steps=False)
        if execution.status != last_status:
            last_status = execution.status
            on_event(Event(execution, None))
        add_steps(sm, execution)
        for step in execution.steps.values():
            key = (step.status, step.cache_hit, step.failure_reason)
            if seen.get(step.name) != key:
                seen[step.name] = key
                on_event(Event(execution, step))
        if execution.status in FINAL:
            return execution
        if time.monotonic() + delay > deadline:
            raise AwsError(
                f"execution {execution_arn} still {execution.status} after {timeout:.0f} s; "
                "it keeps running on AWS: `runs show` it later or `stop` it"
            )
        sleep(delay)
        delay = min(delay * 2, max_delay)


def iter_steps(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every step of a definition, each condition's branches right after it."""
    pending = list(definition.get("Steps") or [])
    while pending:
        step = pending.pop(0)
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            pending[:0] = [*(arguments.get("IfSteps") or []), *(arguments.get("ElseSteps") or [])]


def step_names(definition: bytes | Mapping[str, Any]) -> list[str]:
    """Top-level and condition-branch step names, in definition order."""
    data = json.loads(definition) if isinstance(definition, (bytes, str)) else definition
    return [str(step["Name"]) for step in iter_steps(data)]


class SageMakerHistory:
    """The local ``RunHistory`` methods over a project's pipelines' executions on SageMaker."""

    def __init__(self, sagemaker_client: Any, pipeline_name: str) -> None:
        self.sm = sagemaker_client
        self.pipeline_name = pipeline_name

    def list_executions(
        self, limit: int | None = None, pipelines: Sequence[str] | None = None
    ) -> list[RemoteExecution]:
        """Newest first, with parameters and status: of ``pipelines`` (default: the one this
        history was opened for), merged. A pipeline never created on SageMaker (a migrated
        one only run locally) has no executions, not an error."""
        limit = limit or 20
        found: list[RemoteExecution] = []
        for name in pipelines if pipelines is not None else [self.pipeline_name]:
            found += list_executions(self.sm, name, limit, missing_ok=True)
        found.sort(key=lambda e: e.started or "", reverse=True)
        return found[:limit]

    def get_execution(self, execution_id: str) -> RemoteExecution | None:
        """One execution (by ARN) with its steps, job ARNs and log locations."""
        return describe(self.sm, execution_id)
