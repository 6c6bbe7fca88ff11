"""Deploy, undeploy, promote and roll back: the project's policy over ``sagepipe.serving``.

Policy: staging serves the latest Approved version; prod serves only a version that is
Approved and passed the staging smoke test (``promote``), or an earlier Approved version
(``rollback``). Every action is recorded in ``<workspace>/deployments.db``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sagepipe.registry import ModelPackage, ModelRegistry
from sagepipe.serving import (
    CaptureSpec,
    DeploymentHistory,
    EndpointSpec,
    EndpointState,
    deploy_endpoint,
    prepare_variant,
    read_endpoint,
    require_approved,
    resolve_model,
    stop_endpoint,
)

from .. import settings

if TYPE_CHECKING:
    from . import smoke


PROD = "prod"  # the stage promote deploys to, and whose explicit deploys pass its gates


class PromotionRefused(Exception):
    """A gate said no; the message says which gate and what to do."""


@dataclass
class Context:
    """Where things live: workspace, registry, history, model package group."""

    workspace: Path
    group: str

    @property
    def registry(self) -> ModelRegistry:
        """The workspace's model registry."""
        return ModelRegistry.for_workspace(self.workspace)

    @property
    def history(self) -> DeploymentHistory:
        """The workspace's deployment history."""
        return DeploymentHistory(self.workspace / "deployments.db")


def context(workspace: Path | None = None) -> Context:
    """The default context: ``--workspace``, else SAGEPIPE_WORKSPACE, else ``<project>/.mlops``."""
    from ..workspace import default_workspace

    root = workspace or default_workspace()
    return Context(workspace=Path(root).resolve(), group=settings.load().model_package_group)


def endpoint_name(stage: str) -> str:
    """The local endpoint of a stage: ``<project>-<stage>``."""
    return f"{settings.PROJECT}-{stage}"


def capture_destination(ctx: Context, stage: str) -> Path:
    """Local stand-in for ``s3://<bucket>/<prefix>/datacapture`` (SageMaker's layout below it)."""
    config = settings.load(stage)
    return ctx.workspace / "s3" / config.bucket / config.prefix / "datacapture"


def version_for_stage(
    ctx: Context, config: settings.Settings, requested: int | str | None
) -> ModelPackage:
    """Which version a deploy serves: the explicit one, else the stage's ``model_version`` rule."""
    if requested is not None:
        return resolve_model(ctx.registry, ctx.group, requested)
    rule = config.model_version
    if rule == "promoted":
        current = promoted_version(ctx, config.stage)
        if current is None:
            raise PromotionRefused(
                f"nothing has been promoted to {config.stage} yet; run `promote` after a passing "
                "`smoke-test --stage staging`"
            )
        return resolve_model(ctx.registry, ctx.group, current)
    # The schema admits only 'latest-approved', 'latest', 'promoted' or a version number.
    return resolve_model(ctx.registry, ctx.group, int(rule) if rule.isdigit() else rule)


def promoted_version(ctx: Context, stage: str) -> int | None:
    """The version of the last promote or rollback to ``stage``."""
    for row in reversed(ctx.history.deployments(stage)):
        if row.action in ("promote", "rollback") and row.model_package_group == ctx.group:
            return row.version
    return None


def deploy(
    ctx: Context,
    stage: str,
    *,
    version: int | str | None = None,
    shadow_version: int | str | None = None,
    shadow_percentage: float | None = None,
    port: int | None = None,
    workers: int | None = None,
    action: str = "deploy",
    package: ModelPackage | None = None,
    force: bool = False,
) -> EndpointState:
    """Serve a version on a stage's endpoint (start it, or switch it without dropping requests).

    An explicit ``version`` on prod passes the same gates as ``promote`` unless ``force``;
    a forced deploy that skipped them says so in the deployment history.
    """
    config = settings.load(stage)
    package = package or version_for_stage(ctx, config, version)
    require_approved(package)
    note = ""
    if stage == PROD and action == "deploy" and version is not None:
        try:
            check_promotion(ctx, package.version)
        except PromotionRefused as err:
            if not force:
                raise PromotionRefused(
                    f"{err} (`deploy --stage prod --version` applies promote's gates; use "
                    "`promote`, or add --force to skip them, which the history records)"
                ) from None
            note = f"forced: promotion gates skipped ({err})"
    variants = [prepare_variant(package, ctx.workspace, name=config.variant.name)]
    shadow_package = None
    if shadow_version is not None:
        shadow_package = resolve_model(ctx.registry, ctx.group, shadow_version)
        variants.append(
            prepare_variant(
                shadow_package,
                ctx.workspace,
                name=config.shadow.variant_name,
                role="shadow",
                sampling_percentage=config.shadow.sampling_percentage
                if shadow_percentage is None
                else shadow_percentage,
            )
        )
    spec = EndpointSpec(
        endpoint_name=endpoint_name(stage),
        variants=variants,
        capture=CaptureSpec(
            enabled=config.capture.enabled,
            sampling_percentage=config.capture.sampling_percentage,
            destination=str(capture_destination(ctx, stage)),
        ),
        max_payload_mb=config.server.max_payload_mb,
        timeout_seconds=config.server.timeout_seconds,
    )
    state = deploy_endpoint(
        spec,
        workspace=ctx.workspace,
        stage=stage,
        host=config.server.host,
        port=config.server.port if port is None else port,
        workers=_workers(config.server.workers if workers is None else workers),
    )
    ctx.history.record(
        action=action,
        stage=stage,
        endpoint=spec.endpoint_name,
        group=ctx.group,
        version=package.version,
        shadow_version=shadow_package.version if shadow_package else None,
        url=state.url,
        note=note,
    )
    return state


