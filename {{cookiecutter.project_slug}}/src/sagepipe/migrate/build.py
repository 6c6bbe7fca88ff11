"""Turn a notebook into a migration: cells with roles, steps with their data flow.

``plan`` shows the result for review; ``apply`` rebuilds it with the reviewed cell
assignments and parameter values from the plan and generates code from it.
"""

from __future__ import annotations

import ast
import importlib
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import PROJECT_PIPELINE
from .analysis import (
    BUILTINS,
    base_name,
    effects,
    function_free_names,
    is_display_statement,
    is_metric_call,
    literal_value,
    stored_names,
)
from .baseline import Baseline, choose_baseline
from .classify import (
    ROLES,
    comment_heading,
    explicit_step,
    leveled_headings,
    role_from_code,
    role_from_words,
)
from .handler import Handler, choose_handler, wire
from .magics import strip_magics
from .metrics import RECORD, instrument, metric_helpers
from .notebook import Notebook
from .rewrite import pass_globals, written_constants

SCALARS = (bool, int, float, str)


@dataclass
class Parameter:
    """A notebook constant that becomes a pipeline parameter."""

    name: str
    value: Any
    type: str
    cell: int


@dataclass
class Constant:
    """A non-scalar literal (list, dict, tuple, None): copied into the steps that use it."""

    name: str
    source: str
    cell: int


@dataclass
class DataInput:
    """A folder the notebook reads files from; it becomes a step input folder."""

    name: str
    folder: Path
    files: list[str] = field(default_factory=list)
    whole_folder: bool = False  # a constant named the folder itself: every file goes in


@dataclass
class Helper:
    """A function or class defined in the notebook, moved to the helpers module."""

    name: str
    cell: int
    node: ast.stmt
    needs: list[str] = field(default_factory=list)  # globals it now takes as parameters


@dataclass
class Recreated:
    """A value that is code, not data (an import in try/except, a lambda, a module, an open
    file): its statement is run again in each step that uses it instead of passing a file."""

    name: str
    statement: ast.stmt
    cell: int
    kind: str

    @property
    def source(self) -> str:
        return ast.unparse(self.statement)


@dataclass
class CellPlan:
    """One cell: its role, its step and why."""

    index: int
    kind: str
    execution_count: int | None
    role: str
    step: str | None
    reason: str
    first_line: str
    statements: list[ast.stmt] = field(default_factory=list)
    source: str = ""  # the cell without magics, where statements point
    dropped: list[str] = field(default_factory=list)  # display statements left out
    todos: list[dict[str, str]] = field(default_factory=list)
    uses_partial: bool = False
    metric_keys: list[str] = field(default_factory=list)  # recorded where computed
    printed: list[str] = field(default_factory=list)  # printed names, kept when numbers
    guessed: bool = False  # the step came from headings or code, not from a tag or the plan
    metric_containers: list[str] = field(default_factory=list)  # recorded at the step's end


@dataclass
class Step:
    """A future step: its cells and the values that flow in and out as files."""

    name: str
    role: str
    cells: list[int]
    inputs: dict[str, list[str]] = field(default_factory=dict)  # producer step -> variables
    data_inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # containers recorded at the end
    metric_keys: list[str] = field(default_factory=list)  # values recorded where computed
    recreated: list[str] = field(default_factory=list)  # code re-run in the step
    printed: list[str] = field(default_factory=list)  # printed names, kept when numbers
    data_paths: list[str] = field(default_factory=list)  # path constants rebuilt in the step
    statements: list[tuple[int, ast.stmt]] = field(default_factory=list)
    report: bool = False  # the generated step that gathers every step's metrics

    @property
    def records_metrics(self) -> bool:
        """True when the step writes an evaluation.json."""
        return bool(self.metrics or self.metric_keys or self.printed or self.report)


REPORT_STEP = "metrics_report"


