"""Turn a registry version into something servable: verified, unpacked, loadable."""

from __future__ import annotations

from pathlib import Path

from ..registry import APPROVED, ModelPackage, ModelRegistry, RegistryError
from . import artifact
from .errors import ModelLoadError
from .spec import VariantSpec

LATEST_APPROVED = "latest-approved"


def resolve(registry: ModelRegistry, group: str, version: int | str) -> ModelPackage:
    """A version number, ``latest`` or ``latest-approved`` -> the registered package."""
    if version == LATEST_APPROVED:
        package = registry.latest_approved(group)
        if package is None:
            raise RegistryError(
                f"model package group {group!r} has no Approved version; approve one with "
                "the registry's approve command or pass --version"
            )
        return package
    return registry.describe(group, version)


def require_approved(package: ModelPackage) -> None:
    """Refuse a version that is not Approved, naming its status."""
    if package.approval_status != APPROVED:
        raise RegistryError(
            f"{package.group} version {package.version} is {package.approval_status}, "
            "not Approved; "
            "approve it first or pick an Approved version"
        )


def package_id(package: ModelPackage) -> str:
    """``group/version``: how endpoints, headers and history name a model."""
    return f"{package.group}/{package.version}"


def prepare(
    package: ModelPackage,
    workspace: Path,
    *,
    name: str,
    role: str = "production",
    sampling_percentage: float = 100.0,
) -> VariantSpec:
    """Check the artifact against the registered digest, unpack it once, return a variant."""
    path = package.model_data_path
    if path is None:
        raise ModelLoadError(
            f"{package_id(package)} has no local model data ({package.model_data_url}); "
            "run the pipeline locally or download the artifact into the workspace"
        )
    model_dir = artifact.unpack(Path(path), package.model_data_sha256, Path(workspace) / "models")
    return VariantSpec(
        name=name,
        model_dir=str(model_dir),
        model_package=package_id(package),
        model_sha256=package.model_data_sha256 or "",
        role=role,
        sampling_percentage=sampling_percentage,
    )
