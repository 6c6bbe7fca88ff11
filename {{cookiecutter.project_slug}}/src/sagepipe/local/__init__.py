"""Run SageMaker pipeline definitions on this machine (see ``executor.execute``).

The storage the executor shares with the registry (local S3, SQLite, digests, tar) lives
in :mod:`sagepipe.storage`, below both, so this package imports its names directly.
"""

from __future__ import annotations

from .executor import DefinitionError, Event, Execution, execute, load_definition
from .history import RunHistory
from .parameters import ParameterError, parse_assignment

__all__ = [
    "DefinitionError",
    "Event",
    "Execution",
    "ParameterError",
    "RunHistory",
    "execute",
    "load_definition",
    "parse_assignment",
]