@dataclass
class Migration:
    """Everything plan prints and apply generates from."""

    notebook: Notebook
    name: str
    cells: list[CellPlan]
    parameters: list[Parameter]
    constants: list[Constant]
    data_inputs: list[DataInput]
    data_path_constants: dict[str, tuple[str, str]]  # NAME -> (data input, file)
    helpers: list[Helper]
    imports: dict[str, str]  # bound name -> import line
    star_imports: list[dict[str, Any]]
    steps: list[Step]
    requirements: list[str]
    todos: list[dict[str, Any]]
    warnings: list[str]
    out_of_order: list[str]
    recreated: dict[str, Recreated] = field(default_factory=dict)
    metric_helpers: set[str] = field(default_factory=set)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    title: str | None = None
    registration: dict[str, str] | None = None  # {"step": train step, "model": variable}
    handler: Handler | None = None  # the registered model's inference handler
    baseline: Baseline | None = None  # the rows its data-quality baseline is taken from


def module_name(path: Path) -> str:
    """A Python identifier from a notebook file name (``01 Churn-EDA.ipynb`` -> ``churn_eda``)."""
    stem = re.sub(r"[^0-9a-zA-Z]+", "_", path.stem).strip("_").lower()
    stem = re.sub(r"^[0-9_]+", "", stem) or "notebook"
    # `project` names the project's own pipeline (pipeline.py) in `run --pipeline`.
    return stem if stem != PROJECT_PIPELINE else f"{stem}_notebook"


def build(
    notebook: Notebook,
    *,
    assignments: dict[int, tuple[str, str | None]] | None = None,
    parameter_values: dict[str, Any] | None = None,
    name: str | None = None,
) -> Migration:
    """Analyse ``notebook``; ``assignments`` (cell -> (role, step)) override the guesses."""
    warnings: list[str] = []
    todos: list[dict[str, Any]] = []
    requirements: list[str] = []
    parsed: dict[int, list[ast.stmt]] = {}
    sources: dict[int, str] = {}
    cell_todos: dict[int, list[dict[str, str]]] = {}
    for cell in notebook.code_cells:
        clean = strip_magics(cell.source)
        requirements.extend(r for r in clean.requirements if r not in requirements)
        notes = [{"line": n.line, "action": n.action} for n in clean.notes]
        cell_todos[cell.index] = notes
        sources[cell.index] = clean.source
        todos.extend({"cell": cell.index, **n} for n in notes)
        try:
            parsed[cell.index] = ast.parse(clean.source).body
        except SyntaxError as exc:
            parsed[cell.index] = []
            message = (
                f"cell {cell.index}: not valid Python ({exc.msg}, line {exc.lineno}); "
                "it is left out of every step, port it by hand"
            )
            warnings.append(message)
            todos.append(
                {
                    "cell": cell.index,
                    "line": (exc.text or "").strip(),
                    "action": "syntax error: port by hand",
                }
            )

    out_of_order = _execution_order(notebook)
    warnings.extend(out_of_order)
    imports, star_imports = _imports(parsed, warnings)
    stores = _module_stores(parsed)
    parameters, constants = _constants(notebook, parsed, stores, parameter_values or {})
    data_inputs, data_path_constants = _data_inputs(notebook.path, parameters, parsed)
    parameters = [p for p in parameters if p.name not in data_path_constants]
    recreated = _recreated(parsed, imports)
    helpers = _helpers(parsed, {**imports, **{n: "" for n in recreated}}, warnings)
    measuring = metric_helpers(h.node for h in helpers)
    cells = _classify(
        notebook,
        parsed,
        parameters,
        constants,
        data_path_constants,
        helpers,
        cell_todos,
        assignments or {},
        recreated,
    )
    for plan in cells:  # record every metric the code shows (see metrics.py)
        instrumented = [instrument(s, measuring) for s in plan.statements]
        plan.statements = [s for s, _, _, _ in instrumented]
        for _, keys, containers, shown in instrumented:
            plan.printed.extend(n for n in shown if n not in plan.printed)
            plan.metric_keys.extend(k for k in keys if k not in plan.metric_keys)
            plan.metric_containers.extend(c for c in containers if c not in plan.metric_containers)
    needs = {h.name: h.needs for h in helpers}
    for plan in cells:
        plan.source = sources.get(plan.index, "")
    for plan in cells:  # helpers now take the globals they read: pass them at each call
        rewritten = [pass_globals(s, needs) for s in plan.statements]
        plan.statements = [s for s, _ in rewritten]
        plan.uses_partial = any(p for _, p in rewritten)
    steps = _group(cells, warnings)
    migration = Migration(
        notebook=notebook,
        name=name or module_name(notebook.path),
        cells=cells,
        parameters=parameters,
        constants=constants,
        data_inputs=data_inputs,
        data_path_constants=data_path_constants,
        helpers=helpers,
        imports=imports,
        star_imports=star_imports,
        steps=steps,
        requirements=requirements,
        todos=todos,
        warnings=warnings,
        out_of_order=out_of_order,
        recreated=recreated,
        metric_helpers=measuring,
    )
    _data_flow(migration)
    _add_report(migration)
    migration.registration = _registration(migration)
    if migration.registration:
        chosen = choose_handler(migration)
        migration.handler = wire(migration, chosen) if chosen.generated else chosen
        migration.baseline = choose_baseline(migration)
    migration.decisions = _decisions(migration)
    return migration


