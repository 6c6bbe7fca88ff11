"""The data-quality baseline of a migrated model: the rows its requests carry.

Monitoring compares captured requests with a baseline of the same kind of rows, so the
baseline is taken from the table the deployed model is sent, not from whatever the model
was fitted on. With the default handler (``model.joblib`` + ``predict``) that is the
table the notebook fits the model on: requests carry exactly its columns. With a
generated handler requests carry the raw rows before the feature preparation (the
columns of the handler's request table), so the fit's argument is followed back through
that preparation to the raw table it came from (``X_train`` for
``clf.fit(scaler.transform(add_features(X_train)), y)``); when it cannot be, the request
table the notebook predicted on stands in for it.

The training step writes those rows (a seeded sample of at most
:data:`~.stepio.REQUEST_ROWS_SAMPLE`) as ``request-rows.csv`` into its output data folder
(``output.tar.gz``, so the model archive that is deployed and shared carries none of
them), a generated Processing step copies them out and a ``QualityCheck`` baselines
them, as the project pipeline's ``BaselineTrainingData`` does its train split.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .analysis import BUILTINS, base_name, calls_preparation, effects, free_loads
from .handler import wire_input

if TYPE_CHECKING:
    from .build import Migration, Step

STEP = "request_rows"  # the generated step that copies the rows out of output.tar.gz


@dataclass
class Baseline:
    """What the training step writes as request rows, or why there is no baseline."""

    rows: str | None  # an expression over the training step's variables; None: no baseline
    decision: str  # the plan's one line
    like: str | None = None  # the handler's request table: its columns, in its order
    step: str = STEP  # the generated step's (and module's) name

    @property
    def kept(self) -> bool:
        """True when the pipeline gets the baseline steps."""
        return self.rows is not None


def _none(reason: str) -> Baseline:
    return Baseline(
        None,
        f"none: {reason}; `monitor` needs --baseline DIR for this model (see the `baseline` "
        "command)",
    )


def choose_baseline(migration: Migration) -> Baseline:
    """Choose the rows the registered model's data-quality baseline is taken from."""
    chosen = _choose(migration)
    chosen.step = step_name(migration)
    return chosen


def _choose(migration: Migration) -> Baseline:
    registered, handler = migration.registration, migration.handler
    if registered is None or handler is None:
        return _none("no model is registered")
    steps = {s.name: s for s in migration.steps}
    train = steps[registered["step"]]
    model = registered["model"]
    found = _fit_call(train, model)
    if found is None:
        return _none(f"no {model}.fit(X, ...) with the table as its first argument in {train.name}")
    position, rows = found
    text = ast.unparse(rows)
    later = effects([s for _, s in train.statements[position + 1 :]])
    changed = sorted(set(free_loads(rows)) & {*later.defines, *later.mutates})
    if not handler.generated:
        if changed:
            return _none(
                f"{', '.join(changed)}, which {model}.fit reads, changes after the fit in "
                f"{train.name}, so the step no longer holds the rows the model was fitted on"
            )
        return Baseline(
            text,
            f"data quality (BaselineTrainingData): the rows {model} is fitted on ({text}), "
            "which are what requests to the default handler carry",
        )
    like = handler.source
    raw = _raw_table(migration, train, position, rows)
    if raw is not None and raw != like and wire_input(migration, train, raw):
        return Baseline(
            raw,
            f"data quality (BaselineTrainingData): the raw rows of {raw}, which "
            f"{text} is prepared from, in the columns of {like} (what requests to the "
            "generated handler carry)",
            like=like,
        )
    return Baseline(
        like,
        f"data quality (BaselineTrainingData): the rows of {like}, the request table the "
        f"notebook predicted on ({text}, which {model} is fitted on, is not traced back to "
        "one raw table)",
        like=like,
    )


def _fit_call(step: Step, model: str) -> tuple[int, ast.expr] | None:
    """(position in the step, first argument) of the step's last statement fitting ``model``."""
    found = None
    for position, (_, statement) in enumerate(step.statements):
        assigned = (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == model
        )
        for node in ast.walk(statement):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("fit", "partial_fit")
            ):
                continue
            # model.fit(X, y), or model = Estimator(...).fit(X, y)[.best_estimator_]
            if base_name(node.func.value) != model and not assigned:
                continue
            first = node.args[0] if node.args else _keyword(node, "X")
            if first is not None and not isinstance(first, ast.Starred):
                found = (position, first)
    return found


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _raw_table(migration: Migration, train: Step, position: int, rows: ast.expr) -> str | None:
    """The one table ``rows`` is prepared from through the handler's preparation (helpers and
    the packed fitted objects, fitting ones included), or None."""
    handler = migration.handler
    assert handler is not None
    ordered: list[tuple[int, ast.stmt]] = []
    for step in migration.steps:
        if step is train:
            ordered += step.statements[:position]
            break
        ordered += step.statements
    helpers = set(handler.helpers)
    fitted = set(handler.fitted)
    constants = {c.name for c in migration.constants} | {p.name for p in migration.parameters}
    skip = helpers | fitted | constants | set(migration.imports) | set(BUILTINS)
    sources: set[str] = set()
    pending = [n for n in free_loads(rows) if n not in skip]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        definition = _definition(ordered, name)
        if definition is None or not _prepares(definition, helpers, fitted):
            sources.add(name)
            continue
        pending += [n for n in free_loads(definition.value) if n not in skip]
    return sources.pop() if len(sources) == 1 else None


def _definition(ordered: list[tuple[int, ast.stmt]], name: str) -> ast.Assign | None:
    for _, statement in reversed(ordered):
        found = effects([statement])
        if name not in found.defines and name not in found.mutates:
            continue
        plain = (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
        )
        return statement if plain else None  # type: ignore[return-value]
    return None


def _prepares(statement: ast.stmt, helpers: set[str], fitted: set[str]) -> bool:
    """True for the handler's kind of preparation: a helper call or a method of a packed
    fitted object (``scaler.fit_transform(...)`` too: on the training side it both fits
    and prepares)."""
    return calls_preparation(statement, helpers, fitted, frozenset({"fit"}))


def step_name(migration: Migration) -> str:
    """:data:`STEP`, or with ``_step`` appended while a notebook step has that name."""
    name = STEP
    while name in {s.name for s in migration.steps}:
        name += "_step"
    return name
