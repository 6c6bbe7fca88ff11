"""What the local QualityCheck and ClarifyCheck steps share: settings, results, sandbox paths.

Both run a processing job in-process whose folders SageMaker puts under
``/opt/ml/processing``; locally those live in the step's sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def check_flags(step: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """A resolved check step's (SkipCheck, RegisterNewBaseline, FailOnViolation), with
    SageMaker's defaults (False, False, True) for the ones it leaves out."""
    return (
        flag(step.get("SkipCheck"), False),
        flag(step.get("RegisterNewBaseline"), False),
        flag(step.get("FailOnViolation"), True),
    )


def results_output(name: str, step: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``S3Output`` of a resolved check step's one output: where its results go."""
    args = step.get("Arguments") or {}
    outputs = (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    if not outputs or not (outputs[0].get("S3Output") or {}).get("S3Uri"):
        raise ValueError(f"step {name}: ProcessingOutputConfig needs one output with an S3Uri")
    output: Mapping[str, Any] = outputs[0]["S3Output"]
    return output


def results_uri(name: str, step: Mapping[str, Any]) -> str:
    """The S3 URI (no trailing slash) a resolved check step writes its results under."""
    return str(results_output(name, step)["S3Uri"]).rstrip("/")


def sandboxed(path: str, sandbox: Path) -> Path:
    """``/opt/ml/processing/...`` inside the sandbox; anything else is refused."""
    if not path.startswith(PROCESSING + "/") and path != PROCESSING:
        raise ValueError(f"LocalPath {path!r} must be under {PROCESSING}")
    relative = Path(path[len(PROCESSING) :].lstrip("/"))
    if ".." in relative.parts:
        raise ValueError(f"LocalPath {path!r} must not contain '..'")
    return sandbox / "processing" / relative