def _registration(migration: Migration) -> dict[str, str] | None:
    """The model the pipeline registers: the last model fitted by the last training step."""
    for step in reversed(migration.steps):
        if step.role != "train":
            continue
        fitted = [n for n in step.outputs if _is_fitted(step, n)]
        single = [n for n in fitted if not _is_container(step, n)]
        if single:  # the one fitted last, in the notebook's order
            return {"step": step.name, "model": max(single, key=lambda n: _last_fit(step, n))}
        why = (
            "only containers of models"
            if fitted
            else "no `model.fit(...)` or `model = Estimator(...).fit(...)` in its cells"
        )
        migration.warnings.append(
            f"step {step.name}: no single fitted model to register ({why}); register one "
            "by hand with RegisterModel in the pipeline module"
        )
        return None
    return None


def _is_container(step: Step, name: str) -> bool:
    # A dict or list of models (models[name].fit(...)) is not one model to serve.
    for _, statement in step.statements:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and isinstance(node.value, (ast.Dict, ast.List, ast.DictComp, ast.ListComp))
            ):
                return True
            if isinstance(node, ast.For) and name in stored_names(node.target):
                return True  # a loop variable: the last of several models
            if isinstance(node, (ast.For, ast.While)) and any(
                isinstance(inner, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in inner.targets)
                for body in node.body
                for inner in ast.walk(body)
            ):
                return True  # bound in a loop's body (knn = Model(k).fit(...)): the same
    return False


def _add_report(migration: Migration) -> None:
    """A Processing step that gathers every step's metrics into one evaluation.json, when
    they are not already in one Processing step's report (a Training step's files only
    reach model.tar.gz, which a Condition cannot read)."""
    measured = [s for s in migration.steps if s.records_metrics]
    if not measured or (len(measured) == 1 and measured[0].role != "train"):
        return
    name = REPORT_STEP
    while name in {s.name for s in migration.steps}:
        name += "_step"
    report = Step(name, "evaluate", [], report=True)
    report.inputs = {s.name: [] for s in measured}
    migration.steps.append(report)


def _execution_order(notebook: Notebook) -> list[str]:
    notes = []
    previous: tuple[int, int] | None = None
    for cell in notebook.code_cells:
        if not cell.source.strip():
            continue
        count = cell.execution_count
        if count is None:
            continue
        if previous and count < previous[1]:
            notes.append(
                f"out of order: cell {cell.index} ran as execution {count}, before cell "
                f"{previous[0]} (execution {previous[1]}) above it; the pipeline runs cells "
                "top to bottom, so its results may differ from the saved outputs"
            )
        previous = (cell.index, count)
    counts = [c.execution_count for c in notebook.code_cells if c.source.strip()]
    if any(c is None for c in counts) and any(c is not None for c in counts):
        missing = [
            c.index for c in notebook.code_cells if c.source.strip() and c.execution_count is None
        ]
        notes.append(f"cells {missing} were never run in the saved notebook")
    return notes


