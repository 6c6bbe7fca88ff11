"""The monitoring job on SageMaker: a Processing job, run once or on an EventBridge schedule.

The job is ``python3 -m sagepipe.monitor`` (:mod:`sagepipe.monitor.container`) on the
project image. Its code is uploaded content-addressed, like a pipeline's code objects
(``s3://<bucket>/<prefix>/code/<sha256>/sagepipe/monitor/...``), given to the job as an
input and put first on ``PYTHONPATH``: the job runs exactly the code ``monitor --stage``
runs on this machine, whichever copy the image was built with.

Inputs: the endpoint's data-capture prefix (SageMaker's layout,
``<capture>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``) and the baseline
``statistics.json`` / ``constraints.json`` registered with the deployed version. Output:
``constraint_violations.json``, ``statistics.json``, ``summary.json`` and ``report.html``
under ``<prefix>/monitoring/<stage>/<job name>/``.

A schedule is an EventBridge Scheduler schedule whose universal target
(``arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob``) sends the same
CreateProcessingJob request. Scheduler fills in ``<aws.scheduler.execution-id>`` (a
unique job name per attempt) and ``<aws.scheduler.scheduled-time>`` (the end of the window
the job checks; its length is ``since``) when it fires.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..network import Network, secure_processing
from ..packaging import CodeTree, read_tree
from ..processing_io import processing_input, processing_output
from .errors import AwsError, calling, error_code
from .poll import poll

PROCESSING = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING}/input/code"
CAPTURE_DIR = f"{PROCESSING}/input/endpoint"
STATISTICS_DIR = f"{PROCESSING}/baseline/statistics"
CONSTRAINTS_DIR = f"{PROCESSING}/baseline/constraints"
OUTPUT_DIR = f"{PROCESSING}/output"
SCHEDULER_TARGET = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
EXECUTION_ID = "<aws.scheduler.execution-id>"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULE_GROUP = "default"
# Only the monitor package travels: an empty sagepipe/__init__.py keeps the job from
# loading the authoring API (or anything else of the engine).
PACKAGE_INIT = b'"""sagepipe runtime: only the monitoring job travels with this job."""\n'
# EventBridge Scheduler's execution ids are 16 characters; job names may have 63.
_EXECUTION_ID_LENGTH = 16
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
_FINAL = ("Completed", "Failed", "Stopped")

Echo = Callable[[str], None]


def code_tree() -> CodeTree:
    """The monitoring job's code: ``sagepipe/monitor/`` and an empty ``sagepipe/__init__.py``."""
    monitor = Path(__file__).resolve().parents[1] / "monitor"
    files = {"sagepipe/__init__.py": PACKAGE_INIT}
    files.update(read_tree(monitor, prefix="sagepipe/monitor/"))
    return CodeTree(dict(sorted(files.items())))


def code_objects(bucket: str, prefix: str) -> tuple[str, dict[str, bytes]]:
    """(the code prefix URI, ``s3://...`` -> bytes) of the job's content-addressed code."""
    return code_tree().objects(bucket, prefix)


def window_of(expression: str) -> str | None:
    """The window a ``rate(...)`` schedule checks (``rate(6 hours)`` -> ``6h``); else None."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return f"{match.group(1)}{match.group(2)[0]}"


def check_expression(expression: str) -> str:
    """A schedule expression EventBridge Scheduler takes: ``rate(N unit)`` or ``cron(6 fields)``."""
    text = expression.strip()
    if _RATE.match(text) or _CRON.match(text):
        return text
    raise ValueError(
        f"--schedule {expression!r} is not a schedule expression: use rate(N minutes|hours|days), "
        "e.g. 'rate(1 day)', or cron(minutes hours day-of-month month day-of-week year), "
        "e.g. 'cron(0 6 * * ? *)'"
    )


def job_name(base: str, suffix: str) -> str:
    """``<base>-<suffix>`` cut to SageMaker's 63 characters (the suffix is kept whole)."""
    # The placeholder stands for a 16-character id once the schedule fires.
    length = _EXECUTION_ID_LENGTH if suffix == EXECUTION_ID else len(suffix)
    head = base[: 63 - length - 1].rstrip("-")
    name = f"{head}-{suffix}"
    check = name.replace(EXECUTION_ID, "x" * _EXECUTION_ID_LENGTH)
    if not _NAME.match(check):
        raise ValueError(
            f"processing job name {name!r} is not a SageMaker name: 1-63 letters, digits and "
            "'-', starting with a letter or digit"
        )
    return name


