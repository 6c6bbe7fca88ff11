"""sagepipe: declare ML pipelines in Python, compile them to SageMaker's definition JSON.

The public API is imported lazily: ``import sagepipe.contract`` inside a job must not
load the authoring API, so this module imports only the stdlib-only check that no other
project's engine clashes with this one (``_one_engine.py``; docs/architecture.md says why
the engine is vendored) and the version it compares.

The ``TYPE_CHECKING`` block below is the one export list. Type checkers and IDEs read
it as it is (``X as X`` marks a re-export); at run time :func:`__getattr__` reads the
same block from this file's source, once, to learn which module defines a name, and
imports that module on first use (the lazy-stub pattern of scientific-python's
``lazy_loader``). Add a public name there and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._one_engine import check_environment as _check_environment

_check_environment(__path__[0])

if TYPE_CHECKING:
    from ._version import __version__ as __version__
    from .clarify_check import BiasConfig as BiasConfig
    from .clarify_check import ClarifyCheck as ClarifyCheck
    from .clarify_check import DataBiasCheckConfig as DataBiasCheckConfig
    from .clarify_check import DataConfig as DataConfig
    from .clarify_check import ModelBiasCheckConfig as ModelBiasCheckConfig
    from .clarify_check import ModelExplainabilityCheckConfig as ModelExplainabilityCheckConfig
    from .clarify_check import ModelPredictedLabelConfig as ModelPredictedLabelConfig
    from .clarify_check import SHAPConfig as SHAPConfig
    from .compile import Compiled as Compiled
    from .compile import compile_pipeline as compile_pipeline
    from .conditions import ConditionAnd as ConditionAnd
    from .conditions import ConditionEquals as ConditionEquals
    from .conditions import ConditionGreaterThan as ConditionGreaterThan
    from .conditions import ConditionGreaterThanOrEqualTo as ConditionGreaterThanOrEqualTo
    from .conditions import ConditionIn as ConditionIn
    from .conditions import ConditionLessThan as ConditionLessThan
    from .conditions import ConditionLessThanOrEqualTo as ConditionLessThanOrEqualTo
    from .conditions import ConditionNot as ConditionNot
    from .conditions import ConditionOr as ConditionOr
    from .conditions import and_ as and_
    from .conditions import eq as eq
    from .conditions import ge as ge
    from .conditions import gt as gt
    from .conditions import in_ as in_
    from .conditions import le as le
    from .conditions import lt as lt
    from .conditions import ne as ne
    from .conditions import not_ as not_
    from .conditions import or_ as or_
    from .errors import GraphError as GraphError
    from .expressions import ExecutionVariables as ExecutionVariables
    from .expressions import Join as Join
    from .graph import Pipeline as Pipeline
    from .parameters import ParameterBoolean as ParameterBoolean
    from .parameters import ParameterFloat as ParameterFloat
    from .parameters import ParameterInteger as ParameterInteger
    from .parameters import ParameterString as ParameterString
    from .properties import JsonGet as JsonGet
    from .properties import PropertyFile as PropertyFile
    from .quality_check import DataQualityCheckConfig as DataQualityCheckConfig
    from .quality_check import ModelQualityCheckConfig as ModelQualityCheckConfig
    from .quality_check import QualityCheck as QualityCheck
    from .register import MetricsSource as MetricsSource
    from .register import ModelMetrics as ModelMetrics
    from .register import RegisterModel as RegisterModel
    from .steps import CacheConfig as CacheConfig
    from .steps import Condition as Condition
    from .steps import Fail as Fail
    from .steps import Processing as Processing
    from .steps import Training as Training

_table: dict[str, str] | None = None  # public name -> defining module, read on first use


def _export_table() -> dict[str, str]:
    """The public names and the module that defines each, from the TYPE_CHECKING block."""
    global _table
    if _table is None:
        import ast

        # The loader, not open(__file__), so an install inside a zip reads it too.
        get_source = getattr(__spec__.loader if __spec__ else None, "get_source", None)
        source = get_source(__name__) if get_source else None
        if source is None:  # a source-less install (only .pyc) cannot list its exports
            raise ImportError(
                "sagepipe/__init__.py has no source to read its export list from; install "
                "the engine with its .py files (pip/uv do by default)"
            )
        block = next(
            node
            for node in ast.parse(source).body
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        )
        _table = {
            alias.asname or alias.name: str(node.module)
            for node in block.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
    return _table


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is an error there

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            return sorted(n for n in _export_table() if not n.startswith("__"))
        module_name = _export_table().get(name)
        if module_name is None:
            raise AttributeError(f"module 'sagepipe' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f".{module_name}", __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_export_table()})
