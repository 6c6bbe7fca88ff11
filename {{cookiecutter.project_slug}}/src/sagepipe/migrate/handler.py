"""The inference handler a migrated model is registered with.

When the notebook prepares features before calling the registered model (a helper
function, a fitted scaler's ``transform``, a column selection around them), serving must
replay that preparation on each request: the handler is generated from those statements,
the fitted objects they use are packed into ``model.tar.gz`` (never refit) and the raw
input's columns are recorded when training runs. A bare ``model.predict(X)`` on data as
the notebook made it keeps the default handler (``model.joblib`` + ``predict``).
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .analysis import BUILTINS, calls_preparation, effects, free_loads
from .rewrite import add_keyword_parameters, pass_globals

if TYPE_CHECKING:
    from .build import Migration, Step

PROGRAM = "_inference.py"  # in the steps folder; the train step copies it to code/
METHODS = ("predict", "predict_proba")


@dataclass
class Handler:
    """The chosen handler: generated (with what it replays) or the default, and why."""

    generated: bool
    decisions: list[str]
    method: str = "predict"
    source: str = ""  # the raw input variable the request rows stand for
    call: str = ""  # the notebook's predict expression, e.g. clf.predict_proba(X)
    statements: list[tuple[int, ast.stmt]] = field(default_factory=list)
    code_cells: list[int] = field(default_factory=list)  # helpers' and constants' cells
    fitted: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)

    @property
    def cells(self) -> list[int]:
        """Notebook cells the generated handler's code comes from."""
        return sorted({cell for cell, _ in self.statements} | set(self.code_cells))


def _default(reason: str) -> Handler:
    return Handler(False, [f"default (model.joblib, predict): {reason}"])


def choose_handler(migration: Migration) -> Handler:
    """Generate a handler from the notebook's prediction code, or keep the default."""
    registered = migration.registration
    assert registered is not None
    model = registered["model"]
    ordered = [(cell, s) for step in migration.steps for cell, s in step.statements]
    found = _predict_call(ordered, model)
    if found is None:
        return _default(f"the notebook never calls {model}.predict or {model}.predict_proba")
    position, call = found
    method = call.func.attr  # type: ignore[attr-defined]
    text = ast.unparse(call)
    cell = ordered[position][0]
    helpers = {h.name for h in migration.helpers}
    constants = {c.name for c in migration.constants} | {p.name for p in migration.parameters}
    fitted = _fitted_names(ordered) - {model}
    chain: list[tuple[int, ast.stmt]] = []
    sources: list[str] = []
    pending = [n for n in free_loads(call.args[0]) if n != model] if call.args else []
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in used or name in BUILTINS:
            continue
        used.add(name)
        if name in helpers or name in constants or name in migration.imports or name in fitted:
            continue
        definition = _definition(ordered[:position], name)
        if definition is None or not _prepares(definition[1], helpers, fitted):
            sources.append(name)
            continue
        chain.insert(0, definition)
        pending.extend(free_loads(definition[1].value))  # type: ignore[attr-defined]
    # the call's own argument may prepare too: clf.predict(scaler.transform(f(X)))
    inline = bool(call.args) and _prepares(ast.Expr(call.args[0]), helpers, fitted)
    if not chain and not inline:
        return _default(
            f"{text} in cell {cell} gets data as the notebook made it; nothing to replay"
        )
    if len(set(sources)) != 1:
        return _default(
            f"{text} in cell {cell} is prepared from {sorted(set(sources)) or 'no data'}, "
            "not from one table a request can stand for"
        )
    chain.sort(key=lambda item: ordered.index(item))
    names = sorted(used)
    handler = Handler(
        True,
        [],
        method=method,
        source=sources[0],
        call=text,
        statements=chain,
        fitted=[n for n in names if n in fitted],
        helpers=_helper_closure(migration, [n for n in names if n in helpers]),
        constants=[n for n in names if n in constants],
    )
    helper_uses = [
        n for h in migration.helpers if h.name in handler.helpers for n in free_loads(h.node)
    ]
    handler.constants += [
        n for n in dict.fromkeys(helper_uses) if n in constants and n not in handler.constants
    ]
    handler.imports = sorted(
        {migration.imports[n] for n in [*names, *helper_uses] if n in migration.imports}
    )
    handler.code_cells = [
        cell,
        *(h.cell for h in migration.helpers if h.name in handler.helpers),
    ] + [c.cell for c in migration.constants if c.name in handler.constants]
    cells = ", ".join(str(c) for c in handler.cells)
    handler.decisions = [
        f"generated code/inference.py from notebook cells {cells}: {text} in cell {cell} "
        f"gets {handler.source} through "
        + ("; ".join(_text(migration, c, s) for c, s in chain) or "its argument's code"),
        f"request rows: the columns of {handler.source} (CSV or JSON; rows of numbers if it "
        "is an array), recorded when the training step runs",
        *(
            [f"packed with the model, not refit: {', '.join(handler.fitted)}"]
            if handler.fitted
            else []
        ),
        f"response: {handler.method} as the notebook calls it",
    ]
    return handler


