"""Compile the example pipeline with fixed settings (shared by the compile tests)."""

from __future__ import annotations

from sagepipe import Compiled, compile_pipeline
from sagepipe_example.pipeline import ROLE, build_pipeline

BUCKET = "example-bucket"
PREFIX = "example-pipeline"


def compile_example(**overrides: object) -> Compiled:
    """Compile the example pipeline as the golden file was made."""
    options: dict[str, object] = {
        "bucket": BUCKET,
        "prefix": PREFIX,
        "role": ROLE,
        "region": "eu-west-1",
    }
    options.update(overrides)
    return compile_pipeline(build_pipeline(), **options)  # type: ignore[arg-type]
