"""deploy, undeploy, endpoints, rollback, smoke-test, promote, batch-transform on SageMaker.

The same policy as the local commands (``operations``): staging serves the latest
Approved version; prod only a version that is Approved and passed the staging smoke
test; rollback serves an earlier Approved version. On AWS the smoke-test outcome is
kept in the version's metadata (``sagepipe:smoke-test:<stage>``), so the gate holds
whichever machine runs ``promote``. boto3 is imported only when one of these runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sagepipe.registry import ModelPackage
from sagepipe.sagemaker import batch as aws_batch
from sagepipe.sagemaker import endpoints as aws_endpoints
from sagepipe.sagemaker.errors import calling
from sagepipe.sagemaker.registry import SageMakerRegistry

from .. import aws
from .. import settings as project_settings
from .operations import PromotionRefused, endpoint_name

SMOKE_TAG = "sagepipe:smoke-test:"


def say(message: str) -> None:
    """Progress to stderr, so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class Remote:
    """One stage's settings and the SageMaker clients they point at."""

    stage: str
    settings: project_settings.Settings
    target: Any
    sm: Any
    registry: SageMakerRegistry

    @property
    def group(self) -> str:
        """The model package group."""
        return self.settings.model_package_group


def remote(stage: str | None = None) -> Remote:
    """Settings of ``stage`` (default: the current one) and lazily made AWS clients."""
    settings = project_settings.load(stage)
    target = aws.target(settings)
    from sagepipe.sagemaker.runner import check_target

    check_target(target)
    session = target.session()
    return Remote(
        settings.stage,
        settings,
        target,
        session.sagemaker,
        SageMakerRegistry(session.sagemaker, say),
    )


def deployment(config: project_settings.Settings) -> aws_endpoints.Deployment:
    """The stage's ``[deployment]`` table: blue/green strategy and rollback alarms."""
    # The schema has checked the strategy and every number when the stage was loaded.
    return aws_endpoints.Deployment(**asdict(config.deployment))


def _require_approved(package: ModelPackage, what: str) -> None:
    if package.approval_status != "Approved":
        raise PromotionRefused(
            f"cannot {what} {package.group} version {package.version}: it is "
            f"{package.approval_status}; approve it with `registry approve {package.version} "
            "--target sagemaker`"
        )


def served_version(ctx: Remote, stage: str) -> int | None:
    """The version the stage's SageMaker endpoint serves, or None when there is none."""
    info = aws_endpoints.describe_endpoint(ctx.sm, endpoint_name(stage))
    if info is None:
        return None
    config = project_settings.load(stage)
    arn = aws_endpoints.served_packages(ctx.sm, info).get(config.variant.name, "")
    tail = arn.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _package_for(
    ctx: Remote, config: project_settings.Settings, version: int | str | None
) -> ModelPackage:
    if version is not None:
        return ctx.registry.describe(ctx.group, version)
    rule = config.model_version
    if rule == "promoted":
        current = served_version(ctx, config.stage)
        if current is None:
            raise PromotionRefused(
                f"nothing has been promoted to {config.stage} on SageMaker yet; run `promote "
                "--target sagemaker` after a passing staging `smoke-test --target sagemaker`"
            )
        return ctx.registry.describe(ctx.group, current)
    # The schema admits only 'latest-approved', 'latest', 'promoted' or a version number.
    return ctx.registry.describe(ctx.group, int(rule) if rule.isdigit() else rule)