def _text(migration: Migration, cell: int, statement: ast.stmt) -> str:
    """The statement as the notebook wrote it (before helpers took their globals)."""
    source = next((c.source for c in migration.cells if c.index == cell), "")
    try:
        segment = ast.get_source_segment(source, statement)
    except (AttributeError, IndexError):  # a statement built by a rewrite has no position
        segment = None
    return segment or ast.unparse(statement)


def _predict_call(ordered: list[tuple[int, ast.stmt]], model: str) -> tuple[int, ast.Call] | None:
    for position, (_, statement) in enumerate(ordered):
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == model
                and len(node.args) == 1
            ):
                return position, node
    return None


def _fitted_names(ordered: list[tuple[int, ast.stmt]]) -> set[str]:
    """Variables holding a fitted object: ``x.fit(...)`` or ``x = Something().fit(...)``."""
    names: set[str] = set()
    for _, statement in ordered:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("fit", "partial_fit")
                and isinstance(node.func.value, ast.Name)
            ):
                names.add(node.func.value.id)
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and statement.value.func.attr == "fit"
        ):
            names.add(statement.targets[0].id)
    return names


def _definition(ordered: list[tuple[int, ast.stmt]], name: str) -> tuple[int, ast.stmt] | None:
    """The last statement before the call that binds ``name`` (a plain ``name = ...``)."""
    for cell, statement in reversed(ordered):
        if name not in effects([statement]).defines and name not in effects([statement]).mutates:
            continue
        plain = (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        )
        return (cell, statement) if plain else None
    return None


def _prepares(statement: ast.stmt, helpers: set[str], fitted: set[str]) -> bool:
    """True for code a request must go through: a helper call or a fitted object's method."""
    if "record_metric" in free_loads(statement):
        return False
    return calls_preparation(statement, helpers, fitted, frozenset({"fit", "fit_transform"}))


def _helper_closure(migration: Migration, names: list[str]) -> list[str]:
    by_name = {h.name: h for h in migration.helpers}
    wanted = list(names)
    for name in wanted:
        for used in free_loads(by_name[name].node):
            if used in by_name and used not in wanted:
                wanted.append(used)
    return [h.name for h in migration.helpers if h.name in wanted]


def wire(migration: Migration, handler: Handler) -> Handler:
    """Make the training step read what the handler packs (fitted objects, the raw input
    for its columns); fall back to the default when one is made only after training."""
    registered = migration.registration
    assert registered is not None
    names = [s.name for s in migration.steps]
    train = migration.steps[names.index(registered["step"])]
    # The run's parameter values (`--param`), not the notebook's, must reach serving too.
    parameters = {p.name for p in migration.parameters}
    for name in handler.constants:
        if name in parameters and name not in train.parameters:
            train.parameters.append(name)
    for name in [*handler.fitted, handler.source]:
        if not wire_input(migration, train, name):
            return _default(
                f"{name}, which {handler.call} needs, is made only after the training step "
                f"{train.name}, so model.tar.gz cannot carry it; move its cell before training"
            )
    return handler


def wire_input(migration: Migration, train: Step, name: str) -> bool:
    """Make ``train`` read ``name`` from the step before it that makes it; False if none."""
    have = {v for vs in train.inputs.values() for v in vs}
    have |= set(effects([s for _, s in train.statements]).defines)
    if name in have:
        return True
    names = [s.name for s in migration.steps]
    producer = None
    for step in migration.steps[: names.index(train.name)]:
        found = effects([s for _, s in step.statements])
        if name in found.defines or name in found.mutates:
            producer = step
    if producer is None:
        return False
    if name not in producer.outputs:
        producer.outputs.append(name)
    train.inputs.setdefault(producer.name, []).append(name)
    return True


