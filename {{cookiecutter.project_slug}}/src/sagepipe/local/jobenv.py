"""Which interpreter a local job runs with, and what the run history records about it.

With a :class:`~sagepipe.runtimes.RuntimeResolver` each job runs in the environment of
its step's image; without one (plain ``execute`` calls, the framework's own tests) it runs
with the executor's interpreter, and the history says so.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..runtimes import BuildError, RuntimeResolver, UnknownImage, describe
from .sandbox import JobError


@dataclass(frozen=True)
class JobRuntime:
    """The interpreter of one job and the history record of its environment."""

    python: str
    record: dict[str, Any]
    notice: str | None = None


def image_of(step_type: str, args: Mapping[str, Any]) -> str:
    """The image URI a Processing or Training step's arguments name ("" when none)."""
    if step_type == "Processing":
        return str((args.get("AppSpecification") or {}).get("ImageUri") or "")
    return str((args.get("AlgorithmSpecification") or {}).get("TrainingImage") or "")


def job_runtime(
    step_name: str,
    step_type: str,
    args: Mapping[str, Any],
    resolver: RuntimeResolver | None,
) -> JobRuntime:
    """Resolve (and build on first use) the environment the job of ``step_name`` runs in."""
    image = image_of(step_type, args)
    if resolver is None:
        return JobRuntime(
            sys.executable,
            {
                "Image": image,
                "Runtime": "executor",
                "Python": ".".join(str(p) for p in sys.version_info[:3]),
                "Interpreter": sys.executable,
            },
        )
    try:
        runtime, environment = resolver.environment_for(image)
    except (UnknownImage, BuildError) as exc:
        raise JobError(f"step {step_name}: {exc}") from None
    record = describe(runtime, environment, image)
    return JobRuntime(str(environment.python), record, environment.notice)
