"""Evaluate the expression language of SageMaker pipeline definitions.

Supported: ``{"Get": "Parameters.X"}``, ``{"Get": "Execution.X"}``,
``{"Get": "Steps.S.<property path>"}`` (e.g. ``ProcessingOutputConfig.Outputs['train']
.S3Output.S3Uri``), ``{"Std:Join": {"On": sep, "Values": [...]}}``,
``{"Std:JsonGet": {"PropertyFile": {"Get": "Steps.S.PropertyFiles.F"} | "S3Uri": ...,
"Path": "a.b[0]"}}`` and every condition type (comparisons, ``In``, ``Not``, ``Or``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
)

_STEP_REF = re.compile(r"^Steps\.([^.\[\]]+)(.*)$")
_TOKEN = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_:\-]*)|\[(\d+)\]|\[['"]([^'"]*)['"]\]""")


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message names it and the fix."""


@dataclass
class Context:
    """Everything an expression can refer to while a pipeline executes."""

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    step_properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # (step name, property file name) -> parsed JSON document
    read_property_file: Callable[[str, str], Any] | None = None
    # s3 uri -> parsed JSON document (for Std:JsonGet with an S3Uri)
    read_json_uri: Callable[[str], Any] | None = None


def parse_path(path: str) -> list[str | int | tuple[str]]:
    """Split ``a.b['k'][0]`` into ``['a', 'b', ('k',), 0]`` (a tuple is a keyed lookup)."""
    tokens: list[str | int | tuple[str]] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise ExpressionError(
                f"property path {path!r} is not valid at {path[pos:]!r}: "
                "use dotted names, [index] or ['key']"
            )
        name, index, key = m.groups()
        if name is not None:
            tokens.append(name)
        elif index is not None:
            tokens.append(int(index))
        else:
            tokens.append((key,))
        pos = m.end()
    return tokens


def walk_path(document: Any, path: str, *, what: str) -> Any:
    """Follow a property or JSON path through dicts and lists.

    A keyed lookup on a list (``Outputs['train']``) picks the element whose
    ``OutputName``/``ChannelName``/``InputName``/``Name`` equals the key.
    """
    current = document
    for token in parse_path(path):
        try:
            if isinstance(token, tuple):
                current = _keyed(current, token[0])
            elif isinstance(token, int) or isinstance(current, Mapping):
                current = current[token]
            else:
                raise KeyError(token)
        except (KeyError, IndexError, TypeError):
            raise ExpressionError(
                f"{what}: path {path!r} has no {token!r} (stopped at a {type(current).__name__}); "
                "check the spelling against the step's outputs"
            ) from None
    return current


def _keyed(current: Any, key: str) -> Any:
    if isinstance(current, Mapping):
        return current[key]
    if isinstance(current, list):
        for item in current:
            if isinstance(item, Mapping) and key in (
                item.get("OutputName"),
                item.get("ChannelName"),
                item.get("InputName"),
                item.get("Name"),
                item.get("MetricName"),
            ):
                return item
    raise KeyError(key)


def is_expression(value: Any) -> bool:
    """True for a dict that is one of the supported functions."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")
    )


