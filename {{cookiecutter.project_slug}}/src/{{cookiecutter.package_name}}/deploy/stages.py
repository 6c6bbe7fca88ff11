"""Per-stage deploy configuration, kept as TOML files in ``deploy/stages/``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import stage_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

STAGES_DIR = Path(__file__).resolve().parent / "stages"


@dataclass(frozen=True)
class StageConfig:
    """One stage's endpoint: which version, where it listens, capture, shadow, smoke test."""

    stage: str
    model_version: str
    host: str
    port: int
    workers: int
    timeout_seconds: float
    max_payload_mb: float
    variant_name: str
    instance_type: str
    initial_instance_count: int
    capture_enabled: bool
    capture_percentage: float
    shadow_variant_name: str
    shadow_percentage: float
    smoke: dict[str, Any] = field(default_factory=dict)


def available() -> list[str]:
    """The stages that have a config file."""
    return sorted(path.stem for path in STAGES_DIR.glob("*.toml"))


def raw(stage: str, folder: Path = STAGES_DIR) -> dict[str, Any]:
    """The stage file's tables as parsed (for sections only one backend reads)."""
    load(stage, folder)  # the same checks and one-line errors first
    return dict(tomllib.loads((folder / f"{stage}.toml").read_text()))


def load(stage: str, folder: Path = STAGES_DIR) -> StageConfig:
    """Read ``<stage>.toml``; one-line errors name the file, the key and the fix."""
    path = folder / f"{stage}.toml"
    if not path.is_file():
        raise ValueError(
            f"stage {stage!r} has no config {path}; "
            f"use one of {', '.join(available())} or add the file"
        )
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML ({err}); fix the file") from None
    stage_schema.validate(raw, path)  # strict types, known keys, ranges: before any use
    server = raw.get("server", {})
    variant = raw.get("variant", {})
    capture = raw.get("capture", {})
    shadow = raw.get("shadow", {})
    try:
        config = StageConfig(
            stage=stage,
            model_version=str(raw.get("model_version", "latest-approved")),
            host=str(server.get("host", "127.0.0.1")),
            port=int(server.get("port", 0)),  # 0: a free port, kept by redeploys
            workers=int(server.get("workers", 0)),
            timeout_seconds=float(
                os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT")
                or server.get("timeout_seconds", 60)
            ),
            max_payload_mb=float(server.get("max_payload_mb", 6)),
            variant_name=str(variant.get("name", "AllTraffic")),
            instance_type=str(variant.get("instance_type", "ml.m5.large")),
            initial_instance_count=int(variant.get("initial_instance_count", 1)),
            capture_enabled=bool(capture.get("enabled", False)),
            capture_percentage=float(capture.get("sampling_percentage", 100)),
            shadow_variant_name=str(shadow.get("variant_name", "Shadow")),
            shadow_percentage=float(shadow.get("sampling_percentage", 100)),
            smoke=dict(raw.get("smoke_test", {})),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: a value has the wrong type ({err}); compare with staging.toml"
        ) from None
    for name, value in (
        ("capture.sampling_percentage", config.capture_percentage),
        ("shadow.sampling_percentage", config.shadow_percentage),
    ):
        if not 0 <= value <= 100:
            raise ValueError(f"{path}: {name}={value} must be between 0 and 100")
    if not 0 <= config.port < 65536:
        raise ValueError(
            f"{path}: server.port={config.port} must be between 1 and 65535 (or unset: a free port)"
        )
    return config
