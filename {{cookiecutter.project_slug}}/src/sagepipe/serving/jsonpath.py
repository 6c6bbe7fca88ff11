"""The JSONPath operators SageMaker batch transform filters document.

Supported, as in "Supported JSONPath Operators" of SageMaker's batch transform guide: ``$``
(everything), child ``$.key`` and ``$.a.b``, wildcard ``$.*`` and ``$[*]``, quoted names
``$['a','b']``, indices ``$[0]``, ``$[-1]``, ``$[0,2,3]``, slices ``$[1:]``, ``$[:3]``,
``$[1:4]``, unions of indices and slices (``$[0,5:]``, the OutputFilter docs' example) and
chains of these (``$.features[1:]``). A CSV record is a list of its fields, so ``$[1:]`` drops
the first column.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*|\*)|\[([^\]]*)\]")


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
                "$.*, $['a','b'], $[0], $[0,2], $[1:], $[:3] or $[0,5:]"
            )
        position = match.end()
        if match.group(1) == "*":
            steps.append(("all", None))
        elif match.group(1) is not None:
            steps.append(("key", match.group(1)))
        else:
            steps.append(_bracket(match.group(2), expression))
    return steps


def _bracket(content: str, expression: str) -> tuple[str, Any]:
    parts = [part.strip() for part in content.split(",")]
    if parts == ["*"]:
        return ("all", None)
    if all(len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" for p in parts):
        keys = [p[1:-1] for p in parts]
        return ("key", keys[0]) if len(keys) == 1 else ("keys", keys)
    selectors = [_index_or_slice(part, content, expression) for part in parts]
    if len(selectors) == 1:
        only = selectors[0]
        return ("slice", only) if isinstance(only, slice) else ("index", only)
    return ("union", selectors)


def _index_or_slice(part: str, content: str, expression: str) -> int | slice:
    if ":" in part:
        bounds = part.split(":")
        if len(bounds) != 2:
            raise JsonPathError(
                f"JSONPath {expression!r}: steps in slices are not supported; use $[a:b]"
            )
        try:
            start, stop = (int(b) if b.strip() else None for b in bounds)
        except ValueError:
            raise JsonPathError(f"JSONPath {expression!r}: slice bounds must be integers") from None
        return slice(start, stop)
    try:
        return int(part)
    except ValueError:
        raise JsonPathError(
            f"JSONPath {expression!r}: [{content}] is neither indices, slices nor quoted keys"
        ) from None


def _selected(value: Any, selector: int | slice) -> list[Any]:
    """The items one member of a union selects, as a list (an index selects one item)."""
    return list(value[selector]) if isinstance(selector, slice) else [value[selector]]


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
            elif kind == "union":
                value = [item for selector in arg for item in _selected(value, selector)]
            elif kind == "all":
                value = list(value.values()) if isinstance(value, dict) else list(value)
            else:
                value = value[arg]
        except (KeyError, IndexError, TypeError) as err:
            raise JsonPathError(
                f"JSONPath step {kind} {arg!r} does not fit the record ({err})"
            ) from None
    return value
