"""The JSON reports (property files) that a finished SageMaker execution's steps wrote.

A Processing step's ``PropertyFiles`` name an output and a file inside it (the
evaluation report, for one). On SageMaker the file is in S3, under the output's URI as
``DescribeProcessingJob`` resolved it for that execution. Reading them back gives a
SageMaker run the same metrics a local run keeps in ``runs.db``.

Each report is read with a size cap and parsed as JSON. A report that is missing, too
large or not JSON is skipped with one warning line: it is that step's problem, and the
run it belongs to already ended.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AwsError, calling
from .pipelines import iter_steps
from .session import AwsSession, split_s3_uri

# Evaluation reports are a few KiB; a cap keeps a wrong FilePath from reading a data set.
MAX_REPORT_BYTES = 1_000_000


@dataclass(frozen=True)
class PropertyFileSpec:
    """One ``PropertyFiles`` entry of a step: which output, which file in it."""

    step: str
    name: str
    output: str
    path: str


def property_files(definition: bytes | Mapping[str, Any]) -> dict[str, list[PropertyFileSpec]]:
    """``step name -> its property files`` for the steps that declare any."""
    data = json.loads(definition) if isinstance(definition, (bytes, str)) else definition
    found: dict[str, list[PropertyFileSpec]] = {}
    for step in iter_steps(data):
        for entry in step.get("PropertyFiles") or []:
            if not isinstance(entry, Mapping):
                continue
            spec = PropertyFileSpec(
                step=str(step.get("Name")),
                name=str(entry.get("PropertyFileName")),
                output=str(entry.get("OutputName")),
                path=str(entry.get("FilePath")),
            )
            found.setdefault(spec.step, []).append(spec)
    return found


def report_key(output_uri: str, path: str) -> tuple[str, str]:
    """The bucket and key of ``path`` inside ``output_uri``; ValueError if it leaves it."""
    bucket, prefix = split_s3_uri(output_uri)
    joined = posixpath.normpath(posixpath.join("/", path)).lstrip("/")
    if not path or path.startswith("/") or ".." in path.split("/") or joined in ("", "."):
        raise ValueError(
            f"property file path {path!r} must be a relative path inside its output "
            "(no leading /, no ..)"
        )
    return bucket, f"{prefix.rstrip('/')}/{joined}" if prefix else joined


def _outputs_of(session: AwsSession, job_arn: str) -> dict[str, str]:
    name = job_arn.rsplit("/", 1)[-1]
    with calling(f"describing processing job {name}"):
        job = session.sagemaker.describe_processing_job(ProcessingJobName=name)
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    return {
        str(o.get("OutputName")): str((o.get("S3Output") or {}).get("S3Uri") or "") for o in outputs
    }


def _read(session: AwsSession, bucket: str, key: str) -> Any:
    where = f"s3://{bucket}/{key}"
    with calling(f"reading {where}"):
        # One GET of at most a byte over the cap: a larger file is refused unread.
        answer = session.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_REPORT_BYTES}")
        body = answer["Body"].read(MAX_REPORT_BYTES + 1)
    if len(body) > MAX_REPORT_BYTES:
        raise ValueError(f"{where} is over the {MAX_REPORT_BYTES}-byte limit for a report")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{where} is not JSON ({error})") from None


def step_reports(
    session: AwsSession,
    definition: bytes | Mapping[str, Any],
    execution: Any,
    warn: Callable[[str], None],
) -> list[tuple[str, Any]]:
    """``(step, parsed report)`` for each property file of the execution's succeeded steps.

    A step reused from the cache names the job that made its outputs, so its report is
    read from there, as a local run copies a cached step's outputs.

    ``execution`` is a :class:`sagepipe.sagemaker.pipelines.RemoteExecution` whose steps
    carry their job ARNs (``describe`` fills them).
    """
    specs = property_files(definition)
    reports: list[tuple[str, Any]] = []
    for step in execution.steps.values():
        wanted = specs.get(step.name)
        if not wanted or step.status != "Succeeded" or not step.job_arn:
            continue
        try:
            outputs = _outputs_of(session, step.job_arn)
            for spec in wanted:
                uri = outputs.get(spec.output)
                if not uri:
                    raise ValueError(f"its job has no output {spec.output!r}")
                reports.append((step.name, _read(session, *report_key(uri, spec.path))))
        except (AwsError, ValueError) as error:
            warn(f"warning: the report of step {step.name} was not read: {error}")
    return reports
