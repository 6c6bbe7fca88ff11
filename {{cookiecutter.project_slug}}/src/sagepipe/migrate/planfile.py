"""The plan: a YAML file the user reviews (and may edit) between ``plan`` and ``apply``."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..project import PROJECT_PIPELINE
from . import MigrationError, require
from .build import Migration
from .gate import find_gate
from .generate import camel
from .project import Project

PLAN_VERSION = 1
EDITABLE_ROLES = ("preprocess", "train", "evaluate", "register", "skip", "shared", "parameters")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")  # always used with fullmatch
HEADER = """\
# Migration plan written by `migrate plan`. The notebook itself is never modified.
# Review it, then run `migrate apply {plan}`.
# You may edit: a cell's `role` and `step` (cells with the same step are merged, in
# notebook order; role skip leaves a cell out), and `parameters[*].value`.
# Everything else is recomputed by apply and shown here for review.
"""


def to_document(migration: Migration, project: Project) -> dict[str, Any]:
    """The plan as plain data, in the order a reviewer reads it."""
    used_star = {name for s in migration.steps for name in s.imports}
    return {
        "version": PLAN_VERSION,
        "notebook": project.relative(migration.notebook.path),
        "notebook_sha256": migration.notebook.sha256,
        "name": migration.name,
        "package": project.package,
        "cells": [
            {
                "cell": c.index,
                "execution_count": c.execution_count,
                "role": c.role,
                "step": c.step,
                "reason": c.reason,
                "first_line": c.first_line,
                **({"left_out_display": c.dropped} if c.dropped else {}),
            }
            for c in migration.cells
        ],
        "steps": [
            {
                "name": s.name,
                "role": s.role,
                "kind": "Training" if s.role == "train" else "Processing",
                "cells": s.cells,
                "inputs": {
                    **{
                        d: {
                            "data_files": next(
                                i.files for i in migration.data_inputs if i.name == d
                            )
                        }
                        for d in s.data_inputs
                    },
                    **{f"from {p}": names for p, names in s.inputs.items()},
                },
                "outputs": s.outputs,
                "parameters": s.parameters,
                "metrics": [*s.metrics, *(k for k in s.metric_keys if k not in s.metrics)],
                "helpers": s.helpers,
                **({"printed_numbers_kept": s.printed} if s.printed else {}),
                **({"recreated": s.recreated} if s.recreated else {}),
                **(
                    {"report": "gathers every step's metrics into one evaluation.json"}
                    if s.report
                    else {}
                ),
            }
            for s in migration.steps
        ],
        "parameters": [
            {
                "name": p.name,
                "value": p.value,
                "type": p.type,
                "cell": p.cell,
                "pipeline_parameter": camel(p.name),
            }
            for p in migration.parameters
        ],
        "constants": [{"name": c.name, "cell": c.cell} for c in migration.constants],
        "data_inputs": [
            {
                "name": d.name,
                "folder": project.relative(d.folder),
                "files": d.files if not d.whole_folder else ["(the whole folder)", *d.files],
                **(
                    {
                        "from_constants": sorted(
                            k for k, v in migration.data_path_constants.items() if v[0] == d.name
                        )
                    }
                    if any(v[0] == d.name for v in migration.data_path_constants.values())
                    else {}
                ),
            }
            for d in migration.data_inputs
        ],
        "helpers": [
            {"name": h.name, "cell": h.cell, "globals_as_parameters": h.needs}
            for h in migration.helpers
        ],
        "star_imports": [
            {
                "cell": s["cell"],
                "module": s["module"],
                "expanded_to": sorted(n for n in s["names"] if n in used_star),
            }
            for s in migration.star_imports
        ],
        "values_that_are_not_files": migration.decisions,
        "registration": (
            {
                **migration.registration,
                "handler": migration.handler.decisions if migration.handler else [],
                "baseline": migration.baseline.decision if migration.baseline else None,
                "condition": (
                    gate.describe()
                    if (gate := find_gate(migration)) is not None
                    else "none: no metric is one number the code alone shows, so the "
                    "model is registered unconditionally; add a Condition by hand"
                ),
            }
            if migration.registration
            else None
        ),
        "dependencies": migration.requirements,
        "todos": migration.todos,
        "warnings": migration.warnings,
    }


def write_plan(migration: Migration, project: Project, path: Path) -> Path:
    """Write the plan YAML to ``path`` (folders created); return the path."""
    require("yaml", "writing a migration plan")
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = to_document(migration, project)
    text = HEADER.format(plan=project.relative(path)) + yaml.dump(
        document, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100
    )
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def _dumper() -> Any:
    import yaml

    class PlanDumper(yaml.SafeDumper):
        """No anchors (a reviewer should not chase &id001); short scalar lists inline."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    def represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> Any:
        flow = all(isinstance(x, (int, float, str, bool)) and len(str(x)) < 30 for x in data)
        return dumper.represent_sequence(
            "tag:yaml.org,2002:seq", data, flow_style=flow and len(data) <= 12
        )

    PlanDumper.add_representer(list, represent_list)
    return PlanDumper


