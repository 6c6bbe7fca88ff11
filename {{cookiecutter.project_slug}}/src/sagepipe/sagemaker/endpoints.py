"""Real-time endpoints on SageMaker: model, endpoint config, endpoint, invoke.

Names are content-addressed where SageMaker makes them immutable: a model is
``<endpoint>-v<version>-<hash>`` and an endpoint config ``<endpoint>-<hash of its
body>``, so deploying the same thing twice creates nothing new, and every config that
ever served stays available for a rollback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import AwsError, calling, error_code
from .pipelines import tags_list
from .poll import wait_for_status

STRATEGIES = ("all-at-once", "canary", "linear")


@dataclass(frozen=True)
class Variant:
    """One production (or shadow) variant: which model package, on what."""

    name: str
    package_arn: str
    version: int
    instance_type: str
    instance_count: int
    weight: float = 1.0


@dataclass(frozen=True)
class Deployment:
    """How SageMaker moves traffic to a new config (blue/green) and when it rolls back."""

    strategy: str = "all-at-once"
    canary_percentage: float = 10.0
    linear_step_percentage: float = 25.0
    wait_seconds: int = 300
    termination_wait_seconds: int = 0
    alarms: tuple[str, ...] = ()

    def to_request(self, instance_count: int) -> dict[str, Any]:
        """The ``DeploymentConfig`` of UpdateEndpoint."""
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"deployment strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}"
            )
        policy: dict[str, Any] = {
            "Type": {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}[
                self.strategy
            ],
            "WaitIntervalInSeconds": self.wait_seconds,
        }
        if self.strategy == "canary":
            policy["CanarySize"] = {
                "Type": "CAPACITY_PERCENT",
                "Value": int(self.canary_percentage),
            }
        if self.strategy == "linear":
            policy["LinearStepSize"] = {
                "Type": "CAPACITY_PERCENT",
                "Value": int(self.linear_step_percentage),
            }
        config: dict[str, Any] = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": policy,
                "TerminationWaitInSeconds": self.termination_wait_seconds,
            }
        }
        if self.alarms:
            config["AutoRollbackConfiguration"] = {
                "Alarms": [{"AlarmName": name} for name in self.alarms]
            }
        return config


@dataclass(frozen=True)
class EndpointPlan:
    """Everything one deploy sends: variants, shadow, data capture, deployment policy."""

    endpoint_name: str
    role_arn: str
    variants: tuple[Variant, ...]
    shadow: Variant | None = None
    capture_percentage: float | None = None  # None: no data capture
    capture_destination: str = ""
    deployment: Deployment = field(default_factory=Deployment)
    tags: dict[str, str] = field(default_factory=dict)

    def model_name(self, variant: Variant) -> str:
        """A model name unique to this package (SageMaker: at most 63 characters)."""
        digest = hashlib.sha256(f"{variant.package_arn}|{self.role_arn}".encode()).hexdigest()[:8]
        suffix = f"-v{variant.version}-{digest}"
        return self.endpoint_name[: 63 - len(suffix)] + suffix

    def config_body(self) -> dict[str, Any]:
        """The CreateEndpointConfig request without its name."""

        def variant_body(v: Variant) -> dict[str, Any]:
            return {
                "VariantName": v.name,
                "ModelName": self.model_name(v),
                "InstanceType": v.instance_type,
                "InitialInstanceCount": v.instance_count,
                "InitialVariantWeight": v.weight,
            }

        body: dict[str, Any] = {"ProductionVariants": [variant_body(v) for v in self.variants]}
        if self.shadow is not None:
            body["ShadowProductionVariants"] = [variant_body(self.shadow)]
        if self.capture_percentage is not None:
            body["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": int(self.capture_percentage),
                "DestinationS3Uri": self.capture_destination,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {
                    "CsvContentTypes": ["text/csv"],
                    "JsonContentTypes": ["application/json"],
                },
            }
        return body

    def config_name(self) -> str:
        """Content-addressed endpoint config name."""
        text = json.dumps(self.config_body(), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return f"{self.endpoint_name[:52]}-{digest}"


def _exists(call: Callable[[], Any]) -> bool:
    try:
        call()
    except Exception as error:
        if error_code(error) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def ensure_model(
    sm: Any,
    name: str,
    package_arn: str,
    role_arn: str,
    tags: dict[str, str],
    echo: Callable[[str], None],
) -> str:
    """Create a SageMaker model from a model package unless it exists; return its name."""
    with calling(f"looking up model {name}"):
        if _exists(lambda: sm.describe_model(ModelName=name)):
            return name
    with calling(f"creating model {name} from {package_arn}", echo):
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=role_arn,
            Containers=[{"ModelPackageName": package_arn}],
            Tags=tags_list(tags),
        )
    return name


def describe_endpoint(sm: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when there is no such endpoint."""
    with calling(f"looking up endpoint {name}"):
        try:
            info: dict[str, Any] = sm.describe_endpoint(EndpointName=name)
        except Exception as error:
            if error_code(error) in ("ValidationException", "ResourceNotFound"):
                return None
            raise
    return info


