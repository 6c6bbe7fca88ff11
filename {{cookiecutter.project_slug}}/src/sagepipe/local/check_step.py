"""What the local QualityCheck and ClarifyCheck steps share: settings and sandbox paths.

Both run a processing job in-process whose folders SageMaker puts under
``/opt/ml/processing``; locally those live in the step's sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROCESSING = "/opt/ml/processing"


def flag(value: Any, default: bool) -> bool:
    """A step's boolean setting, which may arrive as a string from a parameter."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def sandboxed(path: str, sandbox: Path) -> Path:
    """``/opt/ml/processing/...`` inside the sandbox; anything else is refused."""
    if not path.startswith(PROCESSING + "/") and path != PROCESSING:
        raise ValueError(f"LocalPath {path!r} must be under {PROCESSING}")
    relative = Path(path[len(PROCESSING) :].lstrip("/"))
    if ".." in relative.parts:
        raise ValueError(f"LocalPath {path!r} must not contain '..'")
    return sandbox / "processing" / relative
