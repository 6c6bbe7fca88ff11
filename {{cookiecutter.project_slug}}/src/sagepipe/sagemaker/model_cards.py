"""Model cards on SageMaker: one card per model package version, linked to it.

The card's content is the card ``model-card`` writes locally (validated against the
content schema shipped in :mod:`sagepipe.governance`, which is SageMaker's schema
*without* ``model_package_details``) plus ``model_package_details``, the section of
SageMaker's full model card schema that links a card to a model package version
(``model_package_arn`` and the version's group, number, approval status and inference
containers, as the SageMaker SDK's ``ModelPackage.from_model_package_arn`` fills it).

A card that exists is updated (``UpdateModelCard`` makes a new card version) only when its
content or status changed; an Archived card cannot change and is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import calling, error_code

STATUSES = ("Draft", "PendingReview", "Approved", "Archived")
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass(frozen=True)
class Published:
    """What ``publish`` did to the card."""

    name: str
    arn: str
    version: int
    action: str  # "created", "updated" or "unchanged"


def card_name(group: str, version: int) -> str:
    """``<group>-v<version>``: the card of one model package version."""
    suffix = f"-v{version}"
    name = group[: 63 - len(suffix)].rstrip("-") + suffix
    if not _NAME.match(name):
        raise ValueError(
            f"model card name {name!r} is not a SageMaker name: 1-63 letters, digits and '-'"
        )
    return name


def package_details(package: Any) -> dict[str, Any]:
    """``model_package_details`` of a registered ``package`` (a ``ModelPackage``)."""
    containers = [
        {
            key: str(container[field])
            for key, field in (("image", "Image"), ("model_data_url", "ModelDataUrl"))
            if container.get(field)
        }
        for container in (package.inference_specification.get("Containers") or [])
        if container.get("Image")
    ]
    details: dict[str, Any] = {
        "model_package_arn": package.arn,
        "model_package_group_name": package.group,
        "model_package_version": package.version,
        "model_approval_status": package.approval_status,
    }
    if package.description:
        details["model_package_description"] = package.description[:1024]
    if package.approval_description:
        details["approval_description"] = package.approval_description[:1024]
    if containers:
        details["inference_specification"] = {"containers": containers[:15]}
    return details


def content_for(card: Mapping[str, Any], package: Any) -> dict[str, Any]:
    """The SageMaker card's content: the local card linked to ``package``."""
    return {**card, "model_package_details": package_details(package)}


def publish(
    sm: Any,
    name: str,
    content: Mapping[str, Any],
    *,
    status: str = "Draft",
    tags: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Published:
    """Create the card, or give it a new version when its content or status changed."""
    if status not in STATUSES:
        raise ValueError(f"model card status {status!r}: use one of {', '.join(STATUSES)}")
    text = json.dumps(content, sort_keys=True)
    with calling(f"looking up model card {name}"):
        try:
            existing: dict[str, Any] | None = sm.describe_model_card(ModelCardName=name)
        except Exception as error:
            if error_code(error) not in ("ResourceNotFound", "ResourceNotFoundException"):
                raise
            existing = None
    if existing is None:
        with calling(f"creating model card {name}", echo):
            arn = sm.create_model_card(
                ModelCardName=name,
                Content=text,
                ModelCardStatus=status,
                Tags=[{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
            )["ModelCardArn"]
        return Published(name, str(arn), 1, "created")
    arn = str(existing["ModelCardArn"])
    version = int(existing.get("ModelCardVersion") or 1)
    if _same(existing.get("Content"), content) and existing.get("ModelCardStatus") == status:
        return Published(name, arn, version, "unchanged")
    if existing.get("ModelCardStatus") == "Archived":
        raise ValueError(
            f"model card {name} is Archived, and SageMaker does not change an archived card; "
            "delete it in the console (or with delete-model-card) to publish it again"
        )
    with calling(f"updating model card {name} (new version)", echo):
        sm.update_model_card(ModelCardName=name, Content=text, ModelCardStatus=status)
    with calling(f"describing model card {name}"):
        latest = sm.describe_model_card(ModelCardName=name)
    return Published(name, arn, int(latest.get("ModelCardVersion") or version + 1), "updated")


def _same(text: Any, content: Mapping[str, Any]) -> bool:
    try:
        return bool(json.loads(str(text)) == json.loads(json.dumps(content)))
    except ValueError:
        return False