def _imports(
    parsed: dict[int, list[ast.stmt]], warnings: list[str]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    imports: dict[str, str] = {}
    stars: list[dict[str, Any]] = []
    for index, statements in parsed.items():
        for statement in statements:
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                    imports[bound] = (
                        line if alias.asname or "." not in alias.name else f"import {alias.name}"
                    )
            elif isinstance(statement, ast.ImportFrom):
                module = "." * statement.level + (statement.module or "")
                for alias in statement.names:
                    if alias.name == "*":
                        names = _star_names(module)
                        if names is None:
                            warnings.append(
                                f"cell {index}: 'from {module} import *' could not "
                                "be expanded (module not importable here); replace "
                                "it with explicit names"
                            )
                            continue
                        stars.append({"cell": index, "module": module, "names": names})
                        for name in names:
                            imports.setdefault(name, f"from {module} import {name}")
                        continue
                    bound = alias.asname or alias.name
                    imports[bound] = f"from {module} import {alias.name}" + (
                        f" as {alias.asname}" if alias.asname else ""
                    )
    return imports, stars


def _star_names(module: str) -> list[str] | None:
    try:
        loaded = importlib.import_module(module)
    except Exception:  # any import failure means we cannot expand it
        return None
    names = getattr(loaded, "__all__", None)
    if names is None:
        names = [n for n in vars(loaded) if not n.startswith("_")]
    return sorted(str(n) for n in names)


def _module_stores(parsed: dict[int, list[ast.stmt]]) -> dict[str, int]:
    """How often each name is bound or changed at module level, across all cells."""
    counts: dict[str, int] = {}
    for statements in parsed.values():
        found = effects(statements)
        for name in [*found.defines, *found.mutates, *found.deletes]:
            counts[name] = counts.get(name, 0) + 1
        for statement in statements:  # a name assigned twice in one cell
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    for name in stored_names(target):
                        counts[name] = counts.get(name, 0) + 1
    return counts


def _is_constant_assignment(statement: ast.stmt) -> tuple[str, Any] | None:
    if not (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return None
    ok, value = literal_value(statement.value)
    return (statement.targets[0].id, value) if ok else None


def _constants(
    notebook: Notebook,
    parsed: dict[int, list[ast.stmt]],
    stores: dict[str, int],
    overrides: dict[str, Any],
) -> tuple[list[Parameter], list[Constant]]:
    parameters: list[Parameter] = []
    constants: list[Constant] = []
    for index, statements in parsed.items():
        for statement in statements:
            found = _is_constant_assignment(statement)
            # Twice: once from the defines of effects, once from the explicit count above.
            if not found or stores.get(found[0], 0) > 2:
                continue
            name, value = found
            if isinstance(value, SCALARS):
                value = overrides.get(name, value)
                parameters.append(Parameter(name, value, type(value).__name__, index))
            else:
                constants.append(Constant(name, ast.unparse(statement), index))
    return parameters, constants


def _resolve_file(notebook_dir: Path, text: str) -> Path | None:
    if not text or "\n" in text or len(text) > 300 or "://" in text:
        return None
    candidate = (notebook_dir / text).resolve() if not Path(text).is_absolute() else Path(text)
    try:
        return candidate if candidate.is_file() else None
    except OSError:
        return None


_FOLDER_NAME = re.compile(r"dir|path|folder|root|location", re.IGNORECASE)


def _resolve_folder(notebook_dir: Path, name: str, text: str) -> Path | None:
    # Only a constant that says it is a folder: a column called "data" is not one.
    if not (_FOLDER_NAME.search(name) or "/" in text) or text.strip() in ("", ".", "./"):
        return None
    candidate = (notebook_dir / text).resolve() if not Path(text).is_absolute() else Path(text)
    try:
        return candidate if candidate.is_dir() and candidate != notebook_dir.resolve() else None
    except OSError:
        return None


def _data_inputs(
    path: Path, parameters: list[Parameter], parsed: dict[int, list[ast.stmt]]
) -> tuple[list[DataInput], dict[str, tuple[str, str]]]:
    folders: dict[Path, DataInput] = {}

    def register(file: Path, whole: bool = False) -> tuple[str, str]:
        folder = file if whole else file.parent
        if folder not in folders:
            label = "data_dir" if not folders else f"data_dir_{len(folders) + 1}"
            while label in used:
                label = f"input_{label}"
            folders[folder] = DataInput(label, folder)
        entry = folders[folder]
        if whole:
            entry.whole_folder = True
            return entry.name, ""
        if file.name not in entry.files:
            entry.files.append(file.name)
        return entry.name, file.name

    # Input folder names must not shadow a notebook variable (a `data_dir = ...` cell).
    used = {
        n.id for s in parsed.values() for st in s for n in ast.walk(st) if isinstance(n, ast.Name)
    } | {p.name for p in parameters}
    path_constants: dict[str, tuple[str, str]] = {}
    for parameter in parameters:
        if isinstance(parameter.value, str):
            file = _resolve_file(path.parent, parameter.value)
            if file:
                path_constants[parameter.name] = register(file)
                continue
            folder = _resolve_folder(path.parent, parameter.name, parameter.value)
            if folder:
                path_constants[parameter.name] = register(folder, whole=True)
    for statements in parsed.values():
        for statement in statements:
            written = written_constants(statement)
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in written
                ):
                    file = _resolve_file(path.parent, node.value)
                    if file:
                        register(file)
    return list(folders.values()), path_constants


def _helpers(
    parsed: dict[int, list[ast.stmt]], imports: dict[str, str], warnings: list[str]
) -> list[Helper]:
    helpers: dict[str, Helper] = {}
    for index, statements in parsed.items():
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if statement.name in helpers:
                    warnings.append(
                        f"cell {index}: {statement.name} is defined again (first in "
                        f"cell {helpers[statement.name].cell}); the last definition "
                        "is used"
                    )
                helpers[statement.name] = Helper(statement.name, index, statement)
    free = {
        name: [
            n
            for n in function_free_names(h.node)  # type: ignore[arg-type]
            if n not in BUILTINS and n not in imports and n != name
        ]
        for name, h in helpers.items()
    }
    needs = {name: [n for n in names if n not in helpers] for name, names in free.items()}
    changed = True
    while changed:  # a helper that calls another needs that one's globals too
        changed = False
        for name, names in free.items():
            for other in names:
                if other in helpers:
                    for extra in needs[other]:
                        if extra not in needs[name]:
                            needs[name].append(extra)
                            changed = True
    for name, helper in helpers.items():
        helper.needs = needs[name]
        if isinstance(helper.node, ast.ClassDef) and helper.needs:
            warnings.append(
                f"cell {helper.cell}: class {name} reads the notebook globals "
                f"{', '.join(helper.needs)}; pass them to its constructor by hand"
            )
            helper.needs = []
    return list(helpers.values())


def _classify(
    notebook: Notebook,
    parsed: dict[int, list[ast.stmt]],
    parameters: list[Parameter],
    constants: list[Constant],
    data_paths: dict[str, tuple[str, str]],
    helpers: list[Helper],
    cell_todos: dict[int, list[dict[str, str]]],
    assignments: dict[int, tuple[str, str | None]],
    recreated: dict[str, Recreated],
) -> list[CellPlan]:
    recreating = {id(r.statement) for r in recreated.values()}
    moved = {p.name for p in parameters} | {c.name for c in constants} | set(data_paths)
    helper_names = {h.name for h in helpers}
    heading_role: tuple[str, str] | None = None
    seen_code = seen_heading = False
    plans: list[CellPlan] = []
    for cell in notebook.cells:
        first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        if cell.kind != "code":
            for level, text in leveled_headings(cell.source) if cell.kind == "markdown" else []:
                if level == 1 and not seen_code and not seen_heading:
                    # The notebook's title ("Churn classifier") names the whole notebook,
                    # not the role of the cells under it.
                    seen_heading = True
                    heading_role = None
                    continue
                seen_heading = True
                role = role_from_words(text)
                heading_role = (role, f"heading '{text}'") if role else None
            continue
        seen_code = True
        for text in [t for t in (cell.title, comment_heading(cell.source)) if t]:
            role = role_from_words(text)
            heading_role = (role, f"heading '{text}'") if role else None
        statements = parsed.get(cell.index, [])
        body: list[ast.stmt] = []
        dropped: list[str] = []
        shared = 0
        for statement in statements:
            if (
                isinstance(statement, (ast.Import, ast.ImportFrom))
                or (
                    isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and statement.name in helper_names
                )
                or ((found := _is_constant_assignment(statement)) and found[0] in moved)
                or id(statement) in recreating
            ):
                shared += 1
            elif is_display_statement(statement) and not any(
                is_metric_call(n) for n in ast.walk(statement)
            ):
                dropped.append(ast.unparse(statement))
            else:
                body.append(statement)
        plan = CellPlan(
            cell.index,
            "code",
            cell.execution_count,
            "skip",
            None,
            "",
            first[:80],
            statements=body,
            dropped=dropped,
            todos=cell_todos.get(cell.index, []),
        )
        if cell.index in assignments:
            plan.role, plan.step = assignments[cell.index]
            plan.reason = "set in the plan"
        elif "parameters" in cell.tags:
            plan.role, plan.reason = "parameters", "cell tag 'parameters' (papermill)"
            if body:
                plan.role, plan.reason = role_from_code(body)[0], "parameters cell with code"
                plan.step = plan.role
        elif not statements or (not body and not dropped):
            if shared:
                plan.role, plan.reason = (
                    "shared",
                    "imports, definitions or constants only; they move to the steps that use them",
                )
            else:
                plan.role, plan.reason = "skip", "empty after removing magics"
        elif explicit := explicit_step(cell.tags, cell.source):
            step_name, evidence = explicit
            role = (
                step_name
                if step_name in ROLES
                else (role_from_words(step_name) or role_from_code(body)[0])
            )
            plan.role, plan.step, plan.reason = role, step_name, evidence
        elif not body:
            plan.role, plan.reason = "skip", "only displays or plots"
        elif heading_role and heading_role[0] != "skip":
            plan.role, plan.reason = heading_role
            plan.step = plan.role
            plan.guessed = True
        else:
            plan.role, plan.reason = role_from_code(body)
            if heading_role and heading_role[0] == "skip":
                plan.reason += f" ({heading_role[1]} says skip, but the cell changes data)"
            plan.step = plan.role
            plan.guessed = True
        if plan.role == "skip":
            plan.step = None
        elif plan.step is None and plan.role in ROLES:
            plan.step = plan.role
        plans.append(plan)
    return plans


def _group(cells: list[CellPlan], warnings: list[str]) -> list[Step]:
    steps: list[Step] = []
    used: dict[str, int] = {}
    current: str | None = None  # the step name the previous step cell asked for
    rank = {"preprocess": 0, "train": 1, "evaluate": 2, "register": 3}
    reached = -1  # the furthest role a guessed step has reached
    for cell in cells:
        if cell.step is None or cell.role in ("skip", "shared", "parameters"):
            continue
        if cell.guessed and current is not None and cell.role in rank:
            # A step a person would write: once training started, a later feature tweak or
            # a second model joins the current step instead of a new preprocess_2/train_2.
            if rank[cell.role] < reached:
                cell.reason += f"; joins step {current!r} (its role came earlier)"
                cell.step = current
            else:
                reached = rank[cell.role]
        elif cell.guessed and cell.role in rank:
            reached = rank[cell.role]
        if steps and cell.step == current:
            steps[-1].cells.append(cell.index)
            steps[-1].statements.extend((cell.index, s) for s in cell.statements)
            continue
        current = cell.step
        used[cell.step] = used.get(cell.step, 0) + 1
        name = cell.step if used[cell.step] == 1 else f"{cell.step}_{used[cell.step]}"
        if keyword.iskeyword(name) or name in ("helpers", "_io"):
            name = f"{name}_step"  # the step is a module and a function of that name
        if used[cell.step] > 1:
            warnings.append(
                f"cell {cell.index}: step {cell.step!r} appears again after other "
                f"steps; it becomes a separate step {name!r}"
            )
        statements = [(cell.index, s) for s in cell.statements]
        steps.append(Step(name, cell.role, [cell.index], statements=statements))
    return steps


def _data_flow(migration: Migration) -> None:
    """Fill each step's inputs, outputs, parameters, helpers and imports."""
    parameters = {p.name for p in migration.parameters}
    constants = {c.name for c in migration.constants}
    helpers = {h.name: h for h in migration.helpers}
    paths = migration.data_path_constants
    latest: dict[str, str] = {}
    defined_by: dict[str, list[str]] = {}
    for step in migration.steps:
        statements = [s for _, s in step.statements]
        found = effects(statements)
        uses = list(found.uses)
        for name in uses:
            if name == RECORD:
                continue
            if name in migration.recreated and name not in latest:
                if name not in step.recreated:
                    step.recreated.append(name)
                continue
            if name in ("display", "get_ipython") and name not in latest:
                migration.warnings.append(
                    f"step {step.name} (cells {step.cells}): calls {name}(), which exists only "
                    "in IPython; replace it (print, logging) or the step fails with NameError"
                )
                continue
            if name in BUILTINS and name not in latest:
                continue
            if name in helpers:
                step.helpers.append(name)
            elif name in parameters:
                step.parameters.append(name)
            elif name in constants:
                step.constants.append(name)
            elif name in paths:
                step.data_paths.append(name)
                if paths[name][0] not in step.data_inputs:
                    step.data_inputs.append(paths[name][0])
            elif name in latest:
                step.inputs.setdefault(latest[name], []).append(name)
            elif name in migration.imports:
                step.imports.append(name)
            elif name in defined_by:
                migration.warnings.append(
                    f"step {step.name}: {name!r} was deleted (del) before this step uses it"
                )
            else:
                migration.warnings.append(
                    f"step {step.name} (cells {step.cells}): {name!r} is never defined in the "
                    "notebook; define it or import it, or the step fails with NameError"
                )
        for name in found.deletes:
            latest.pop(name, None)
        for name in [*found.defines, *found.mutates]:
            if name in found.deletes and name not in found.defines:
                continue
            latest[name] = step.name
            defined_by.setdefault(name, []).append(step.name)
        for _, statement in step.statements:
            written = written_constants(statement)
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in written
                ):
                    resolved = _resolve_file(migration.notebook.path.parent, node.value)
                    if resolved:
                        for data in migration.data_inputs:
                            if data.folder == resolved.parent and data.name not in step.data_inputs:
                                step.data_inputs.append(data.name)
        # Names imported and also used inside helpers the step calls are the helpers' business.
    helper_keys = {
        h.name: instrument(h.node, migration.metric_helpers, in_helper=True)[1]
        for h in migration.helpers
    }
    cells_by_index = {c.index: c for c in migration.cells}
    for step in migration.steps:
        for helper in step.helpers:
            step.metric_keys.extend(
                k for k in helper_keys.get(helper, []) if k not in step.metric_keys
            )
        for index in step.cells:
            cell = cells_by_index[index]
            step.metrics.extend(m for m in cell.metric_containers if m not in step.metrics)
            step.metric_keys.extend(k for k in cell.metric_keys if k not in step.metric_keys)
            step.printed.extend(k for k in cell.printed if k not in step.printed)
    for step in migration.steps:
        seen = {n.id for _, s in step.statements for n in ast.walk(s) if isinstance(n, ast.Name)}
        for folder, what in (("model_dir", "model"), ("output_data_dir", "output data")):
            if step.role == "train" and folder in seen:
                migration.warnings.append(
                    f"step {step.name}: the notebook uses a variable {folder!r}, which is also "
                    f"the training job's {what} folder; rename the variable in the generated step"
                )
    by_name = {s.name: s for s in migration.steps}
    for step in migration.steps:
        for producer, names in step.inputs.items():
            target = by_name[producer]
            target.outputs.extend(n for n in names if n not in target.outputs)
        if step.role == "train":  # fitted models leave the step as files, for registration
            found = effects([s for _, s in step.statements])
            for name in [*found.mutates, *found.defines]:
                if (
                    latest.get(name) == step.name
                    and name not in step.outputs
                    and _is_fitted(step, name)
                ):
                    step.outputs.append(name)


