"""Run SageMaker pipeline definitions on this machine (see ``executor.execute``).

Names are loaded on first use, so ``sagepipe.local.s3`` can be imported (e.g. by the
registry) without pulling in the executor.
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
