"""sagepipe: declare ML pipelines in Python, compile them to SageMaker's definition JSON.

The public API is imported lazily: ``import sagepipe.contract`` inside a job must not
load the authoring API (or anything else), so this module imports nothing up front.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CacheConfig": "graph",
    "Condition": "graph",
    "ConditionAnd": "graph",
    "ConditionEquals": "graph",
    "ConditionGreaterThan": "graph",
    "ConditionGreaterThanOrEqualTo": "graph",
    "ConditionIn": "graph",
    "ConditionLessThan": "graph",
    "ConditionLessThanOrEqualTo": "graph",
    "ConditionNot": "graph",
    "ConditionOr": "graph",
    "ExecutionVariables": "graph",
    "Fail": "graph",
    "GraphError": "graph",
    "Join": "graph",
    "JsonGet": "graph",
    "MetricsSource": "graph",
    "ModelMetrics": "graph",
    "ParameterBoolean": "graph",
    "ParameterFloat": "graph",
    "ParameterInteger": "graph",
    "ParameterString": "graph",
    "Pipeline": "graph",
    "Processing": "graph",
    "PropertyFile": "graph",
    "RegisterModel": "graph",
    "Training": "graph",
    "and_": "graph",
    "eq": "graph",
    "ge": "graph",
    "gt": "graph",
    "in_": "graph",
    "le": "graph",
    "lt": "graph",
    "ne": "graph",
    "not_": "graph",
    "or_": "graph",
    "DataQualityCheckConfig": "quality_check",
    "ModelQualityCheckConfig": "quality_check",
    "QualityCheck": "quality_check",
    "BiasConfig": "clarify_check",
    "ClarifyCheck": "clarify_check",
    "DataBiasCheckConfig": "clarify_check",
    "DataConfig": "clarify_check",
    "ModelBiasCheckConfig": "clarify_check",
    "ModelExplainabilityCheckConfig": "clarify_check",
    "ModelPredictedLabelConfig": "clarify_check",
    "SHAPConfig": "clarify_check",
    "Compiled": "compile",
    "compile_pipeline": "compile",
}

__all__ = [
    "BiasConfig",
    "CacheConfig",
    "ClarifyCheck",
    "Compiled",
    "Condition",
    "ConditionAnd",
    "ConditionEquals",
    "ConditionGreaterThan",
    "ConditionGreaterThanOrEqualTo",
    "ConditionIn",
    "ConditionLessThan",
    "ConditionLessThanOrEqualTo",
    "ConditionNot",
    "ConditionOr",
    "DataBiasCheckConfig",
    "DataConfig",
    "DataQualityCheckConfig",
    "ExecutionVariables",
    "Fail",
    "GraphError",
    "Join",
    "JsonGet",
    "MetricsSource",
    "ModelBiasCheckConfig",
    "ModelExplainabilityCheckConfig",
    "ModelMetrics",
    "ModelPredictedLabelConfig",
    "ModelQualityCheckConfig",
    "ParameterBoolean",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterString",
    "Pipeline",
    "Processing",
    "PropertyFile",
    "QualityCheck",
    "RegisterModel",
    "SHAPConfig",
    "Training",
    "and_",
    "compile_pipeline",
    "eq",
    "ge",
    "gt",
    "in_",
    "le",
    "lt",
    "ne",
    "not_",
    "or_",
]

if TYPE_CHECKING:  # let type checkers and IDEs see the names
    from .clarify_check import (
        BiasConfig,
        ClarifyCheck,
        DataBiasCheckConfig,
        DataConfig,
        ModelBiasCheckConfig,
        ModelExplainabilityCheckConfig,
        ModelPredictedLabelConfig,
        SHAPConfig,
    )
    from .compile import Compiled, compile_pipeline
    from .graph import (
        CacheConfig,
        Condition,
        ConditionAnd,
        ConditionEquals,
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionLessThan,
        ConditionLessThanOrEqualTo,
        ConditionNot,
        ConditionOr,
        ExecutionVariables,
        Fail,
        GraphError,
        Join,
        JsonGet,
        MetricsSource,
        ModelMetrics,
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
        Pipeline,
        Processing,
        PropertyFile,
        RegisterModel,
        Training,
        and_,
        eq,
        ge,
        gt,
        in_,
        le,
        lt,
        ne,
        not_,
        or_,
    )
    from .quality_check import DataQualityCheckConfig, ModelQualityCheckConfig, QualityCheck


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'sagepipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