def deploy(
    stage: str,
    *,
    version: int | str | None = None,
    shadow_version: int | str | None = None,
    shadow_percentage: float | None = None,
    package: ModelPackage | None = None,
    wait: bool = True,
    ctx: Remote | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Create or update the stage's endpoint from its approved package; wait InService."""
    ctx = ctx or remote(stage)
    config = project_settings.load(stage)
    package = package or _package_for(ctx, config, version)
    _require_approved(package, "deploy")
    variant = aws_endpoints.Variant(
        config.variant.name,
        package.arn,
        package.version,
        config.variant.instance_type,
        config.variant.initial_instance_count,
    )
    shadow = None
    if shadow_version is not None:
        shadow_package = ctx.registry.describe(ctx.group, shadow_version)
        shadow = aws_endpoints.Variant(
            config.shadow.variant_name,
            shadow_package.arn,
            shadow_package.version,
            config.variant.instance_type,
            config.variant.initial_instance_count,
            # SageMaker copies this share of requests to the shadow variant.
            weight=(
                config.shadow.sampling_percentage
                if shadow_percentage is None
                else shadow_percentage
            )
            / 100,
        )
    settings = ctx.settings
    plan = aws_endpoints.EndpointPlan(
        endpoint_name=endpoint_name(stage),
        role_arn=settings.role_arn,
        variants=(variant,),
        shadow=shadow,
        capture_percentage=(config.capture.sampling_percentage if config.capture.enabled else None),
        capture_destination=f"s3://{settings.bucket}/{settings.prefix}/datacapture",
        deployment=deployment(config),
        tags=ctx.target.tags,
    )
    info = aws_endpoints.deploy(ctx.sm, plan, echo=say, wait=wait, sleep=sleep)
    return {
        "EndpointName": plan.endpoint_name,
        "EndpointStatus": info.get("EndpointStatus"),
        "EndpointConfigName": plan.config_name(),
        "ModelPackageArn": package.arn,
        "ModelPackageVersion": package.version,
        "ShadowModelPackageArn": shadow.package_arn if shadow else None,
    }


def undeploy(stage: str, ctx: Remote | None = None) -> dict[str, Any] | None:
    """Delete the stage's endpoint and its config; None when there was none."""
    ctx = ctx or remote(stage)
    return aws_endpoints.delete(ctx.sm, endpoint_name(stage), echo=say)


def list_endpoints(ctx: Remote | None = None) -> list[dict[str, Any]]:
    """The project's endpoints on SageMaker: stage, status, served packages."""
    ctx = ctx or remote()
    rows = []
    for info in aws_endpoints.list_endpoints(ctx.sm, f"{project_settings.PROJECT}-"):
        name = str(info["EndpointName"])
        stage = name.removeprefix(f"{project_settings.PROJECT}-")
        rows.append(
            {
                "Stage": stage,
                "EndpointName": name,
                "EndpointStatus": info.get("EndpointStatus"),
                "EndpointConfigName": info.get("EndpointConfigName"),
                "ServedPackages": info.get("ServedPackages", {}),
            }
        )
    return rows


def rollback(
    stage: str, to_version: int | None = None, ctx: Remote | None = None
) -> dict[str, Any]:
    """Serve ``to_version``, else the highest Approved version below the one served now."""
    ctx = ctx or remote(stage)
    if to_version is not None:
        package = ctx.registry.describe(ctx.group, to_version)
    else:
        current = served_version(ctx, stage)
        if current is None:
            raise PromotionRefused(f"no {stage} endpoint on SageMaker to roll back")
        earlier = [
            p
            for p in ctx.registry.list_model_packages(ctx.group, status="Approved")
            if p.version < current
        ]
        if not earlier:
            raise PromotionRefused(
                f"{stage} serves version {current} and no earlier version is Approved; "
                "pass --to-version N"
            )
        package = earlier[-1]
    _require_approved(package, "roll back to")
    return deploy(stage, package=package, ctx=ctx)


def smoke_test(stage: str, root: Path | None = None, ctx: Remote | None = None) -> Any:
    """The local smoke test's checks, sent through ``sagemaker-runtime`` InvokeEndpoint."""
    from . import smoke

    ctx = ctx or remote(stage)
    config = project_settings.load(stage)
    current = served_version(ctx, stage)
    if current is None:
        raise PromotionRefused(
            f"no {stage} endpoint on SageMaker; run `deploy --stage {stage} --target sagemaker`"
        )
    package = ctx.registry.describe(ctx.group, current)
    rows = smoke.held_out_rows(package, root)
    registered = smoke.registered_metrics(package, Path("/nonexistent"))
    name = endpoint_name(stage)
    say(f"invoking endpoint {name} with {len(rows)} held-out rows ...")
    post = aws_endpoints.invoker(ctx.target.session().runtime, name)
    result = smoke.run(
        f"sagemaker://{name}", package, rows, registered, config.smoke_test.options(), post=post
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    outcome = f"{'passed' if result.passed else 'failed'} {stamp}"
    # Kept on the version itself (SageMaker has no tags on versioned packages), so the
    # promote gate holds whichever machine runs it. The whole map is sent: it replaces.
    metadata = {**package.customer_metadata, SMOKE_TAG + stage: outcome}
    with calling(f"recording the smoke test on {package.arn}", say):
        ctx.sm.update_model_package(
            ModelPackageArn=package.arn,
            CustomerMetadataProperties=metadata,
            ModelApprovalStatus=package.approval_status,  # unchanged, stated explicitly
        )
    return result


def check_promotion(ctx: Remote, version: int | str | None) -> ModelPackage:
    """Prod's gates on SageMaker: Approved, and its last staging smoke test passed."""
    number = version if version is not None else served_version(ctx, "staging")
    if number is None:
        raise PromotionRefused(
            "no staging endpoint on SageMaker; deploy it with `deploy --stage staging --target "
            "sagemaker` or pass --version N"
        )
    package = ctx.registry.describe(ctx.group, number)
    _require_approved(package, "promote")
    smoke = package.customer_metadata.get(SMOKE_TAG + "staging")
    if smoke is None:
        raise PromotionRefused(
            f"cannot promote {ctx.group} version {package.version}: it has no staging smoke test "
            "on SageMaker; run `smoke-test --stage staging --target sagemaker`"
        )
    if not smoke.startswith("passed"):
        raise PromotionRefused(
            f"cannot promote {ctx.group} version {package.version}: its last staging smoke test "
            f"{smoke}; fix it and smoke test again"
        )
    return package


def promote(version: int | str | None = None, ctx: Remote | None = None) -> dict[str, Any]:
    """Deploy a version that passed the gates to prod."""
    ctx = ctx or remote("prod")
    package = check_promotion(ctx, version)
    return deploy("prod", package=package, ctx=ctx)


def batch_transform(
    source: Path,
    output: Path,
    version: int | str,
    options: dict[str, Any],
    ctx: Remote | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Upload ``source``, run a transform job on the version, download the results."""
    from sagepipe.registry import parse_version
    from sagepipe.sagemaker import upload

    ctx = ctx or remote()
    wanted = version if version == "latest-approved" else parse_version(version)
    package = ctx.registry.describe(ctx.group, wanted)
    settings = ctx.settings
    s3 = ctx.target.session().s3
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    base = f"s3://{settings.bucket}/{settings.prefix}/batch"
    staged = upload.upload_files(s3, files, f"{base}/input", echo=say)
    model = aws_endpoints.ensure_model(
        ctx.sm,
        f"{project_settings.PROJECT}-batch-v{package.version}"[:63],
        package.arn,
        settings.role_arn,
        ctx.target.tags,
        say,
    )
    plan = aws_batch.TransformPlan(
        model_name=model,
        input_uri=staged,
        output_uri=f"{base}/output/{staged.rsplit('/', 1)[-1]}",
        instance_type=settings.inference_instance_type,
        tags=ctx.target.tags,
        **options,
    )
    job = aws_batch.start(ctx.sm, plan, echo=say)
    info = aws_batch.wait(ctx.sm, job, echo=say, sleep=sleep)
    written = upload.download_prefix(s3, plan.output_uri, output, echo=say)
    return {
        "TransformJobName": job,
        "Status": info.get("TransformJobStatus"),
        "Files": written,
        "ModelPackageVersion": package.version,
    }


def summary(result: dict[str, Any]) -> str:
    """One line for a finished deploy."""
    shadow = result.get("ShadowModelPackageArn")
    return (
        f"{result['EndpointName']} {result['EndpointStatus']} serving "
        f"{result['ModelPackageArn']}" + (f", shadow {shadow}" if shadow else "")
    )


def print_endpoints(rows: list[dict[str, Any]], as_json: bool) -> None:
    """The ``endpoints --target sagemaker`` table (or JSON)."""
    import json

    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print(
            "no endpoints on SageMaker; create one with `deploy --stage staging --target sagemaker`"
        )
        return
    print(f"{'STAGE':<9}{'STATUS':<12}{'ENDPOINT':<32}SERVES")
    for row in rows:
        serves = ", ".join(
            f"{variant}={arn.split(':model-package/', 1)[-1]}"
            for variant, arn in row["ServedPackages"].items()
        )
        print(f"{row['Stage']:<9}{row['EndpointStatus']!s:<12}{row['EndpointName']:<32}{serves}")
