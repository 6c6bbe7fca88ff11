"""Batch transform jobs on SageMaker, with the same options as the local transform."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import AwsError, calling
from .pipelines import tags_list
from .poll import wait_for_status


@dataclass(frozen=True)
class TransformPlan:
    """One transform job: the model, where the data is, and how records are split."""

    model_name: str
    input_uri: str
    output_uri: str
    instance_type: str
    instance_count: int = 1
    content_type: str = "text/csv"
    accept: str = "text/csv"
    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: float = 6.0
    assemble_with: str = "Line"
    input_filter: str = "$"
    join_source: str = "None"
    output_filter: str = "$"
    tags: dict[str, str] = field(default_factory=dict)

    def job_name(self, now: float | None = None) -> str:
        """``<model>-<UTC timestamp>``: job names are unique per account forever."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
        return f"{self.model_name[: 63 - len(stamp) - 1]}-{stamp}"

    def request(self, job_name: str) -> dict[str, Any]:
        """The CreateTransformJob request."""
        return {
            "TransformJobName": job_name,
            "ModelName": self.model_name,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": max(1, int(self.max_payload_mb)),
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.input_uri}},
                "ContentType": self.content_type,
                "SplitType": self.split_type,
            },
            "TransformOutput": {
                "S3OutputPath": self.output_uri,
                "Accept": self.accept,
                "AssembleWith": self.assemble_with,
            },
            "TransformResources": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
            },
            "DataProcessing": {
                "InputFilter": self.input_filter,
                "OutputFilter": self.output_filter,
                "JoinSource": self.join_source,
            },
            "Tags": tags_list(self.tags),
        }


def start(sm: Any, plan: TransformPlan, echo: Callable[[str], None]) -> str:
    """Create the transform job; return its name."""
    name = plan.job_name()
    with calling(
        f"creating transform job {name} ({plan.instance_type} x{plan.instance_count}, "
        f"{plan.input_uri} -> {plan.output_uri})",
        echo,
    ):
        sm.create_transform_job(**plan.request(name))
    return name


def wait(
    sm: Any,
    name: str,
    *,
    echo: Callable[[str], None],
    timeout: float = 24 * 3600,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Poll the job until it ends; a failed job raises with SageMaker's reason."""

    def probe() -> dict[str, Any]:
        with calling(f"describing transform job {name}"):
            info: dict[str, Any] = sm.describe_transform_job(TransformJobName=name)
        return info

    info = wait_for_status(
        probe,
        "TransformJobStatus",
        ("Completed", "Failed", "Stopped"),
        what=f"transform job {name}",
        echo=echo,
        timeout=timeout,
        sleep=sleep,
    )
    if info.get("TransformJobStatus") != "Completed":
        raise AwsError(
            f"transform job {name} {info.get('TransformJobStatus')}: "
            f"{info.get('FailureReason') or 'no reason given'}; see CloudWatch "
            "/aws/sagemaker/TransformJobs"
        )
    return info