def read_plan(path: Path, project_package: str | None = None) -> dict[str, Any]:
    """Read and check a plan; raise MigrationError naming the bad value, its line and the fix.

    The plan is type-checked against :data:`PLAN_SCHEMA` before anything is used: the
    values that become file and module names (``name``, each cell's ``step``) must be whole
    lowercase identifiers (``fullmatch``: no ``../``, no trailing newline), and ``package``
    is recomputed from the project, never taken from the file.
    """
    require("yaml", "reading a migration plan")
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MigrationError(f"{path}: no such plan; write one with `migrate plan NOTEBOOK`")
    text = path.read_text(encoding="utf-8")
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise MigrationError(
            f"{path}: not valid YAML{where}; fix the edit or write the plan "
            "again with `migrate plan`"
        ) from None
    if not isinstance(document, dict) or document.get("version") != PLAN_VERSION:
        raise MigrationError(
            f"{path}: not a version {PLAN_VERSION} migration plan; write it "
            "again with `migrate plan`"
        )
    _check(path, tree, PLAN_SCHEMA, "")
    if project_package is not None and document.get("package") not in (None, project_package):
        raise MigrationError(
            f"{path}:{_line(tree, 'package')}: package {document['package']!r} is not this "
            f"project's package {project_package!r}; apply recomputes it, so set it back (or "
            "pass --package)"
        )
    for entry in document["cells"]:
        role, step = entry.get("role"), entry.get("step")
        if role in ("train", "preprocess", "evaluate", "register") and step is None:
            entry["step"] = role
    return document


def _identifier(value: Any) -> bool:
    return (
        isinstance(value, str)
        and _IDENTIFIER.fullmatch(value) is not None
        and len(value) <= 64
        and not keyword.iskeyword(value)
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) or (isinstance(value, str) and "\x00" not in value)


# key -> (required, check, what it must be). Sections not listed are recomputed by apply.
_Rule = tuple[bool, Callable[[Any], bool], str]
_CELL: dict[str, _Rule] = {
    "cell": (
        True,
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a cell number",
    ),
    "role": (True, lambda v: v in EDITABLE_ROLES, "one of " + ", ".join(EDITABLE_ROLES)),
    "step": (
        False,
        lambda v: v is None or _identifier(v),
        "a lowercase Python identifier such as 'features' (letters, digits, _)",
    ),
}
_PARAMETER: dict[str, _Rule] = {
    "name": (
        True,
        lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) is not None,
        "a Python identifier",
    ),
    "value": (False, _scalar, "a number, a string or true/false"),
}
PLAN_SCHEMA: dict[str, Any] = {
    "version": (True, lambda v: v == PLAN_VERSION, f"{PLAN_VERSION}"),
    "notebook": (
        True,
        lambda v: isinstance(v, str) and v and v.strip() == v and not set(v) & set("\n\r\x00\"'\\"),
        "the notebook's path (no quotes, backslashes or line breaks)",
    ),
    "notebook_sha256": (
        True,
        lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
        "the notebook's SHA-256 (64 hex digits)",
    ),
    "name": (
        True,
        lambda v: _identifier(v) and v != PROJECT_PIPELINE,
        "a lowercase Python identifier (letters, digits, _) other than 'project' (the "
        "project pipeline's name), for example 'churn'",
    ),
    "package": (False, lambda v: v is None or _identifier(v), "the project's package name"),
    "cells": (True, ("list", _CELL), "a list of cells"),
    "parameters": (True, ("list", _PARAMETER), "a list of parameters"),
}


def _line(tree: Any, key: str) -> int:
    for key_node, value_node in getattr(tree, "value", []):
        if getattr(key_node, "value", None) == key:
            return int(value_node.start_mark.line) + 1
    return 1


def _check(path: Path, node: Any, schema: dict[str, Any], where: str) -> None:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else 1
        raise MigrationError(
            f"{path}:{line}: {where or 'the plan'} must be a mapping; write the plan again "
            "with `migrate plan`"
        )
    found = {}
    for key_node, value_node in node.value:
        found[str(key_node.value)] = value_node
    subject = where or "the plan"
    if "cell" in found and "role" in schema:
        subject = f"cell {found['cell'].value}"
    elif "name" in found and "value" in schema:
        subject = f"parameter {found['name'].value!r}"
    for key, (required, rule, what) in schema.items():
        label = f"{where}.{key}" if where else key
        if key not in found:
            if required:
                raise MigrationError(
                    f"{path}:{node.start_mark.line + 1}: {subject} has no {key!r}; "
                    "write the plan again with `migrate plan`"
                )
            continue
        value_node = found[key]
        line = value_node.start_mark.line + 1
        if isinstance(rule, tuple):  # ("list", item schema)
            if not isinstance(value_node, yaml.SequenceNode):
                raise MigrationError(f"{path}:{line}: {label} must be {what}")
            for number, item in enumerate(value_node.value):
                _check(path, item, rule[1], f"{key}[{number}]")
            continue
        value = yaml.safe_load(yaml.serialize(value_node))
        if not rule(value):
            raise MigrationError(f"{path}:{line}: {subject} has {key} {value!r}; use {what}")


def assignments(document: dict[str, Any]) -> dict[int, tuple[str, str | None]]:
    """Cell -> (role, step) from a plan document."""
    return {int(e["cell"]): (str(e["role"]), e.get("step")) for e in document["cells"]}


def parameter_values(document: dict[str, Any]) -> dict[str, Any]:
    """Parameter name -> value from a plan document (the user may have changed values)."""
    values = {}
    for entry in document.get("parameters") or []:
        value = entry.get("value")
        if not isinstance(value, (bool, int, float, str)):
            raise MigrationError(
                f"parameter {entry.get('name')!r} has value {value!r}; a pipeline parameter "
                "must be a number, a string or true/false"
            )
        values[str(entry["name"])] = value
    return values
