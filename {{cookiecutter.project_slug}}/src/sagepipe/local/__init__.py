"""Run SageMaker pipeline definitions on this machine (see ``executor.execute``).

Names are loaded on first use. Not for an import cycle (the registry now imports
:mod:`sagepipe.storage`, not this package) but because some modules here are the entry
points of their own processes: a Transform job (``python -m sagepipe.local.transform_job``)
would otherwise import the executor, the registry and the runtime table before its first
record, about 0.3 s per job.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "DefinitionError": ".plan",
    "Event": ".execution",
    "Execution": ".execution",
    "execute": ".executor",
    "load_definition": ".plan",
    "ParameterError": ".parameters",
    "parse_assignment": ".parameters",
    "RunHistory": ".history",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