def program_source(migration: Migration, handler: Handler, notebook: str) -> str:
    """The text of code/inference.py: the SageMaker model_fn/input_fn/predict_fn/output_fn."""
    registered = migration.registration
    assert registered is not None
    by_name = {h.name: h for h in migration.helpers}
    constants = {c.name: c.source for c in migration.constants}
    parameters = {p.name: p.value for p in migration.parameters}
    cells = ", ".join(str(c) for c in handler.cells)
    lines = [
        f'"""Serving handler for the model migrated from {notebook}.',
        "",
        f"Generated by `migrate apply` from notebook cells {cells}: each request's rows (the",
        f"columns of {handler.source}) go through the notebook's feature preparation, then",
        f"{handler.call}.",
        "",
        "It runs in the serving container without this project installed: the standard",
        "library, numpy, pandas, joblib and what the notebook's code imports.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import csv",
        "import io",
        "import json",
        "import os",
        "",
        "import joblib",
        "import numpy as np",
        "import pandas as pd",
        *handler.imports,
        "",
        'MODEL_FILE = "model.joblib"',
        'FITTED_FILE = "fitted.joblib"  # the notebook\'s fitted objects, packed, never refit',
        'COLUMNS_FILE = "handler.json"  # request columns and parameters, as training ran',
        "_COLUMNS: list = []  # empty when the notebook's table was an array",
    ]
    for name in handler.constants:
        if name in parameters:  # model_fn sets the value the training run used
            lines.append(f"{name} = {parameters[name]!r}  # pipeline parameter")
        else:
            lines.append(f"{constants[name]}  # notebook constant")
    needs = {h.name: h.needs for h in migration.helpers}
    for name in handler.helpers:
        helper = by_name[name]
        # as in the steps' helpers module: the globals a helper reads are now parameters
        node, partial = pass_globals(
            copy.deepcopy(helper.node), {k: v for k, v in needs.items() if k != name}
        )
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and helper.needs:
            add_keyword_parameters(node, helper.needs)
        if partial and "import functools" not in lines:
            lines.insert(lines.index("import csv"), "import functools")
        lines += ["", "", f"# --- notebook cell {helper.cell} ---", ast.unparse(node)]
    fitted = "".join(f"    {n} = model['fitted'][{n!r}]\n" for n in handler.fitted)
    body = "".join(
        f"    # notebook cell {cell}\n    {ast.unparse(s)}\n" for cell, s in handler.statements
    )
    lines += [
        "",
        "",
        "def model_fn(model_dir: str) -> dict:",
        '    """Load the model, the fitted objects, the request columns and parameters."""',
        "    with open(os.path.join(model_dir, COLUMNS_FILE)) as handle:",
        "        recorded = json.load(handle)",
        '    _COLUMNS[:] = recorded["columns"] or []',
        '    globals().update(recorded["parameters"])',
        "    return {",
        '        "model": joblib.load(os.path.join(model_dir, MODEL_FILE)),',
        '        "fitted": joblib.load(os.path.join(model_dir, FITTED_FILE)),',
        "    }",
        "",
        "",
        "def input_fn(body: bytes, content_type: str):",
        '    """CSV rows (an optional header row) or JSON ({"instances": [...]} of objects or',
        '    lists, or a bare list) as a DataFrame with the notebook\'s columns."""',
        "    text = body.decode() if isinstance(body, bytes) else body",
        '    kind = content_type.split(";")[0].strip().lower()',
        '    if kind == "text/csv":',
        "        first = next(csv.reader(io.StringIO(text)), [])",
        "        header = 0 if [c.strip() for c in first] == list(_COLUMNS) else None",
        "        if not _COLUMNS:  # the notebook predicted from an array: rows of numbers",
        "            return pd.read_csv(io.StringIO(text), header=None).to_numpy()",
        "        return pd.read_csv(io.StringIO(text), header=header, names=list(_COLUMNS))",
        '    if kind == "application/json":',
        "        rows = json.loads(text)",
        "        if isinstance(rows, dict):",
        '            rows = rows["instances"]',
        "        if not _COLUMNS:",
        "            return np.asarray(rows)",
        "        if rows and isinstance(rows[0], dict):",
        "            return pd.DataFrame.from_records(rows)[list(_COLUMNS)]",
        "        return pd.DataFrame(rows, columns=list(_COLUMNS))",
        "    raise ValueError(",
        '        f"content type {content_type!r} is not text/csv or application/json"',
        "    )",
        "",
        "",
        "def predict_fn(data: pd.DataFrame, model: dict):",
        '    """The notebook\'s feature preparation, then its prediction call."""',
        f"    {registered['model']} = model['model']",
        f"{fitted}    {handler.source} = data",
        f"{body}    return {handler.call}",
        "",
        "",
        "def output_fn(prediction, accept: str) -> tuple:",
        '    """JSON (a list, one entry per row) or CSV (one line per row)."""',
        "    values = np.asarray(prediction)",
        '    if accept.split(";")[0].strip().lower() == "text/csv":',
        "        out = io.StringIO()",
        "        rows = values.reshape(len(values), -1).tolist()",
        '        csv.writer(out, lineterminator="\\n").writerows(rows)',
        '        return out.getvalue(), "text/csv"',
        '    return json.dumps(values.tolist()), "application/json"',
    ]
    return "\n".join(lines) + "\n"
