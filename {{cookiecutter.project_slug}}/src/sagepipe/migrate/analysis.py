"""What each statement reads, defines and changes, found with ``ast``.

A variable is *changed* not only by assignment: ``df.dropna(inplace=True)``,
``df["x"] = ...``, ``obj.attr = ...``, ``model.fit(...)``, ``items.append(...)`` and
``del df["x"]`` change it too, so the step that does it must hand the new value on.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field

BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "display", "get_ipython"}

# Methods that change their receiver whatever their arguments (estimators and containers).
MUTATING_METHODS = frozenset(
    {
        "fit",
        "partial_fit",
        "fit_transform",
        "fit_predict",
        "fit_resample",
        "set_params",
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "sort",
        "reverse",
        "update",
        "setdefault",
        "add",
        "discard",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
        "set_index_inplace",
        "seed",
        "shuffle",
    }
)
# Functions that change their first argument (``random.shuffle(xs)``, ``rng.shuffle(a)``).
MUTATING_FUNCTIONS = frozenset({"shuffle"})

METRIC_FUNCTIONS = frozenset(
    {
        "accuracy_score",
        "balanced_accuracy_score",
        "f1_score",
        "fbeta_score",
        "precision_score",
        "recall_score",
        "roc_auc_score",
        "average_precision_score",
        "log_loss",
        "brier_score_loss",
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "r2_score",
        "median_absolute_error",
        "mean_absolute_percentage_error",
        "explained_variance_score",
        "matthews_corrcoef",
        "cohen_kappa_score",
        "jaccard_score",
        "hamming_loss",
        "zero_one_loss",
        "confusion_matrix",
        "classification_report",
        "cross_val_score",
        "cross_validate",
        "mean_squared_log_error",
        "max_error",
        "top_k_accuracy_score",
        "d2_absolute_error_score",
    }
)
TRAINING_METHODS = frozenset({"fit", "partial_fit", "train"})
REGISTER_CALLS = frozenset(
    {
        "dump",
        "save_model",
        "log_model",
        "register_model",
        "save",
        "create_model_package",
    }
)
DISPLAY_METHODS = frozenset(
    {
        "head",
        "tail",
        "describe",
        "info",
        "plot",
        "hist",
        "boxplot",
        "show",
        "sample",
        "value_counts",
        "style",
        "to_markdown",
        "display",
        "corr",
        "nunique",
        "isna",
        "isnull",
        "dtypes",
        "shape",
        "columns",
        "memory_usage",
        "savefig",
        "heatmap",
        "pairplot",
        "scatter",
        "bar",
        "barh",
        "figure",
        "subplots",
        "title",
        "xlabel",
        "ylabel",
        "legend",
        "tight_layout",
        "countplot",
        "histplot",
        "lineplot",
        "scatterplot",
        "unique",
    }
)
PLOT_MODULES = frozenset({"plt", "sns", "px", "go", "alt", "matplotlib", "seaborn", "plotly"})


@dataclass
class Effects:
    """Names a block reads before defining them, defines, changes and deletes."""

    uses: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    mutates: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def add(self, bucket: list[str], names: Iterable[str]) -> None:
        """Append ``names`` to ``bucket`` keeping first-seen order without duplicates."""
        for name in names:
            if name not in bucket:
                bucket.append(name)


def base_name(node: ast.AST) -> str | None:
    """The variable at the root of ``a.b[c].d(...)``, or None (``f()[0]``, literals)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def called_name(call: ast.Call) -> str | None:
    """``f`` for ``f(...)``, ``method`` for ``x.y.method(...)``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def calls_preparation(
    statement: ast.stmt, helpers: set[str], fitted: set[str], not_methods: frozenset[str]
) -> bool:
    """True when ``statement`` calls one of the notebook's ``helpers`` or a method of a
    ``fitted`` object other than ``not_methods``: feature preparation a request goes through."""
    for node in ast.walk(statement):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in helpers:
            return True
        if (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in fitted
            and node.func.attr not in not_methods
        ):
            return True
    return False


def free_loads(node: ast.AST) -> list[str]:
    """Names ``node`` reads from the enclosing scope (comprehension and lambda locals excluded)."""
    found: list[str] = []
    _free_loads(node, set(), found)
    return found


def _free_loads(node: ast.AST, bound: set[str], found: list[str]) -> None:
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id not in bound and node.id not in found:
            found.append(node.id)
        return
    if isinstance(node, ast.Lambda):
        inner = bound | _arg_names(node.args)
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                _free_loads(default, bound, found)
        _free_loads(node.body, inner, found)
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = set(bound)
        for generator in node.generators:
            _free_loads(generator.iter, inner, found)
            inner |= set(stored_names(generator.target))
            for condition in generator.ifs:
                _free_loads(condition, inner, found)
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for element in elements:
            _free_loads(element, inner, found)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for name in function_free_names(node):
            if name not in bound and name not in found:
                found.append(name)
        return
    for child in ast.iter_child_nodes(node):
        _free_loads(child, bound, found)


def _arg_names(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    return names


def stored_names(target: ast.AST) -> list[str]:
    """Plain names bound by an assignment target (``a, (b, *c) = ...``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in stored_names(element)]
    if isinstance(target, ast.Starred):
        return stored_names(target.value)
    return []


