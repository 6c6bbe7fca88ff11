"""Lineage as ``CustomerMetadataProperties`` keys, so it travels with a version on AWS.

SageMaker keeps only string -> string metadata on a model package; the keys below carry
what the local registry records in its ``Lineage`` (execution id, data and code digests,
git commit, parameters, metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..compile_lineage import (
    CODE_DIGEST,
    DATA_DIGEST,
    EXECUTION_ID,
    GIT_COMMIT,
    METRIC,
    PARAM,
    PIPELINE_NAME,
)


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
    )
