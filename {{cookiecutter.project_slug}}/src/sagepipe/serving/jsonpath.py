"""The JSONPath subset SageMaker batch transform filters use.

Supported: ``$`` (everything), ``$.key``, ``$.a.b``, ``$['a','b']``, ``$[0]``, ``$[-1]``,
``$[0,2,3]``, ``$[1:]``, ``$[:3]``, ``$[1:4]`` and chains of these (``$.features[1:]``).
A CSV record is a list of its fields, so ``$[1:]`` drops the first column.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[([^\]]*)\]")


class JsonPathError(ValueError):
    """The expression is outside the supported subset or does not fit the record."""


def compile_path(expression: str) -> list[tuple[str, Any]]:
    """Parse ``expression`` into steps; raise JsonPathError with the supported forms."""
    text = expression.strip()
    if not text.startswith("$"):
        raise JsonPathError(
            f"JSONPath {expression!r} must start with '$' (e.g. '$[1:]' or '$.features')"
        )
    steps: list[tuple[str, Any]] = []
    position = 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JsonPathError(
                f"JSONPath {expression!r} is not supported at {text[position:]!r}; use $.key, "
                "$['a','b'], $[0], $[0,2], $[1:] or $[:3]"
            )
        position = match.end()
        if match.group(1) is not None:
            steps.append(("key", match.group(1)))
        else:
            steps.append(_bracket(match.group(2), expression))
    return steps


def _bracket(content: str, expression: str) -> tuple[str, Any]:
    parts = [part.strip() for part in content.split(",")]
    if all(len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" for p in parts):
        keys = [p[1:-1] for p in parts]
        return ("key", keys[0]) if len(keys) == 1 else ("keys", keys)
    if len(parts) == 1 and ":" in parts[0]:
        bounds = parts[0].split(":")
        if len(bounds) != 2:
            raise JsonPathError(
                f"JSONPath {expression!r}: steps in slices are not supported; use $[a:b]"
            )
        try:
            start, stop = (int(b) if b.strip() else None for b in bounds)
        except ValueError:
            raise JsonPathError(f"JSONPath {expression!r}: slice bounds must be integers") from None
        return ("slice", slice(start, stop))
    try:
        indices = [int(p) for p in parts]
    except ValueError:
        raise JsonPathError(
            f"JSONPath {expression!r}: [{content}] is neither indices, a slice nor quoted keys"
        ) from None
    return ("index", indices[0]) if len(indices) == 1 else ("indices", indices)


def apply(steps: list[tuple[str, Any]], record: Any) -> Any:
    """Select from ``record`` (a list or dict) along compiled ``steps``."""
    value = record
    for kind, arg in steps:
        try:
            if kind == "key":
                value = value[arg]
            elif kind == "keys":
                value = (
                    {key: value[key] for key in arg}
                    if isinstance(value, dict)
                    else [value[k] for k in arg]
                )
            elif kind == "index":
                value = value[arg]
            elif kind == "indices":
                value = [value[i] for i in arg]
            else:
                value = value[arg]
        except (KeyError, IndexError, TypeError) as err:
            raise JsonPathError(
                f"JSONPath step {kind} {arg!r} does not fit the record ({err})"
            ) from None
    return value
