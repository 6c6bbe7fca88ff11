"""The SageMaker Model Registry behind the same methods as the local ``ModelRegistry``.

``list_groups``, ``list_model_packages``, ``describe``, ``update_approval_status`` and
``latest_approved`` return the same :class:`sagepipe.registry.ModelPackage` values, so
the CLI prints the same shapes and JSON whichever registry it reads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from ..registry.model import (
    APPROVED,
    VALID_TRANSITIONS,
    ModelPackage,
    ModelPackageNotFound,
    RegistryError,
)
from .errors import calling, error_code
from .lineage import DATA_DIGEST, GIT_COMMIT, lineage_from_metadata, parse_run_description


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


class SageMakerRegistry:
    """Model package groups and versions in one account and region."""

    def __init__(self, sagemaker_client: Any, echo: Any = None) -> None:
        self.sm = sagemaker_client
        self.echo = echo

    def list_groups(self) -> list[str]:
        """Names of all model package groups, sorted."""
        names: list[str] = []
        with calling("listing model package groups"):
            for page in self.sm.get_paginator("list_model_package_groups").paginate():
                names += [g["ModelPackageGroupName"] for g in page["ModelPackageGroupSummaryList"]]
        return sorted(names)

    def _summaries(self, group: str) -> list[dict[str, Any]]:
        with calling(f"listing versions of model package group {group}"):
            try:
                self.sm.describe_model_package_group(ModelPackageGroupName=group)
            except Exception as error:
                if error_code(error) in ("ValidationException", "ResourceNotFound"):
                    raise ModelPackageNotFound(
                        f"model package group {group!r} does not exist on SageMaker; run the "
                        "pipeline with --target sagemaker first, or pass --group NAME"
                    ) from None
                raise
            summaries: list[dict[str, Any]] = []
            for page in self.sm.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=group, ModelPackageType="Versioned"
            ):
                summaries += page["ModelPackageSummaryList"]
        return sorted(summaries, key=lambda s: int(s.get("ModelPackageVersion") or 0))

    def _package(self, arn: str) -> ModelPackage:
        with calling(f"describing model package {arn}"):
            info = self.sm.describe_model_package(ModelPackageName=arn)
        spec = info.get("InferenceSpecification") or {}
        container = (spec.get("Containers") or [{}])[0]
        metadata = dict(info.get("CustomerMetadataProperties") or {})
        return ModelPackage(
            group=str(info.get("ModelPackageGroupName")),
            version=int(info.get("ModelPackageVersion") or 0),
            arn=str(info.get("ModelPackageArn")),
            approval_status=str(info.get("ModelApprovalStatus")),
            model_data_url=container.get("ModelDataUrl"),
            model_data_path=None,
            model_data_sha256=None,
            image=container.get("Image"),
            inference_specification=spec,
            model_metrics=info.get("ModelMetrics") or {},
            drift_check_baselines=info.get("DriftCheckBaselines") or {},
            customer_metadata=metadata,
            description=str(info.get("ModelPackageDescription") or ""),
            creation_time=_iso(info.get("CreationTime")),
            last_modified_time=_iso(info.get("LastModifiedTime") or info.get("CreationTime")),
            approval_description=str(info.get("ApprovalDescription") or ""),
            lineage=lineage_from_metadata(metadata),
        )

    def list_model_packages(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        """All versions of ``group`` (or of every group), oldest first."""
        groups = [group] if group else self.list_groups()
        packages = []
        for name in groups:
            for summary in self._summaries(name):
                if status is None or summary.get("ModelApprovalStatus") == status:
                    packages.append(self._package(str(summary["ModelPackageArn"])))
        return packages

    def _arn_of(self, group: str, version: int | str) -> str:
        summaries = self._summaries(group)
        if not summaries:
            raise ModelPackageNotFound(
                f"model package group {group!r} has no versions yet; run the pipeline first"
            )
        if version == "latest":
            return str(summaries[-1]["ModelPackageArn"])
        if version == "latest-approved":
            approved = [s for s in summaries if s.get("ModelApprovalStatus") == APPROVED]
            if not approved:
                raise ModelPackageNotFound(
                    f"{group} has no Approved version; approve one with `registry approve N "
                    "--target sagemaker`"
                )
            return str(approved[-1]["ModelPackageArn"])
        for summary in summaries:
            if int(summary.get("ModelPackageVersion") or 0) == int(version):
                return str(summary["ModelPackageArn"])
        known = ", ".join(str(s.get("ModelPackageVersion")) for s in summaries)
        raise ModelPackageNotFound(
            f"{group} has no version {version} on SageMaker (versions: {known}); "
            "use one of them or 'latest'"
        )

    def describe(self, group: str, version: int | str = "latest") -> ModelPackage:
        """One version (a number, ``"latest"`` or ``"latest-approved"``) with its full lineage.

        The data digest and git commit are on the execution that registered it (its
        description), so they cost one more call and are read here, not when listing.
        """
        package = self._package(self._arn_of(group, version))
        lineage = package.lineage
        if not (lineage.execution_id and lineage.pipeline_name):
            return package
        region, account = package.arn.split(":")[3:5]
        execution = (
            f"arn:aws:sagemaker:{region}:{account}:pipeline/{lineage.pipeline_name}"
            f"/execution/{lineage.execution_id}"
        )
        try:
            info = self.sm.describe_pipeline_execution(PipelineExecutionArn=execution)
        except Exception as error:
            if error_code(error) is None:  # not an answer from AWS: say what failed
                with calling(f"reading execution {execution}"):
                    raise
            return package  # the execution was deleted: the rest of the lineage stands
        facts = parse_run_description(str(info.get("PipelineExecutionDescription") or ""))
        return replace(
            package,
            lineage=replace(
                lineage,
                data_digest=facts.get(DATA_DIGEST, lineage.data_digest),
                git_commit=facts.get(GIT_COMMIT, lineage.git_commit),
            ),
        )

    def latest_approved(self, group: str) -> ModelPackage | None:
        """The highest Approved version, or None."""
        try:
            return self.describe(group, "latest-approved")
        except ModelPackageNotFound:
            return None

    def update_approval_status(
        self, group: str, version: int | str, status: str, *, reason: str = ""
    ) -> ModelPackage:
        """Approve or reject a version, with SageMaker's transition rules checked first."""
        package = self.describe(group, version)
        current = package.approval_status
        if current == status:
            return package
        if status not in VALID_TRANSITIONS.get(current, frozenset()):
            raise RegistryError(
                f"cannot change {group} version {package.version} from {current} to {status}: "
                f"allowed from {current} is {' or '.join(sorted(VALID_TRANSITIONS[current]))}"
            )
        body: dict[str, Any] = {"ModelPackageArn": package.arn, "ModelApprovalStatus": status}
        if reason:
            body["ApprovalDescription"] = reason
        with calling(f"setting {group} version {package.version} to {status}", self.echo):
            self.sm.update_model_package(**body)
        return self._package(package.arn)
