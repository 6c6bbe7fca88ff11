"""Job steps: a container contract run as a sandboxed subprocess, with the step cache.

:class:`JobRunner` holds what every job shares (cache lookup, the job's environment,
launching, timeouts, collecting outputs, the cache entry); a job type says how its
inputs are content-keyed, how its sandbox is prepared and what properties it reports.
"""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import namespace
from ..cache import (
    CacheEntry,
    InputGroups,
    cache_key,
    processing_inputs,
    reusable_entry,
    training_inputs,
)
from ..containment import TIMED_OUT, remove_tree, runtime_limit
from ..execution import LOCAL_ARN, now
from ..expressions import ExpressionError, resolve
from ..jobenv import JobRuntime, job_runtime, with_requirements
from ..plan import StepPlan
from ..sandbox import (
    JobError,
    JobPlan,
    collect_results,
    failure_reason,
    prepare_processing,
    prepare_training,
)
from ..scheduler import StepOutcome, Work
from ..states import StepState
from .base import BaseRunner, failed, succeeded

# The properties worth keeping in the history (not the whole request).
SUMMARY_KEYS = (
    "ProcessingJobName",
    "TrainingJobName",
    "ModelArtifacts",
    "ProcessingOutputConfig",
    "Outcome",
    "ModelPackageArn",
    "ModelName",
    "TransformJobName",
    "Runtime",
)


def summary(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a job's properties the run history records."""
    return {k: properties[k] for k in SUMMARY_KEYS if k in properties}


class JobRunner(BaseRunner):
    """A step whose work is a job process; runs on a worker thread."""

    concurrent = True

    def prepare(self, step: StepPlan) -> Work:
        """Resolve the arguments now (their inputs exist); the job runs on a thread."""
        try:
            args = resolve(step.arguments, self.session.context())
        except (ExpressionError, ValueError) as exc:
            reason = str(exc)
            return Work(lambda: failed(reason))
        job_dir = self.session.execution.log_dir / step.name
        return Work(lambda: self._guarded(step, args, job_dir), log_path=str(job_dir / "job.log"))

    @abstractmethod
    def content_keyed(
        self, step: StepPlan, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], InputGroups]:
        """The arguments with input URIs replaced by content digests, and the input groups."""

    #: Writes the job's sandbox for its container contract (``sandbox.prepare_*``).
    prepare_sandbox: Callable[..., JobPlan]

    def plan_job(
        self, step: StepPlan, args: dict[str, Any], job_dir: Path, job_name: str
    ) -> tuple[JobRuntime, JobPlan]:
        """The job's runtime (from the image its arguments name) and its prepared sandbox."""
        session = self.session
        runtime = job_runtime(step.name, step.type, args, session.runtimes)
        plan = type(self).prepare_sandbox(
            step.name,
            args,
            job_dir=job_dir,
            job_name=job_name,
            s3_root=session.s3_root,
            shim=session.shim_for(runtime.python),
            python=runtime.python,
        )
        if plan.requirements is not None:
            # Only a source directory with a requirements.txt pays for this.
            runtime = self._with_requirements(step.name, runtime, plan)
        return runtime, plan

    def _with_requirements(self, step_name: str, runtime: JobRuntime, plan: JobPlan) -> JobRuntime:
        """Install the plan's requirements.txt into an overlay and point the job at it."""
        assert plan.requirements is not None
        before = runtime.python
        runtime = with_requirements(step_name, runtime, plan.requirements, self.session.runtimes)
        if runtime.python != before:
            plan.command = [runtime.python if part == before else part for part in plan.command]
            old_shim = str(self.session.shim_for(before))
            new_shim = str(self.session.shim_for(runtime.python))
            plan.env["PATH"] = plan.env["PATH"].replace(old_shim, new_shim, 1)
        return runtime

    @abstractmethod
    def job_properties(self, job_name: str, plan: JobPlan) -> dict[str, Any]:
        """The job's own properties (name, ARN, status...) after it succeeded."""

    def _guarded(self, step: StepPlan, args: dict[str, Any], job_dir: Path) -> StepOutcome:
        try:
            return self._run(step, args, job_dir)
        except JobError as exc:
            return failed(str(exc))

    def _run(self, step: StepPlan, args: dict[str, Any], job_dir: Path) -> StepOutcome:
        session = self.session
        keyed, groups = self.content_keyed(step, args)
        cacheable = session.use_cache and step.cache.enabled
        key = cache_key(step.type, keyed, step.raw.get("PropertyFiles"))
        if cacheable:
            entry = reusable_entry(session.cache, key, step.cache.expire_after, session.digest_uri)
            if entry is not None:
                original_log = session.workspace / "executions" / entry.execution_id / step.name
                return succeeded(
                    entry.properties,
                    recorded=summary(entry.properties),
                    cache_hit=True,
                    inputs=groups,
                    log_path=str(original_log / "job.log"),
                )
        if session.stop.is_set():
            return StepOutcome(StepState.STOPPED, inputs=groups)
        job_name = session.job_name(step)
        runtime, plan = self.plan_job(step, args, job_dir, job_name)
        self._environment(plan, runtime)
        limit = runtime_limit(args)
        returncode = session.launcher.spawn(plan, limit)
        if session.stop.is_set():
            return StepOutcome(StepState.STOPPED, inputs=groups)
        if returncode == TIMED_OUT:
            reason = f"stopped at StoppingCondition.MaxRuntimeInSeconds={limit:g}"
            return failed(reason, inputs=groups)
        if returncode != 0:
            return failed(failure_reason(plan, returncode), inputs=groups)
        written = collect_results(plan, session.s3_root, move=not session.keep_sandboxes)
        if not session.keep_sandboxes:
            # Outputs are uploaded; the sandbox only holds copies. Keep job.log (and keep
            # failed sandboxes, which are what one wants to inspect).
            for folder in (plan.opt_ml, plan.job_dir / "staging", plan.job_dir / ".mountns"):
                remove_tree(folder, session.execution.log_dir)
        properties = dict(args)
        properties["Runtime"] = runtime.record
        properties.update(self.job_properties(job_name, plan))
        if cacheable:
            # Written last and in one transaction: a run killed before this line leaves no
            # entry, so the step simply runs again next time.
            outputs = {uri: session.digests.tree(Path(path)) for uri, path in written.items()}
            session.cache.store(
                CacheEntry(key, step.name, session.execution.id, now(), properties, outputs)
            )
        return succeeded(properties, recorded=summary(properties), inputs=groups)

    def _environment(self, plan: JobPlan, runtime: JobRuntime) -> None:
        """The job's environment: no AWS credentials, its runtime's variables, local S3."""
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            plan.env.pop(name, None)
        for name, value in runtime.env.items():
            if value is None:
                plan.env.pop(name, None)
            else:
                plan.env[name] = value
        plan.env.update(self.session.s3_endpoint.job_env(plan.job_dir))
        if not (plan.env.get("AWS_REGION") or plan.env.get("AWS_DEFAULT_REGION")):
            plan.env["AWS_DEFAULT_REGION"] = "us-east-1"
        plan.mount, mount_notice = namespace.mount_for(plan.opt_ml, plan.job_dir)
        for notice in (runtime.notice, mount_notice):
            if notice:
                with open(plan.log_path, "a") as log:
                    log.write(f"notice: {notice}\n")
                if notice is mount_notice:
                    print(f"sagepipe: {notice}", file=sys.stderr)