def _is_fitted(step: Step, name: str) -> bool:
    """True when the step fits ``name`` in place (``name.fit(...)``) or binds it to a fitted
    estimator (``name = Model().fit(...)``, ``name = Search(...).fit(...).best_estimator_``)."""
    return _last_fit(step, name) >= 0


def _last_fit(step: Step, name: str) -> int:
    """The position of the step's last statement that fits ``name``; -1 when none does."""
    last = -1
    for position, (_, statement) in enumerate(step.statements):
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("fit", "partial_fit")
                and base_name(node.func.value) == name
            ) or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
                and _fitted_value(node.value)
            ):
                last = position
    return last


# Attributes of a fitted search or ensemble that are themselves the fitted model to serve.
_FITTED_ATTRIBUTES = frozenset({"best_estimator_"})


def _fitted_value(value: ast.expr) -> bool:
    """``Model(...).fit(...)`` (fit returns the estimator) or its ``.best_estimator_``;
    never ``.fit(...).transform(...)``, whose value is data."""
    if isinstance(value, ast.Attribute) and value.attr in _FITTED_ATTRIBUTES:
        value = value.value
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in ("fit", "partial_fit")
    )


_OPENERS = frozenset({"open", "import_module", "__import__", "load_workbook", "connect"})


def _recreated(parsed: dict[int, list[ast.stmt]], imports: dict[str, str]) -> dict[str, Recreated]:
    """Top-level statements whose values are code or handles, never data files."""
    found: dict[str, Recreated] = {}
    for index, statements in parsed.items():
        for statement in statements:
            if isinstance(statement, ast.Try) and _only_imports(statement):
                bound = sorted(_bound_names(statement))
                for name in bound:
                    found[name] = Recreated(name, statement, index, "import inside try/except")
                continue
            if not (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
            ):
                continue
            name, value = statement.targets[0].id, statement.value
            kind = None
            if isinstance(value, ast.Lambda):
                kind = "lambda"
            elif isinstance(value, ast.Call) and (
                isinstance(value.func, (ast.Name, ast.Attribute))
                and (value.func.id if isinstance(value.func, ast.Name) else value.func.attr)
                in _OPENERS
            ):
                kind = "open file or module" if _called(value) == "open" else "module"
            elif (
                isinstance(value, ast.Attribute)
                and base_name(value) in imports
                and not any(isinstance(n, ast.Call) for n in ast.walk(value))
            ):
                kind = "module or function alias"
            if kind:
                found[name] = Recreated(name, statement, index, kind)
    return found