def resolve(value: Any, ctx: Context) -> Any:
    """Replace every expression inside ``value`` by its value (a new structure)."""
    if isinstance(value, dict):
        if is_expression(value):
            ((fn, arg),) = value.items()
            if fn == "Get":
                return _get(arg, ctx)
            if fn == "Std:Join":
                return _join(arg, ctx)
            return _json_get(arg, ctx)
        return {k: resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    return value


def to_text(value: Any) -> str:
    """Render a primitive the way SageMaker renders it inside strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _get(path: Any, ctx: Context) -> Any:
    if not isinstance(path, str):
        raise ExpressionError(f"Get expects a string path, got {path!r}: write 'Parameters.X'")
    if path.startswith("Parameters."):
        name = path[len("Parameters.") :]
        if name not in ctx.parameters:
            known = ", ".join(sorted(ctx.parameters)) or "none"
            raise ExpressionError(
                f"Get {path!r}: no parameter {name!r} (defined: {known}); declare it in Parameters"
            )
        return ctx.parameters[name]
    if path.startswith("Execution."):
        name = path[len("Execution.") :]
        if name not in ctx.execution:
            raise ExpressionError(
                f"Get {path!r}: unknown execution variable; use one of "
                f"{', '.join(EXECUTION_VARIABLES)}"
            )
        return ctx.execution[name]
    m = _STEP_REF.match(path)
    if m:
        step, rest = m.group(1), m.group(2).lstrip(".")
        if rest.startswith("PropertyFiles."):
            # A property file as a value only makes sense inside Std:JsonGet.
            return {"__property_file__": (step, rest[len("PropertyFiles.") :])}
        if step not in ctx.step_properties:
            raise ExpressionError(
                f"Get {path!r}: step {step!r} has not produced properties (it did not run or "
                "is not in the pipeline); make this step depend on it"
            )
        return walk_path(ctx.step_properties[step], rest, what=f"Get {path!r}")
    raise ExpressionError(
        f"Get {path!r}: unknown namespace; paths start with Parameters., Execution. or Steps."
    )


def _join(arg: Any, ctx: Context) -> str:
    if not isinstance(arg, Mapping) or "Values" not in arg:
        raise ExpressionError(f"Std:Join needs 'On' and 'Values', got {arg!r}")
    sep = to_text(resolve(arg.get("On", ""), ctx))
    return sep.join(to_text(resolve(v, ctx)) for v in arg["Values"])


def _json_get(arg: Any, ctx: Context) -> Any:
    if not isinstance(arg, Mapping) or "Path" not in arg:
        raise ExpressionError(f"Std:JsonGet needs 'PropertyFile' (or 'S3Uri') and 'Path': {arg!r}")
    json_path = arg["Path"]
    if "PropertyFile" in arg:
        ref = arg["PropertyFile"]
        if isinstance(ref, dict) and "Get" in ref:
            got = _get(ref["Get"], ctx)
            if not (isinstance(got, dict) and "__property_file__" in got):
                raise ExpressionError(
                    f"Std:JsonGet: {ref['Get']!r} is not a property file; "
                    "use Steps.<step>.PropertyFiles.<name>"
                )
            step, name = got["__property_file__"]
        else:
            raise ExpressionError(
                f"Std:JsonGet: PropertyFile {ref!r} must be "
                "{'Get': 'Steps.<step>.PropertyFiles.<name>'}"
            )
        if ctx.read_property_file is None:
            raise ExpressionError("Std:JsonGet: property files are not available here")
        document = ctx.read_property_file(step, name)
        where = f"Std:JsonGet on {step}.PropertyFiles.{name}"
    elif "S3Uri" in arg:
        uri = to_text(resolve(arg["S3Uri"], ctx))
        if ctx.read_json_uri is None:
            raise ExpressionError("Std:JsonGet: S3 documents are not available here")
        document = ctx.read_json_uri(uri)
        where = f"Std:JsonGet on {uri}"
    else:
        raise ExpressionError(f"Std:JsonGet needs 'PropertyFile' or 'S3Uri': {arg!r}")
    return walk_path(document, json_path, what=where)


# -- conditions ---------------------------------------------------------------------------
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}
CONDITION_TYPES = (*_COMPARISONS, "In", "Not", "Or")


def _coerce_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Compare numbers as numbers even when one side arrived as text (JSON, parameters)."""
    num = (int, float)
    if isinstance(a, num) and not isinstance(a, bool) and isinstance(b, str):
        return a, _as_number(b, a)
    if isinstance(b, num) and not isinstance(b, bool) and isinstance(a, str):
        return _as_number(a, b), b
    return a, b


def _as_number(text: str, other: Any) -> Any:
    try:
        return float(text)
    except ValueError:
        raise ExpressionError(
            f"cannot compare text {text!r} with the number {other!r}: make both sides numbers"
        ) from None


def evaluate_condition(condition: Mapping[str, Any], ctx: Context) -> bool:
    """Evaluate one condition of a Condition step."""
    kind = condition.get("Type")
    if kind in _COMPARISONS:
        left, right = _coerce_pair(
            resolve(condition.get("LeftValue"), ctx), resolve(condition.get("RightValue"), ctx)
        )
        try:
            return bool(_COMPARISONS[kind](left, right))
        except TypeError:
            raise ExpressionError(
                f"condition {kind}: cannot compare {left!r} with {right!r}; "
                "make both sides the same type"
            ) from None
    if kind == "In":
        query = resolve(condition.get("QueryValue"), ctx)
        values = [resolve(v, ctx) for v in condition.get("Values", [])]
        return any(_coerce_pair(query, v)[0] == _coerce_pair(query, v)[1] for v in values)
    if kind == "Not":
        inner = condition.get("Expression") or condition.get("Condition")
        if not isinstance(inner, Mapping):
            raise ExpressionError("condition Not needs an 'Expression' holding one condition")
        return not evaluate_condition(inner, ctx)
    if kind == "Or":
        return any(evaluate_condition(c, ctx) for c in condition.get("Conditions", []))
    if kind == "And":
        return all(evaluate_condition(c, ctx) for c in condition.get("Conditions", []))
    raise ExpressionError(
        f"condition type {kind!r} is not supported: use one of {', '.join(CONDITION_TYPES)}"
    )


def evaluate_conditions(conditions: list[Mapping[str, Any]], ctx: Context) -> bool:
    """A Condition step's list of conditions: all must hold (logical AND)."""
    return all(evaluate_condition(c, ctx) for c in conditions)


def step_references(value: Any) -> set[str]:
    """Names of the steps that ``Get`` expressions inside ``value`` refer to."""
    found: set[str] = set()
    for path in _get_paths(value):
        m = _STEP_REF.match(path)
        if m:
            found.add(m.group(1))
    return found


def uses_execution_variables(value: Any) -> bool:
    """True when ``value`` refers to an execution variable."""
    return any(p.startswith("Execution.") for p in _get_paths(value))


def _get_paths(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for v in value.values():
            yield from _get_paths(v)
    elif isinstance(value, list):
        for v in value:
            yield from _get_paths(v)
