"""``monitor --target sagemaker``: the monitoring job as a SageMaker Processing job.

Once (``monitor --stage S --target sagemaker [--wait]``) or on an EventBridge Scheduler
schedule (``--schedule 'rate(1 day)'``; ``--unschedule`` removes it, ``monitor-schedules``
lists them). The job checks what the stage's endpoint captured in S3 against the
data-quality baseline registered with the version it serves, with the same code as
``monitor --stage S`` here (uploaded content-addressed). boto3 is imported only when one
of these runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagepipe.network import network_from_text
from sagepipe.registry import ModelPackage
from sagepipe.sagemaker import monitoring as aws_monitoring
from sagepipe.sagemaker import upload

from .. import settings as project_settings
from .operations import endpoint_name
from .sagemaker_target import Remote, remote, say, served_version


def schedule_name(stage: str) -> str:
    """The stage's schedule: ``<project>-monitor-<stage>``."""
    return f"{project_settings.PROJECT}-monitor-{stage}"


def _baselines(package: ModelPackage) -> tuple[str, str]:
    """S3 URIs of the data-quality statistics and constraints registered with ``package``."""
    for section in (package.drift_check_baselines, package.model_metrics):
        block = (section or {}).get("ModelDataQuality") or {}
        statistics = (block.get("Statistics") or {}).get("S3Uri")
        constraints = (block.get("Constraints") or {}).get("S3Uri")
        if statistics and constraints:
            return str(statistics), str(constraints)
    from .monitoring import migrated_from

    notebook = migrated_from(package)
    if notebook is not None:
        raise LookupError(
            f"{package.group} version {package.version} on SageMaker has no data-quality "
            f"baseline: the pipeline migrated from {notebook} registered it and has no "
            "training-data baseline step; add a QualityCheck feeding RegisterModel's "
            "drift_check_baselines (as pipeline.py does), or monitor locally with --baseline DIR"
        )
    raise LookupError(
        f"{package.group} version {package.version} on SageMaker has no data-quality baseline "
        "(DriftCheckBaselines.ModelDataQuality); run the pipeline with --target sagemaker, "
        "which baselines the training data, or pass --version N of a version that has one"
    )


def _package(ctx: Remote, stage: str, version: int | None) -> ModelPackage:
    if version is not None:
        return ctx.registry.describe(ctx.group, version)
    served = served_version(ctx, stage)
    if served is None:
        raise LookupError(
            f"no {stage} endpoint on SageMaker serves a version of {ctx.group}; deploy one "
            f"with `deploy --stage {stage} --target sagemaker` or pass --version N"
        )
    return ctx.registry.describe(ctx.group, served)


def prepare(stage: str, version: int | None, ctx: Remote | None = None) -> tuple[Any, Remote]:
    """Upload the job's code and describe the job: (a ``MonitoringJob``, the remote)."""
    ctx = ctx or remote(stage)
    config = ctx.settings
    package = _package(ctx, stage, version)
    statistics, constraints = _baselines(package)
    name = endpoint_name(stage)
    base = f"s3://{config.bucket}/{config.prefix}"
    code_uri, objects = aws_monitoring.code_objects(config.bucket, config.prefix)
    report = upload.upload_code(ctx.target.session().s3, objects, echo=say)
    say(f"monitoring job code: {report.summary('code objects')}")
    job = aws_monitoring.MonitoringJob(
        endpoint_name=name,
        capture_uri=f"{base}/datacapture/{name}/{config.variant.name}/",
        statistics_uri=statistics,
        constraints_uri=constraints,
        output_uri=f"{base}/monitoring/{stage}",
        code_uri=code_uri,
        image_uri=config.image_uri,
        role_arn=config.role_arn,
        instance_type=config.processing_instance_type,
        model=f"{package.group}/{package.version}",
        tags=ctx.target.tags,
        network=network_from_text(config.subnets, config.security_group_ids, config.kms_key_id),
    )
    return job, ctx


