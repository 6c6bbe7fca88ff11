"""Model registry with SageMaker semantics, stored in SQLite in the workspace."""

from .model import (
    APPROVAL_STATUSES,
    APPROVED,
    PENDING,
    REJECTED,
    VALID_TRANSITIONS,
    ApprovalEvent,
    Lineage,
    ModelPackage,
    ModelPackageNotFound,
    RegistryError,
)
from .store import ModelRegistry, parse_version

__all__ = [
    "APPROVAL_STATUSES",
    "APPROVED",
    "PENDING",
    "REJECTED",
    "VALID_TRANSITIONS",
    "ApprovalEvent",
    "Lineage",
    "ModelPackage",
    "ModelPackageNotFound",
    "ModelRegistry",
    "RegistryError",
    "parse_version",
]