class ProcessingRunner(JobRunner):
    """Processing jobs (CreateProcessingJob's container contract)."""

    def content_keyed(
        self, step: StepPlan, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], InputGroups]:
        """Inputs by ``ProcessingInputs``; ``code`` inputs are code, the rest data."""
        return processing_inputs(args, step.arguments, self.session.digest_uri)

    # The job runs in the runtime of ``AppSpecification.ImageUri``.
    prepare_sandbox = staticmethod(prepare_processing)

    def job_properties(self, job_name: str, plan: JobPlan) -> dict[str, Any]:
        """DescribeProcessingJob's name, ARN and status."""
        return {
            "ProcessingJobName": job_name,
            "ProcessingJobArn": f"{LOCAL_ARN}:processing-job/{job_name.lower()}",
            "ProcessingJobStatus": "Completed",
            "ExitMessage": "",
        }


class TrainingRunner(JobRunner):
    """Training jobs (CreateTrainingJob's container contract, SageMaker SDK ``@step`` too)."""

    def content_keyed(
        self, step: StepPlan, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], InputGroups]:
        """Inputs by channel, plus the submitted source directory (code)."""
        return training_inputs(args, step.arguments, self.session.digest_uri)

    # The job runs in the runtime of ``AlgorithmSpecification.TrainingImage``.
    prepare_sandbox = staticmethod(prepare_training)

    def job_properties(self, job_name: str, plan: JobPlan) -> dict[str, Any]:
        """DescribeTrainingJob's name, ARN, status, output path and model artifact."""
        assert plan.output_data_uri is not None
        # <S3OutputPath>/<job>/output/output.tar.gz: the path as the job used it, so a
        # Join of these properties (Training.output_data) names the archive it wrote.
        suffix = f"/{job_name}/output/output.tar.gz"
        assert plan.output_data_uri.endswith(suffix)
        return {
            "TrainingJobName": job_name,
            "TrainingJobArn": f"{LOCAL_ARN}:training-job/{job_name.lower()}",
            "TrainingJobStatus": "Completed",
            "OutputDataConfig": {"S3OutputPath": plan.output_data_uri.removesuffix(suffix)},
            "ModelArtifacts": {"S3ModelArtifacts": plan.model_uri},
        }