def run_once(
    stage: str,
    *,
    version: int | None = None,
    since: str | None = None,
    wait: bool = False,
    download_to: Callable[[str], Path] | None = None,
    ctx: Remote | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Start one monitoring Processing job; with ``wait``, follow it and fetch its results.

    ``download_to(job name)`` says where the results go (with ``wait``).
    """
    job, ctx = prepare(stage, version, ctx)
    name = aws_monitoring.job_name(
        f"{project_settings.PROJECT}-monitor-{stage}", aws_monitoring.run_stamp()
    )
    end = datetime.now(timezone.utc).isoformat(timespec="seconds")
    request = job.request(name, since=since, end_time=end if since else None)
    arn = aws_monitoring.start(ctx.sm, request, echo=say)
    result: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingJobArn": arn,
        "OutputUri": job.output_of(name),
        "Model": job.model,
    }
    if not wait:
        return result
    info = aws_monitoring.wait(ctx.sm, name, echo=say, sleep=sleep)
    result["ProcessingJobStatus"] = info.get("ProcessingJobStatus")
    result["FailureReason"] = info.get("FailureReason")
    s3 = ctx.target.session().s3
    result["Summary"] = aws_monitoring.read_results(s3, job.output_of(name))
    if download_to is not None and result["Summary"] is not None:
        folder = download_to(name)
        upload.download_prefix(s3, job.output_of(name), folder)
        result["Downloaded"] = str(folder)
    return result


def schedule(
    stage: str,
    expression: str,
    *,
    version: int | None = None,
    since: str | None = None,
    ctx: Remote | None = None,
) -> dict[str, Any]:
    """Create or update the stage's schedule; each run checks the ``since`` before it fired."""
    expression = aws_monitoring.check_expression(expression)
    window = since or aws_monitoring.window_of(expression)
    if window is None:
        raise ValueError(
            f"--schedule {expression!r} is a cron expression, so the window each run checks is "
            "not implied; pass --since WINDOW, e.g. --since 1d for a daily cron"
        )
    ctx = ctx or remote(stage)
    role = ctx.settings.scheduler_role_arn
    if not role:
        raise ValueError(
            "MLOPS_SCHEDULER_ROLE_ARN is not set: EventBridge Scheduler needs a role that may "
            "start the job; set it to the project stack's MonitoringSchedulerRoleArn output "
            "(infra/project.yml)"
        )
    job, ctx = prepare(stage, version, ctx)
    name = aws_monitoring.job_name(
        f"{project_settings.PROJECT}-monitor-{stage}", aws_monitoring.EXECUTION_ID
    )
    request = job.request(name, since=window, end_time=aws_monitoring.SCHEDULED_TIME)
    target = aws_monitoring.schedule_target(request, role)
    scheduler = ctx.target.session().client("scheduler")
    arn, created = aws_monitoring.upsert_schedule(
        scheduler,
        schedule_name(stage),
        expression,
        target,
        description=f"monitor {job.endpoint_name} against {job.model} (window {window})",
        echo=say,
    )
    return {
        "ScheduleName": schedule_name(stage),
        "ScheduleArn": arn,
        "Created": created,
        "ScheduleExpression": expression,
        "Window": window,
        "Model": job.model,
        "OutputUri": job.output_uri,
    }


def unschedule(stage: str, ctx: Remote | None = None) -> bool:
    """Delete the stage's schedule; False when it had none."""
    ctx = ctx or remote(stage)
    return aws_monitoring.delete_schedule(
        ctx.target.session().client("scheduler"), schedule_name(stage), echo=say
    )


def list_schedules(ctx: Remote | None = None) -> list[dict[str, str]]:
    """Every monitoring schedule of the project."""
    ctx = ctx or remote()
    scheduler = ctx.target.session().client("scheduler")
    prefix = f"{project_settings.PROJECT}-monitor-"
    return [s.to_dict() for s in aws_monitoring.list_schedules(scheduler, prefix)]