def function_free_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    """Globals a function or class body reads: loads minus parameters and local bindings."""
    if isinstance(node, ast.ClassDef):
        outer: list[str] = []
        for expr in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            outer.extend(free_loads(expr))
        for statement in node.body:
            outer.extend(free_loads(statement))
        local = {name for s in node.body for name in _local_bindings(s)}
        return list(dict.fromkeys(n for n in outer if n not in local))
    found: list[str] = []
    for expr in [
        *node.decorator_list,
        *node.args.defaults,
        *(d for d in node.args.kw_defaults if d is not None),
    ]:
        _free_loads(expr, set(), found)
    local = _arg_names(node.args)
    declared_global: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Global):
            declared_global |= set(child.names)
    for statement in node.body:
        local |= _local_bindings(statement)
    local -= declared_global
    for statement in node.body:
        _free_loads(statement, local, found)
    return found


def _local_bindings(statement: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def mutated_by_call(call: ast.Call, aliases: dict[str, str] | None = None) -> list[str]:
    """Variables a call changes: ``x.fit()``, ``x.append()``, ``x.m(inplace=True)``,
    ``shuffle(x)``."""
    aliases = aliases or {}
    changed: list[str] = []
    name = called_name(call)
    in_place = any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )
    if isinstance(call.func, ast.Attribute) and (name in MUTATING_METHODS or in_place):
        # Model(...).fit(X) changes a new object, not the name Model.
        receiver = None if _through_call(call.func.value) else base_name(call.func.value)
        # np.random.shuffle(x) is a module function, not a method of np.
        if name in MUTATING_FUNCTIONS and call.args:
            receiver = base_name(call.args[0])
        if receiver:
            changed.append(aliases.get(receiver, receiver))
            if receiver in aliases:
                changed.append(receiver)
    elif name in MUTATING_FUNCTIONS and call.args:
        receiver = base_name(call.args[0])
        if receiver:
            changed.append(receiver)
    return changed


def _through_call(node: ast.AST) -> bool:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call):
            return True
        node = node.value
    return False


def effects(statements: list[ast.stmt], known: Iterable[str] = ()) -> Effects:
    """Effects of a block run top to bottom; ``known`` names are already defined before it."""
    result = Effects()
    _block(statements, set(known), result, {})
    return result


def _block(
    statements: list[ast.stmt], defined: set[str], out: Effects, aliases: dict[str, str]
) -> None:
    for statement in statements:
        _statement(statement, defined, out, aliases)


def _use(names: Iterable[str], defined: set[str], out: Effects) -> None:
    out.add(out.uses, [n for n in names if n not in defined])


def _mutate(names: Iterable[str], defined: set[str], out: Effects) -> None:
    names = list(names)
    _use(names, defined, out)  # changing a value needs the value first
    out.add(out.mutates, names)
    defined.update(names)


def _define(names: Iterable[str], defined: set[str], out: Effects) -> None:
    names = list(names)
    out.add(out.defines, names)
    defined.update(names)


def _calls_mutations(node: ast.AST, aliases: dict[str, str]) -> list[str]:
    changed: list[str] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            changed.extend(mutated_by_call(child, aliases))
    return changed


def _target(target: ast.AST, defined: set[str], out: Effects) -> None:
    if isinstance(target, ast.Name):
        _define([target.id], defined, out)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _target(element, defined, out)
    elif isinstance(target, ast.Starred):
        _target(target.value, defined, out)
    elif isinstance(target, (ast.Subscript, ast.Attribute)):
        # df["x"] = ... / obj.attr = ...: reads the index expression, changes the base.
        _use(free_loads(target), defined, out)
        root = base_name(target)
        if root:
            _mutate([root], defined, out)


