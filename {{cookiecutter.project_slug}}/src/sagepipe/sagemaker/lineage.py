"""Lineage as ``CustomerMetadataProperties`` keys, so it travels with a version on AWS.

SageMaker keeps only string -> string metadata on a model package; the keys below carry
what the local registry records in its ``Lineage`` (execution id, data and code digests,
git commit, parameters, metrics).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..compile_lineage import (
    CODE_DIGEST,
    DATA_DIGEST,
    EXECUTION_ID,
    GIT_COMMIT,
    METRIC,
    PARAM,
    PIPELINE_NAME,
    SAGEPIPE_VERSION,
)

_RUN_FACT = re.compile(r"(sagepipe:(?:DataDigest|GitCommit))=([0-9a-f]{7,64})")


def run_description(data_digest: str | None, git_commit: str | None) -> str:
    """What an execution's description records that the definition cannot: data and commit."""
    facts = [(DATA_DIGEST, data_digest), (GIT_COMMIT, git_commit)]
    return " ".join(f"{key}={value}" for key, value in facts if value)


def parse_run_description(text: str) -> dict[str, str]:
    """Inverse of :func:`run_description` (unknown text is ignored)."""
    return dict(_RUN_FACT.findall(text or ""))


def git_commit(folder: Path) -> str | None:
    """``git rev-parse HEAD`` in ``folder``, or None outside a repository."""
    import subprocess

    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def lineage_from_metadata(metadata: Mapping[str, str]) -> Any:
    """Rebuild a :class:`sagepipe.registry.Lineage` from a package's metadata."""
    from ..registry import Lineage

    def number(text: str) -> Any:
        try:
            return float(text)
        except ValueError:
            return text

    return Lineage(
        execution_id=metadata.get(EXECUTION_ID),
        pipeline_name=metadata.get(PIPELINE_NAME),
        data_digest=metadata.get(DATA_DIGEST),
        code_digest=metadata.get(CODE_DIGEST),
        git_commit=metadata.get(GIT_COMMIT),
        parameters={k[len(PARAM) :]: v for k, v in metadata.items() if k.startswith(PARAM)},
        metrics={k[len(METRIC) :]: number(v) for k, v in metadata.items() if k.startswith(METRIC)},
        sagepipe_version=metadata.get(SAGEPIPE_VERSION),
    )