def run_stamp(now: datetime | None = None) -> str:
    """A job-name suffix for a run started by hand: the UTC time to the second."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class MonitoringJob:
    """What one stage's monitoring job reads, writes and runs on."""

    endpoint_name: str
    capture_uri: str  # s3://<bucket>/<prefix>/datacapture/<endpoint>/<variant>/
    statistics_uri: str  # the baseline's statistics.json
    constraints_uri: str  # the baseline's constraints.json
    output_uri: str  # s3://<bucket>/<prefix>/monitoring/<stage>; a folder per job below
    code_uri: str  # code_objects()[0]
    image_uri: str
    role_arn: str
    instance_type: str
    model: str  # "group/version", recorded in the job's environment
    tags: Mapping[str, str] = field(default_factory=dict)
    network: Network | None = None
    volume_size_gb: int = 30
    max_runtime_seconds: int = 3600

    def output_of(self, name: str) -> str:
        """Where job ``name`` writes its results."""
        return f"{self.output_uri.rstrip('/')}/{name}"

    def request(
        self, name: str, *, since: str | None = None, end_time: str | None = None
    ) -> dict[str, Any]:
        """The CreateProcessingJob request of job ``name``: ``since`` before ``end_time``."""
        environment = {
            "dataset_format": json.dumps({"sagemakerCaptureJson": {}}),
            "dataset_source": CAPTURE_DIR,
            "output_path": OUTPUT_DIR,
            "baseline_statistics": f"{STATISTICS_DIR}/{_file_name(self.statistics_uri)}",
            "baseline_constraints": f"{CONSTRAINTS_DIR}/{_file_name(self.constraints_uri)}",
            "publish_cloudwatch_metrics": "Disabled",
            "sagemaker_endpoint_name": self.endpoint_name,
            "sagepipe_model": self.model,
            "report_html": "true",
            # The job completes and uploads its results either way; they say what it found.
            "fail_on_violation": "false",
            "PYTHONPATH": CODE_DIR,
        }
        if since:
            environment["since"] = since
        if end_time:
            environment["end_time"] = end_time
        arguments: dict[str, Any] = {
            "ProcessingJobName": name,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_gb,
                }
            },
            "AppSpecification": {
                "ImageUri": self.image_uri,
                "ContainerEntrypoint": ["python3", "-m", "sagepipe.monitor"],
            },
            "RoleArn": self.role_arn,
            "ProcessingInputs": [
                processing_input("code", self.code_uri, CODE_DIR),
                processing_input("endpoint", self.capture_uri, CAPTURE_DIR),
                processing_input("baseline_statistics", self.statistics_uri, STATISTICS_DIR),
                processing_input("baseline_constraints", self.constraints_uri, CONSTRAINTS_DIR),
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    processing_output("monitoring_output", self.output_of(name), OUTPUT_DIR)
                ]
            },
            "Environment": environment,
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())],
        }
        secure_processing(arguments, self.network)
        return arguments


def _file_name(uri: str) -> str:
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return tail or "baseline.json"


# -- running once ------------------------------------------------------------------------
def start(sm: Any, request: Mapping[str, Any], echo: Echo | None = None) -> str:
    """Start the Processing job; return its ARN."""
    name = request["ProcessingJobName"]
    with calling(f"starting monitoring processing job {name}", echo):
        answer = sm.create_processing_job(**request)
    return str(answer["ProcessingJobArn"])


def wait(
    sm: Any,
    name: str,
    echo: Echo | None = None,
    sleep: Callable[[float], None] | None = None,
    timeout: float = 4 * 3600,
) -> dict[str, Any]:
    """Describe the job until it is Completed, Failed or Stopped; return the last answer."""

    def describe() -> dict[str, Any]:
        with calling(f"describing processing job {name}"):
            info: dict[str, Any] = sm.describe_processing_job(ProcessingJobName=name)
        return info

    seen: list[str] = []

    def tell(info: dict[str, Any]) -> None:
        status = str(info.get("ProcessingJobStatus"))
        if echo is not None and seen[-1:] != [status]:
            echo(f"processing job {name}: {status}")
        seen.append(status)

    return poll(
        describe,
        lambda i: i.get("ProcessingJobStatus") in _FINAL,
        what=f"processing job {name}",
        timeout=timeout,
        on_tick=tell,
        sleep=sleep or time.sleep,
    )