def _statement(node: ast.stmt, defined: set[str], out: Effects, aliases: dict[str, str]) -> None:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        _define(
            [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"], defined, out
        )
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        _use(function_free_names(node), defined, out)
        _define([node.name], defined, out)
    elif isinstance(node, ast.Assign):
        _use(free_loads(node.value), defined, out)
        _mutate(_calls_mutations(node.value, aliases), defined, out)
        for target in node.targets:
            _target(target, defined, out)
    elif isinstance(node, ast.AnnAssign):
        if node.value is not None:
            _use(free_loads(node.value), defined, out)
            _mutate(_calls_mutations(node.value, aliases), defined, out)
            _target(node.target, defined, out)
    elif isinstance(node, ast.AugAssign):
        _use(free_loads(node.value), defined, out)
        if isinstance(node.target, ast.Name):
            _mutate([node.target.id], defined, out)
        else:
            _target(node.target, defined, out)
    elif isinstance(node, ast.Delete):
        for target in node.targets:
            if isinstance(target, ast.Name):
                _use([target.id], defined, out)
                out.add(out.deletes, [target.id])
                defined.discard(target.id)
            else:
                _target(target, defined, out)
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        _use(free_loads(node.iter), defined, out)
        _mutate(_calls_mutations(node.iter, aliases), defined, out)
        inner = dict(aliases)
        source = base_name(node.iter)
        # for name, model in models.items(): model.fit(...) changes `models`.
        if source and source not in BUILTINS:
            for name in stored_names(node.target):
                inner[name] = aliases.get(source, source)
        _target(node.target, defined, out)
        _block(node.body, defined, out, inner)
        _block(node.orelse, defined, out, aliases)
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        for item in node.items:
            _use(free_loads(item.context_expr), defined, out)
            if item.optional_vars is not None:
                _target(item.optional_vars, defined, out)
        _block(node.body, defined, out, aliases)
    elif isinstance(node, (ast.If, ast.While)):
        _use(free_loads(node.test), defined, out)
        _mutate(_calls_mutations(node.test, aliases), defined, out)
        _block(node.body, defined, out, aliases)
        _block(node.orelse, defined, out, aliases)
    elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
        _block(node.body, defined, out, aliases)  # type: ignore[attr-defined]
        for handler in node.handlers:  # type: ignore[attr-defined]
            if handler.type is not None:
                _use(free_loads(handler.type), defined, out)
            if handler.name:
                _define([handler.name], defined, out)
            _block(handler.body, defined, out, aliases)
        _block(node.orelse, defined, out, aliases)  # type: ignore[attr-defined]
        _block(node.finalbody, defined, out, aliases)  # type: ignore[attr-defined]
    else:
        # Expressions, return, assert, raise, match ...: reads, plus changes by calls.
        _use(free_loads(node), defined, out)
        _mutate(_calls_mutations(node, aliases), defined, out)
        for child in ast.walk(node):
            if isinstance(child, ast.NamedExpr):
                _define([child.target.id], defined, out)


def is_display_statement(node: ast.stmt) -> bool:
    """True for statements that only show something: ``df.head()``, ``plt.show()``, ``df``."""
    if not isinstance(node, ast.Expr):
        return False
    value = node.value
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant, ast.Compare)):
        return True
    if isinstance(value, ast.Call):
        name = called_name(value)
        root = base_name(value.func)
        if name == "display" or root in PLOT_MODULES:
            return True
        if name in DISPLAY_METHODS and not any(k.arg == "inplace" for k in value.keywords):
            return True
        # df["x"].plot.hist(), df.plot.scatter(...)
        return isinstance(value.func, ast.Attribute) and _attribute_chain_has(
            value.func, {"plot", "style"}
        )
    return False


def _attribute_chain_has(node: ast.AST, names: set[str]) -> bool:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def calls_in(node: ast.AST) -> list[str]:
    """Names of every function or method called anywhere in ``node``."""
    return [n for c in ast.walk(node) if isinstance(c, ast.Call) if (n := called_name(c))]


def is_metric_call(node: ast.AST) -> bool:
    """True for ``accuracy_score(...)``, ``model.score(...)``, ``metrics.f1_score(...)``."""
    if not isinstance(node, ast.Call):
        return False
    name = called_name(node) or ""
    return name in METRIC_FUNCTIONS or name == "score" or name.endswith(("_score", "_error"))


def literal_value(node: ast.AST) -> tuple[bool, object]:
    """(True, value) when ``node`` is a literal (``-1``, ``"a"``, ``[1, 2]``), else
    (False, None)."""
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
