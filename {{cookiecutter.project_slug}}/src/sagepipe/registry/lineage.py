"""Assemble the :class:`~sagepipe.registry.model.Lineage` of a model version from plain values.

An executor (the local one today, a SageMaker backend tomorrow) knows what each step read;
this module decides what of it a registered version records: digests of the data and
code that went in, the commit, the parameters and the evaluation's metrics.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .model import Lineage


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """``(HEAD commit, uncommitted changes to tracked files?)`` of ``folder``; Nones outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None, None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def digest_of(labelled: Mapping[str, str]) -> str | None:
    """One sha256 over ``label -> digest`` pairs (order-independent); None when empty."""
    if not labelled:
        return None
    text = "".join(f"{k}\0{v}\n" for k, v in sorted(labelled.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def flatten_metrics(document: Any, prefix: str = "") -> dict[str, Any]:
    """``{"metrics": {"accuracy": {"value": 0.9}}}`` -> ``{"accuracy": 0.9}``."""
    found: dict[str, Any] = {}
    if isinstance(document, Mapping):
        value = document.get("value")
        if prefix and isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix] = value
        for key, sub in document.items():
            if isinstance(sub, Mapping):
                found.update(flatten_metrics(sub, str(key)))
    return found


def labelled_inputs(
    step_inputs: Mapping[str, Mapping[str, Mapping[str, str]]],
) -> tuple[dict[str, str], dict[str, str]]:
    """``(code, data)``: each step's input digests labelled ``<step>/<input>``."""
    code: dict[str, str] = {}
    data: dict[str, str] = {}
    for name, groups in step_inputs.items():
        for label, digest in groups.get("code", {}).items():
            code[f"{name}/{label}"] = digest
        for label, digest in groups.get("data", {}).items():
            data[f"{name}/{label}"] = digest
    return code, data


def input_digests(
    step_inputs: Mapping[str, Mapping[str, Mapping[str, str]]],
) -> dict[str, str | None]:
    """``{"data": ..., "code": ...}``: the digests a registered version's lineage records."""
    code, data = labelled_inputs(step_inputs)
    return {"data": digest_of(data), "code": digest_of(code)}


def run_lineage(
    *,
    execution_id: str,
    pipeline_name: str,
    parameters: Mapping[str, Any],
    step_name: str,
    step_inputs: Mapping[str, Mapping[str, Mapping[str, str]]],
    evaluation: Any,
    statistics_uri: str | None,
    git_commit: str | None,
    git_dirty: bool | None,
    sagepipe_version: str | None = None,
) -> Lineage:
    """The lineage a registering step records.

    ``step_inputs`` maps each step that ran to its input digests grouped as ``code``,
    ``data`` (and ``upstream``, outputs of other steps, which are not lineage roots);
    ``evaluation`` is the parsed ModelQuality statistics document (``{}`` without one);
    ``sagepipe_version`` is the engine that compiled the definition (from its metadata).
    """
    code, data = labelled_inputs(step_inputs)
    return Lineage(
        execution_id=execution_id,
        pipeline_name=pipeline_name,
        data_digest=digest_of(data),
        code_digest=digest_of(code),
        git_commit=git_commit,
        parameters=dict(parameters),
        metrics=flatten_metrics(evaluation),
        sagepipe_version=sagepipe_version,
        extra={
            "Step": step_name,
            "GitDirty": git_dirty,
            "DataInputs": data,
            "CodeInputs": code,
            "Evaluation": evaluation,
            "StatisticsUri": statistics_uri,
        },
    )
