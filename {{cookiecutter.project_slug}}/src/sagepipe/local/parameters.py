"""Pipeline parameters: defaults from the definition, type-checked overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")


class ParameterError(ValueError):
    """A bad parameter override; the message is one line: value, rule, fix."""


def parse_assignment(text: str) -> tuple[str, str]:
    """Split a CLI ``NAME=VALUE`` into its parts."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(
            f"--param {text!r} is not NAME=VALUE: write it like --param AccuracyThreshold=0.8"
        )
    return name.strip(), value


def _convert(name: str, kind: str, value: Any) -> Any:
    if kind == "String":
        if isinstance(value, (dict, list)):
            raise ParameterError(f"parameter {name}={value!r}: String parameters take text")
        return value if isinstance(value, str) else str(value)
    if kind == "Integer":
        if isinstance(value, bool):
            raise ParameterError(f"parameter {name}={value!r}: Integer needs a whole number")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ParameterError(
                f"parameter {name}={value!r}: Integer parameters need a whole number; "
                f"write e.g. {name}=10"
            ) from None
    if kind == "Float":
        if isinstance(value, bool):
            raise ParameterError(f"parameter {name}={value!r}: Float needs a number")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise ParameterError(
                f"parameter {name}={value!r}: Float parameters need a number; "
                f"write e.g. {name}=0.75"
            ) from None
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise ParameterError(
            f"parameter {name}={value!r}: Boolean parameters take true or false; "
            f"write {name}=true or {name}=false"
        )
    raise ParameterError(
        f"parameter {name} has type {kind!r}, which is not one of {', '.join(PARAMETER_TYPES)}: "
        "fix the definition"
    )


def resolve_parameters(
    declared: list[Mapping[str, Any]], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return every parameter's typed value: the override if given, else the default.

    Unknown names, values of the wrong type, values outside ``EnumValues`` and missing
    required parameters raise :class:`ParameterError`.
    """
    overrides = dict(overrides or {})
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "none"
        raise ParameterError(
            f"parameter {unknown[0]!r} is not defined by this pipeline: use one of {known}"
        )
    values: dict[str, Any] = {}
    for name, spec in by_name.items():
        kind = spec.get("Type", "String")
        if name in overrides:
            value = _convert(name, kind, overrides[name])
        elif "DefaultValue" in spec:
            value = _convert(name, kind, spec["DefaultValue"])
        else:
            raise ParameterError(
                f"parameter {name} ({kind}) has no default value: pass --param {name}=VALUE"
            )
        enum = spec.get("EnumValues")
        if enum and value not in enum:
            raise ParameterError(
                f"parameter {name}={value!r} is not allowed: use one of {', '.join(map(str, enum))}"
            )
        values[name] = value
    return values
