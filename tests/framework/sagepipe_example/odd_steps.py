"""Step functions with signatures the contract rejects or treats specially (for tests)."""

from __future__ import annotations

from pathlib import Path


def takes_varargs(*folders: Path) -> None:
    """Not a step function: positional varargs cannot be bound by name."""


def takes_list(data: Path, columns: list[str]) -> None:
    """Not a step function: list annotations have no text form in the contract."""


def optional_input(data: Path, out: Path, extra: Path | None = None, flag: bool = False) -> None:
    """A step function with an optional folder and an optional flag."""


def make_nested():
    """Return a function that is not importable by module and name."""

    def nested(data: Path) -> None:
        return None

    return nested