def _called(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _only_imports(node: ast.Try) -> bool:
    body_ok = all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in node.body)
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.Pass, ast.FunctionDef, ast.Expr)
    handlers_ok = all(isinstance(s, allowed) for h in node.handlers for s in h.body)
    return bool(node.body) and body_ok and handlers_ok and not node.finalbody


def _bound_names(node: ast.Try) -> set[str]:
    names: set[str] = set()
    blocks = [node.body, *(h.body for h in node.handlers), node.orelse]
    for block in blocks:
        for statement in block:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in statement.names}
            elif isinstance(statement, ast.FunctionDef):
                names.add(statement.name)
            elif isinstance(statement, ast.Assign):
                for target in statement.targets:
                    names |= set(stored_names(target))
    return names


_RANDOM_CALLS = frozenset({"RandomState", "default_rng", "Generator", "Random"})


def _decisions(migration: Migration) -> list[dict[str, Any]]:
    """One plan line for every value that cannot simply pass between steps as a file."""
    lines: list[dict[str, Any]] = []
    for name, item in sorted(migration.recreated.items()):
        users = [s.name for s in migration.steps if name in s.recreated]
        lines.append(
            {
                "name": name,
                "cell": item.cell,
                "kind": item.kind,
                "decision": (
                    f"code, not data: re-created in {', '.join(users)}"
                    if users
                    else "code, not data: no step uses it"
                ),
            }
        )
    produced: dict[str, str] = {}
    for step in migration.steps:
        for _, statement in step.statements:
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and isinstance(node.value, ast.Call)
                    and _called(node.value) in _RANDOM_CALLS
                ):
                    produced[node.targets[0].id] = step.name
    for name, producer in produced.items():
        readers = [s.name for s in migration.steps if name in s.inputs.get(producer, [])]
        later = [s.name for s in migration.steps if any(name in v for v in s.inputs.values())]
        if not later:
            continue
        lines.append(
            {
                "name": name,
                "kind": "random generator shared across steps",
                "decision": (
                    f"its exact state is saved after {producer} and restored in "
                    f"{', '.join(readers or later)}, so draws continue in the notebook's order"
                ),
            }
        )
    global_seed = any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "seed"
        and base_name(n.func) in ("np", "numpy", "random")
        for s in migration.steps
        for _, st in s.statements
        for n in ast.walk(st)
    )
    if global_seed and len(migration.steps) > 1:
        lines.append(
            {
                "name": "np.random.seed / random.seed",
                "kind": "global random state",
                "decision": (
                    "each step runs in its own process, so the global generator restarts in "
                    "every step: draws after the first step differ from the notebook unless "
                    "each step seeds again; pass a seeded RandomState instead"
                ),
            }
        )
    return lines
