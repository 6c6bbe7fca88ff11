"""The lineage in a compiled RegisterModel's CustomerMetadataProperties.

SageMaker resolves the expressions at run time; moto does not run pipelines, so the
resolved values are checked on the local executor, which runs the same definition.
"""

from __future__ import annotations

from pathlib import Path

import sagepipe
from compiled_example import compile_example
from sagepipe.compile_lineage import code_digest
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry
from sagepipe.sagemaker.lineage import lineage_from_metadata
from test_compile_runs_locally import stage


def test_a_registered_version_carries_execution_parameters_and_code_digest(
    tmp_path: Path,
) -> None:
    definition = stage(tmp_path)

    execution = execute(definition, workspace=tmp_path, parameters={"AccuracyThreshold": "0.1"})

    assert execution.status == "Succeeded", execution.failure_reason
    package = ModelRegistry.for_workspace(tmp_path).describe("example-model", "latest")
    metadata = package.customer_metadata
    assert metadata["sagepipe:ExecutionId"] == execution.id
    assert metadata["sagepipe:param:AccuracyThreshold"] == "0.1"
    assert metadata["sagepipe:CodeDigest"] == code_digest(compile_example().code_digests)
    lineage = lineage_from_metadata(metadata)
    assert lineage.execution_id == execution.id
    assert lineage.parameters["AccuracyThreshold"] == "0.1"
    # The engine that compiled the definition, on AWS (metadata) and locally (lineage).
    assert lineage.sagepipe_version == sagepipe.__version__
    assert package.lineage.sagepipe_version == sagepipe.__version__


def test_the_code_digest_changes_with_the_code_and_only_then() -> None:
    digests = compile_example().code_digests

    assert code_digest(digests) == code_digest(dict(digests))
    changed = dict(digests, Train="0" * 64)
    assert code_digest(changed) != code_digest(digests)
