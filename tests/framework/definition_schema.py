"""Validate definitions against the public SageMaker pipeline schema, known gaps allowed.

The schema (April 2025) is older than the service. The gaps below are things the real
SageMaker SDK emits; most appear in reference/sdk-v2-definition-example.json, which the
tests validate with the same rules, so the list cannot quietly grow to hide our mistakes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

REFERENCE = Path(__file__).resolve().parent / "reference"
SCHEMA_PATH = REFERENCE / "sagemaker-pipeline-definition.schema.json"
SDK_V2_EXAMPLE = REFERENCE / "sdk-v2-definition-example.json"

# Keys the schema does not know but the SDK emits (and SageMaker accepts).
KNOWN_EXTRA_KEYS = frozenset(
    {
        "AppManaged",  # ProcessingInputs / Outputs
        "CacheConfig",  # step level; trips the Steps oneOf
        "PropertyFiles",  # step level; trips the Steps oneOf
        "PipelineExperimentConfig",
        "MlflowConfig",
        "ProfilerConfig",  # SDK v2 training steps
        "ModelApprovalStatus",  # RegisterModel arguments
        "SkipModelValidation",  # RegisterModel arguments
        "Environment",  # RegisterModel containers (processing/training have it in the schema)
        # Not in the reference example because its pipeline does not use them, but the SDK
        # emits them when asked (ParameterString(enum_values=), RegisterModel(
        # customer_metadata_properties=, drift_check_baselines=)); they are fields of
        # SageMaker's CreateModelPackage API of the same names.
        "EnumValues",
        "CustomerMetadataProperties",
        "DriftCheckBaselines",
    }
)
# Functions the schema allows almost nowhere but the SDK emits in URIs and conditions.
KNOWN_FUNCTIONS = frozenset({"Std:Join", "Std:JsonGet"})


def load_schema() -> dict[str, Any]:
    """Return the public schema."""
    return json.loads(SCHEMA_PATH.read_text())


def normalize(node: Any, *, in_processing_or_training: bool = False) -> Any:
    """Remove the known gaps: extra keys dropped, functions replaced by a ``Get``."""
    if isinstance(node, dict):
        if len(node) == 1 and set(node) <= KNOWN_FUNCTIONS:
            return {"Get": "Normalized.Function"}
        step_type = node.get("Type")
        keep_environment = step_type in ("Processing", "Training") or in_processing_or_training
        result = {}
        for key, value in node.items():
            if key in KNOWN_EXTRA_KEYS and not (key == "Environment" and keep_environment):
                continue
            result[key] = normalize(value, in_processing_or_training=keep_environment)
        return result
    if isinstance(node, list):
        return [normalize(v, in_processing_or_training=in_processing_or_training) for v in node]
    return node


def schema_errors(definition: dict[str, Any]) -> list[str]:
    """Return readable schema errors of ``definition`` after removing the known gaps."""
    schema = load_schema()
    normalized = normalize(definition)
    errors = []
    for error in jsonschema.Draft7Validator(schema).iter_errors(normalized):
        errors.append(f"{list(error.path)}: {error.message[:200]}")
        # oneOf failures hide the reason; report the errors against the intended type.
    for step in _all_steps(normalized.get("Steps", [])):
        sub = {
            "$ref": f"#/definitions/{step.get('Type')}Step",
            "definitions": schema["definitions"],
        }
        for error in jsonschema.Draft7Validator(sub).iter_errors(step):
            errors.append(f"step {step.get('Name')} {list(error.path)}: {error.message[:200]}")
    return errors


def _all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append(step)
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            found.extend(_all_steps(arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])))
    return found