def _workers(configured: int) -> int:
    if configured > 0:
        return configured
    from sagepipe.serving import ServerOptions

    return ServerOptions(workers=0).resolved_workers()


def undeploy(ctx: Context, stage: str) -> EndpointState | None:
    """Stop a stage's endpoint; None when it was not running."""
    state = stop_endpoint(ctx.workspace, endpoint_name(stage))
    if state is not None:
        version = int(state.model_package.rsplit("/", 1)[-1]) if state.model_package else None
        ctx.history.record(
            action="undeploy",
            stage=stage,
            endpoint=state.name,
            group=ctx.group,
            version=version,
            url=state.url,
        )
    return state


def served_version(ctx: Context, stage: str) -> int:
    """The version the running endpoint of ``stage`` serves; refuses when none runs."""
    state = read_endpoint(ctx.workspace, endpoint_name(stage))
    if state is None:
        raise PromotionRefused(
            f"no {stage} endpoint is running; run `deploy --stage {stage}` first"
        )
    return int(state.model_package.rsplit("/", 1)[-1])


def check_promotion(ctx: Context, version: int | str | None) -> ModelPackage:
    """Apply the gates for prod: Approved, and the last staging smoke test of it passed."""
    number = version if version is not None else served_version(ctx, "staging")
    package = resolve_model(ctx.registry, ctx.group, number)
    try:
        require_approved(package)
    except ValueError as err:
        raise PromotionRefused(f"cannot promote: {err}") from None
    smoke = ctx.history.last_smoke_test("staging", ctx.group, package.version)
    if smoke is None:
        raise PromotionRefused(
            f"cannot promote {ctx.group} version {package.version}: it has no staging smoke test; "
            f"deploy it to staging and run `smoke-test --stage staging`"
        )
    if not smoke["passed"]:
        reasons = "; ".join(smoke.get("failures", [])) or "see `deployments`"
        raise PromotionRefused(
            f"cannot promote {ctx.group} version {package.version}: its last staging smoke test "
            f"({smoke['at']}) failed: {reasons}"
        )
    return package


def promote(
    ctx: Context, version: int | str | None = None, **deploy_options: object
) -> EndpointState:
    """Send a version that passed the gates to prod."""
    package = check_promotion(ctx, version)
    return deploy(ctx, "prod", package=package, action="promote", **deploy_options)  # type: ignore[arg-type]


def rollback_target(ctx: Context, stage: str, to_version: int | None) -> ModelPackage:
    """The version a rollback serves: the one asked for, else the previous Approved one served."""
    if to_version is not None:
        package = resolve_model(ctx.registry, ctx.group, to_version)
    else:
        served = [
            r.version
            for r in ctx.history.deployments(stage)
            if r.action in ("deploy", "promote", "rollback") and r.version is not None
        ]
        current = served[-1] if served else None
        earlier = [v for v in reversed(served) if v != current]
        candidates = [resolve_model(ctx.registry, ctx.group, v) for v in dict.fromkeys(earlier)]
        approved = [p for p in candidates if p.approval_status == "Approved"]
        if not approved:
            raise PromotionRefused(
                f"{stage} has no earlier Approved version to roll back to; pass --to-version N"
            )
        package = approved[0]
    try:
        require_approved(package)
    except ValueError as err:
        raise PromotionRefused(f"cannot roll back: {err}") from None
    return package


def rollback(
    ctx: Context, stage: str, to_version: int | None = None, **deploy_options: object
) -> EndpointState:
    """Serve an earlier Approved version on ``stage`` in one step."""
    package = rollback_target(ctx, stage, to_version)
    return deploy(ctx, stage, package=package, action="rollback", **deploy_options)  # type: ignore[arg-type]


def smoke_test(ctx: Context, stage: str, root: Path | None = None) -> smoke.SmokeResult:
    """Smoke test the running endpoint of ``stage`` and record the outcome for the gates."""
    from . import smoke  # pandas and scikit-learn: only this command needs them

    config = settings.load(stage)
    state = read_endpoint(ctx.workspace, endpoint_name(stage))
    if state is None:
        raise PromotionRefused(
            f"no {stage} endpoint is running; run `deploy --stage {stage}` first"
        )
    package = resolve_model(ctx.registry, ctx.group, served_version(ctx, stage))
    rows = smoke.held_out_rows(package, root)
    registered = smoke.registered_metrics(package, ctx.workspace / "s3")
    result = smoke.run(state.url, package, rows, registered, config.smoke_test.options())
    ctx.history.record_smoke_test(
        stage=stage,
        group=ctx.group,
        version=package.version,
        passed=result.passed,
        details=result.to_dict(),
    )
    return result
