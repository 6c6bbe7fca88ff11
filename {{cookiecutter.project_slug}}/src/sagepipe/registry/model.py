"""Value types of the model registry, with SageMaker's field meanings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
APPROVAL_STATUSES = (PENDING, APPROVED, REJECTED)

# SageMaker's rules: a decision can be revised (Approved <-> Rejected), but a package
# never goes back to "pending" once somebody decided about it.
VALID_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({REJECTED}),
    REJECTED: frozenset({APPROVED}),
}

# SageMaker's ModelPackageGroupName pattern.
GROUP_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

LOCAL_ARN_PREFIX = "arn:aws:sagemaker:local:000000000000"


class RegistryError(ValueError):
    """A request the registry refuses; the message is one line: value, rule and fix."""


class ModelPackageNotFound(RegistryError, LookupError):
    """No such model package group or version."""


@dataclass(frozen=True)
class Lineage:
    """Where a model version came from: enough to reproduce and to audit it.

    ``sagepipe_version`` is the engine that compiled the pipeline (the definition's
    ``sagepipe:Version`` metadata); ``None`` for versions registered before it was kept.
    """

    execution_id: str | None = None
    pipeline_name: str | None = None
    data_digest: str | None = None
    code_digest: str | None = None
    git_commit: str | None = None
    sagepipe_version: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ExecutionId": self.execution_id,
            "PipelineName": self.pipeline_name,
            "DataDigest": self.data_digest,
            "CodeDigest": self.code_digest,
            "GitCommit": self.git_commit,
            "SagepipeVersion": self.sagepipe_version,
            "Parameters": self.parameters,
            "Metrics": self.metrics,
            "Extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        """Inverse of :meth:`to_dict`."""
        return cls(
            execution_id=data.get("ExecutionId"),
            pipeline_name=data.get("PipelineName"),
            data_digest=data.get("DataDigest"),
            code_digest=data.get("CodeDigest"),
            git_commit=data.get("GitCommit"),
            sagepipe_version=data.get("SagepipeVersion"),
            parameters=dict(data.get("Parameters") or {}),
            metrics=dict(data.get("Metrics") or {}),
            extra=dict(data.get("Extra") or {}),
        )


@dataclass(frozen=True)
class ApprovalEvent:
    """One change of a version's approval status: who, when, from what to what, why."""

    group: str
    version: int
    from_status: str | None
    to_status: str
    by: str
    at: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "From": self.from_status,
            "To": self.to_status,
            "By": self.by,
            "At": self.at,
            "Reason": self.reason,
        }


@dataclass(frozen=True)
class ModelPackage:
    """One registered model version (SageMaker's DescribeModelPackage, plus local fields).

    ``model_data_path`` is where ``model_data_url`` lives on this machine (the workspace's
    S3 folder) and ``model_data_sha256`` the digest of that ``model.tar.gz`` when it was
    registered: deploy code checks it before serving.
    """

    group: str
    version: int
    arn: str
    approval_status: str
    model_data_url: str | None
    model_data_path: Path | None
    model_data_sha256: str | None
    image: str | None
    inference_specification: dict[str, Any]
    model_metrics: dict[str, Any]
    drift_check_baselines: dict[str, Any]
    customer_metadata: dict[str, str]
    description: str
    creation_time: str
    last_modified_time: str
    approval_description: str
    lineage: Lineage
    approval_history: tuple[ApprovalEvent, ...] = ()

    @property
    def metrics(self) -> dict[str, Any]:
        """The evaluation metrics recorded in the lineage (``{}`` when there were none)."""
        return self.lineage.metrics

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with SageMaker's field names."""
        return {
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": self.version,
            "ModelPackageArn": self.arn,
            "ModelApprovalStatus": self.approval_status,
            "ModelDataUrl": self.model_data_url,
            "ModelDataPath": str(self.model_data_path) if self.model_data_path else None,
            "ModelDataSha256": self.model_data_sha256,
            "Image": self.image,
            "InferenceSpecification": self.inference_specification,
            "ModelMetrics": self.model_metrics,
            "DriftCheckBaselines": self.drift_check_baselines,
            "CustomerMetadataProperties": self.customer_metadata,
            "ModelPackageDescription": self.description,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "ApprovalDescription": self.approval_description,
            "Lineage": self.lineage.to_dict(),
            "ApprovalHistory": [e.to_dict() for e in self.approval_history],
        }