def read_results(s3: Any, output_uri: str) -> dict[str, Any] | None:
    """The job's ``summary.json`` (violations, drift, counts), or None when it wrote none."""
    from .session import split_s3_uri

    bucket, key = split_s3_uri(f"{output_uri.rstrip('/')}/summary.json")
    with calling(f"reading s3://{bucket}/{key}"):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            if error_code(error) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
    try:
        summary: dict[str, Any] = json.loads(body)
    except ValueError:
        raise AwsError(
            f"s3://{bucket}/{key} is not JSON; the job did not finish writing it"
        ) from None
    return summary


# -- schedules -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """One monitoring schedule as EventBridge Scheduler keeps it."""

    name: str
    expression: str
    state: str
    target_arn: str
    arn: str = ""
    endpoint_name: str = ""
    output_uri: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {
            "Name": self.name,
            "ScheduleExpression": self.expression,
            "State": self.state,
            "Target": self.target_arn,
            "Arn": self.arn,
            "EndpointName": self.endpoint_name,
            "OutputUri": self.output_uri,
        }


def schedule_target(request: Mapping[str, Any], scheduler_role_arn: str) -> dict[str, Any]:
    """The schedule's target: CreateProcessingJob with ``request``, as the scheduler's role."""
    return {
        "Arn": SCHEDULER_TARGET,
        "RoleArn": scheduler_role_arn,
        "Input": json.dumps(request, sort_keys=True),
        # A job that could not be started an hour late is of no use: the next run covers it.
        "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
    }


def upsert_schedule(
    scheduler: Any,
    name: str,
    expression: str,
    target: Mapping[str, Any],
    description: str,
    echo: Echo | None = None,
) -> tuple[str, bool]:
    """Create the schedule, or update it when it exists; return (its ARN, created)."""
    body = {
        "Name": name,
        "GroupName": SCHEDULE_GROUP,
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": dict(target),
        "State": "ENABLED",
        "Description": description,
    }
    with calling(f"looking up schedule {name}"):
        existing = _get_schedule(scheduler, name)
    if existing is None:
        with calling(f"creating schedule {name} ({expression})", echo):
            arn = scheduler.create_schedule(**body)["ScheduleArn"]
        return str(arn), True
    with calling(f"updating schedule {name} ({expression})", echo):
        arn = scheduler.update_schedule(**body)["ScheduleArn"]
    return str(arn), False


def _get_schedule(scheduler: Any, name: str) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP)
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    return info


def delete_schedule(scheduler: Any, name: str, echo: Echo | None = None) -> bool:
    """Delete the schedule; False when there was none."""
    with calling(f"deleting schedule {name}", echo):
        try:
            scheduler.delete_schedule(Name=name, GroupName=SCHEDULE_GROUP)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
    return True


def list_schedules(scheduler: Any, prefix: str) -> list[Schedule]:
    """The schedules whose names start with ``prefix``, with what each one monitors."""
    found: list[Schedule] = []
    with calling(f"listing schedules {prefix}*"):
        for page in scheduler.get_paginator("list_schedules").paginate(
            GroupName=SCHEDULE_GROUP, NamePrefix=prefix
        ):
            for summary in page.get("Schedules", []):
                info = scheduler.get_schedule(Name=summary["Name"], GroupName=SCHEDULE_GROUP)
                found.append(_schedule(info))
    return sorted(found, key=lambda s: s.name)


def _schedule(info: Mapping[str, Any]) -> Schedule:
    target = info.get("Target") or {}
    try:
        request = json.loads(target.get("Input") or "{}")
    except ValueError:
        request = {}
    environment = request.get("Environment") or {}
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or [{}]
    output = str(((outputs[0].get("S3Output") or {}).get("S3Uri")) or "")
    return Schedule(
        name=str(info.get("Name")),
        expression=str(info.get("ScheduleExpression")),
        state=str(info.get("State")),
        target_arn=str(target.get("Arn") or ""),
        arn=str(info.get("Arn") or ""),
        endpoint_name=str(environment.get("sagemaker_endpoint_name") or ""),
        output_uri=output.rsplit("/", 1)[0] if EXECUTION_ID in output else output,
    )
