"""RegisterModel steps: a new version in the local registry, with its lineage."""

from __future__ import annotations

import json
from typing import Any

from ...compile_lineage import SAGEPIPE_VERSION
from ...registry.lineage import git_state, run_lineage
from ...storage import objects as s3
from ..expressions import resolve
from ..plan import StepPlan
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded


class RegisterModelRunner(InlineRunner):
    """Registers the model artifact; an unchanged artifact answers with its version."""

    def run(self, step: StepPlan) -> StepOutcome:
        """Check the artifact exists, record lineage, register (or find) the version."""
        session = self.session
        args = resolve(step.arguments, session.context())
        group = args.get("ModelPackageGroupName")
        spec = dict(args.get("InferenceSpecification") or {})
        containers = spec.get("Containers") or []
        if not group or not containers:
            raise ValueError(
                f"RegisterModel needs ModelPackageGroupName and InferenceSpecification.Containers"
                f" (got group {group!r}, {len(containers)} containers)"
            )
        model_url = containers[0].get("ModelDataUrl")
        model_path = s3.uri_to_path(session.s3_root, str(model_url)) if model_url else None
        if model_path is not None and not model_path.is_file():
            raise ValueError(
                f"ModelDataUrl {model_url} does not exist (looked at {model_path}); "
                "the training step must produce it first"
            )
        evaluation: Any = {}
        stats_uri = (
            ((args.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
        ).get("S3Uri")
        if stats_uri:
            stats_path = s3.uri_to_path(session.s3_root, str(stats_uri))
            if stats_path.is_file():
                evaluation = json.loads(stats_path.read_text())
        commit, dirty = git_state(session.workspace.resolve().parent)
        execution = session.execution
        lineage = run_lineage(
            execution_id=execution.id,
            pipeline_name=execution.pipeline_name,
            parameters=execution.parameters,
            step_name=step.name,
            step_inputs=session.inputs,
            evaluation=evaluation,
            statistics_uri=stats_uri,
            git_commit=commit,
            git_dirty=dirty,
            sagepipe_version=(args.get("CustomerMetadataProperties") or {}).get(SAGEPIPE_VERSION),
        )
        # An unchanged artifact (e.g. a fully cached re-run) is not registered again: the
        # step answers with the version that already holds it.
        package, created = session.registry.register(
            str(group),
            model_data_url=str(model_url) if model_url else None,
            approval_status=str(args.get("ModelApprovalStatus") or "PendingManualApproval"),
            inference_specification=spec,
            model_metrics=dict(args.get("ModelMetrics") or {}),
            drift_check_baselines=dict(args.get("DriftCheckBaselines") or {}),
            customer_metadata=dict(args.get("CustomerMetadataProperties") or {}),
            description=str(args.get("ModelPackageDescription") or ""),
            lineage=lineage,
        )
        target = execution.registered if created else execution.already_registered
        target.append((package.group, package.version))
        return succeeded(
            {
                "ModelPackageArn": package.arn,
                "ModelPackageGroupName": package.group,
                "ModelPackageVersion": package.version,
                "ModelApprovalStatus": package.approval_status,
            }
        )