def deploy(
    sm: Any,
    plan: EndpointPlan,
    *,
    echo: Callable[[str], None],
    wait: bool = True,
    timeout: float = 3600,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Create or update the endpoint of ``plan``; wait until InService when ``wait``."""
    for variant in (*plan.variants, *([plan.shadow] if plan.shadow else [])):
        ensure_model(
            sm, plan.model_name(variant), variant.package_arn, plan.role_arn, plan.tags, echo
        )
    config_name = plan.config_name()
    if not _exists(lambda: sm.describe_endpoint_config(EndpointConfigName=config_name)):
        shown = ", ".join(f"{v.name} {v.instance_type} x{v.instance_count}" for v in plan.variants)
        if plan.shadow is not None:
            shown += f", shadow {plan.shadow.name}"
        if plan.capture_percentage is not None:
            shown += f", capture {plan.capture_percentage:g}% to {plan.capture_destination}"
        with calling(f"creating endpoint config {config_name} ({shown})", echo):
            sm.create_endpoint_config(
                EndpointConfigName=config_name, Tags=tags_list(plan.tags), **plan.config_body()
            )
    current = describe_endpoint(sm, plan.endpoint_name)
    first = plan.variants[0]
    size = f"{first.instance_type} x{first.instance_count}"
    if current is None:
        with calling(f"creating endpoint {plan.endpoint_name} ({size})", echo):
            sm.create_endpoint(
                EndpointName=plan.endpoint_name,
                EndpointConfigName=config_name,
                Tags=tags_list(plan.tags),
            )
    elif current.get("EndpointConfigName") == config_name:
        echo(f"endpoint {plan.endpoint_name} already serves {config_name}; nothing to change")
    else:
        if current.get("EndpointStatus") not in ("InService", "Failed"):
            raise AwsError(
                f"endpoint {plan.endpoint_name} is {current.get('EndpointStatus')}: wait until "
                "it is InService (or Failed) before deploying again"
            )
        with calling(
            f"updating endpoint {plan.endpoint_name} to {config_name} ({size}, "
            f"{plan.deployment.strategy})",
            echo,
        ):
            sm.update_endpoint(
                EndpointName=plan.endpoint_name,
                EndpointConfigName=config_name,
                RetainAllVariantProperties=False,
                DeploymentConfig=plan.deployment.to_request(first.instance_count),
            )
    if not wait:
        return describe_endpoint(sm, plan.endpoint_name) or {}
    return wait_in_service(sm, plan.endpoint_name, echo=echo, timeout=timeout, sleep=sleep)


def wait_in_service(
    sm: Any,
    name: str,
    *,
    echo: Callable[[str], None],
    timeout: float = 3600,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Poll until the endpoint is InService; a Failed endpoint raises with its reason."""
    info = wait_for_status(
        lambda: describe_endpoint(sm, name) or {"EndpointStatus": "Missing"},
        "EndpointStatus",
        ("InService", "Failed", "Missing"),
        what=f"endpoint {name}",
        echo=echo,
        timeout=timeout,
        sleep=sleep,
    )
    if info.get("EndpointStatus") != "InService":
        raise AwsError(
            f"endpoint {name} is {info.get('EndpointStatus')}: "
            f"{info.get('FailureReason') or 'no reason given'}; see CloudWatch "
            f"/aws/sagemaker/Endpoints/{name}"
        )
    return info


def served_packages(sm: Any, info: dict[str, Any]) -> dict[str, str]:
    """``{variant name: model package ARN}`` of an endpoint's current config."""
    with calling(f"reading endpoint config {info.get('EndpointConfigName')}"):
        config = sm.describe_endpoint_config(EndpointConfigName=info["EndpointConfigName"])
    served = {}
    for variant in [
        *config.get("ProductionVariants", []),
        *config.get("ShadowProductionVariants", []),
    ]:
        with calling(f"reading model {variant['ModelName']}"):
            model = sm.describe_model(ModelName=variant["ModelName"])
        containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
        served[variant["VariantName"]] = str(containers[0].get("ModelPackageName") or "")
    return served


def list_endpoints(sm: Any, name_contains: str) -> list[dict[str, Any]]:
    """Endpoints whose name contains ``name_contains``, with their served packages."""
    with calling(f"listing endpoints named *{name_contains}*"):
        summaries = sm.list_endpoints(NameContains=name_contains, MaxResults=100)["Endpoints"]
    rows = []
    for summary in sorted(summaries, key=lambda s: s["EndpointName"]):
        info = describe_endpoint(sm, summary["EndpointName"]) or summary
        rows.append({**info, "ServedPackages": served_packages(sm, info)})
    return rows


def delete(sm: Any, name: str, echo: Callable[[str], None]) -> dict[str, Any] | None:
    """Delete an endpoint and its current config (models stay: they cost nothing)."""
    info = describe_endpoint(sm, name)
    if info is None:
        return None
    with calling(f"deleting endpoint {name}", echo):
        sm.delete_endpoint(EndpointName=name)
    with calling(f"deleting endpoint config {info['EndpointConfigName']}", echo):
        sm.delete_endpoint_config(EndpointConfigName=info["EndpointConfigName"])
    return info


def invoker(runtime: Any, name: str) -> Callable[[str, bytes, str, str], tuple[int, bytes, str]]:
    """A ``post(url, body, content_type, accept)`` that calls ``invoke_endpoint`` instead."""

    def post(_url: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        try:
            response = runtime.invoke_endpoint(
                EndpointName=name, Body=body, ContentType=content_type, Accept=accept
            )
        except Exception as error:
            meta = getattr(error, "response", {}) or {}
            status = int(meta.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            return status or 599, str(error).encode(), ""
        return 200, response["Body"].read(), str(response.get("ContentType") or "")

    return post
