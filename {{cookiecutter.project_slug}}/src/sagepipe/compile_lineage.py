"""Lineage in every compiled RegisterModel's ``CustomerMetadataProperties``.

SageMaker keeps string -> string metadata on a model package version, so what the
local registry records as lineage travels with the version on AWS too: the pipeline
execution id and the parameters (expressions SageMaker resolves at run time) and the
digest of the code the steps run (known when compiling), and the version of the engine
that compiled it. Keys the user sets on the step win over these.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from ._version import __version__

PREFIX = "sagepipe:"
EXECUTION_ID = PREFIX + "ExecutionId"
PIPELINE_NAME = PREFIX + "PipelineName"
DATA_DIGEST = PREFIX + "DataDigest"
CODE_DIGEST = PREFIX + "CodeDigest"
GIT_COMMIT = PREFIX + "GitCommit"
SAGEPIPE_VERSION = PREFIX + "Version"  # the engine that compiled the definition
PARAM = PREFIX + "param:"
METRIC = PREFIX + "metric:"
# Set by `migrate apply` on a migrated pipeline's RegisterModel: the notebook it came from.
MIGRATED_FROM = PREFIX + "MigratedFrom"


def _as_text(expression: dict[str, Any]) -> dict[str, Any]:
    # Metadata values must be strings; a one-element join turns numbers into text.
    return {"Std:Join": {"On": "", "Values": [expression]}}


def code_digest(digests: Mapping[str, str]) -> str:
    """One sha256 over every step's code digest (step name and digest, sorted)."""
    text = "".join(f"{name}={digest}\n" for name, digest in sorted(digests.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def metadata(parameter_names: Iterable[str], digests: Mapping[str, str]) -> dict[str, Any]:
    """The lineage entries of a RegisterModel step."""
    entries: dict[str, Any] = {
        EXECUTION_ID: {"Get": "Execution.PipelineExecutionId"},
        PIPELINE_NAME: {"Get": "Execution.PipelineName"},
        SAGEPIPE_VERSION: __version__,
    }
    if digests:
        entries[CODE_DIGEST] = code_digest(digests)
    for name in parameter_names:
        entries[PARAM + name] = _as_text({"Get": f"Parameters.{name}"})
    return entries


def attach(steps: list[dict[str, Any]], entries: Mapping[str, Any]) -> None:
    """Add ``entries`` to each RegisterModel (condition branches too), in place."""
    for step in steps:
        arguments = step.get("Arguments") or {}
        if step.get("Type") == "RegisterModel":
            own = arguments.get("CustomerMetadataProperties") or {}
            arguments["CustomerMetadataProperties"] = {**entries, **own}
        elif step.get("Type") == "Condition":
            attach(arguments.get("IfSteps") or [], entries)
            attach(arguments.get("ElseSteps") or [], entries)
