"""Find every metric a notebook shows and make the migrated code record it.

A notebook shows metrics in many ways: ``acc = accuracy_score(...)``, ``print(f1_score(...))``,
an f-string, a cell's last expression (``model.score(X, y)``), a ``classification_report``,
``cross_val_score`` arrays, or dicts and lists filled in a loop. Two rules cover them all:

* a metric value shown without being bound, or bound to a name inside a loop, is wrapped
  in ``record_metric(KEY, value)`` where it is computed, so each value is recorded in the
  order the notebook computed it (a loop records ``acc``, ``acc_2``, ...);
* a variable bound to a metric at the top of a cell (``acc = ...``), and a container that
  metric values are put into (``scores[name] = ...``, ``results.append(...)``, ``total +=
  ...``), is recorded whole at the end of its step.

The same rewrite runs on the notebook's own cells in ``migrate verify``, so both sides record
the same keys. Keys are the variable, or the call with its arguments (``model.score(X_test,
y_test)`` -> ``model_score_X_test_y_test``), so a person recognises them.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterable

from .analysis import base_name, called_name, is_metric_call

RECORD = "record_metric"
CONTAINER_METHODS = frozenset({"append", "extend", "insert", "update", "setdefault", "add"})
# A notebook function with one of these words in its name that returns a value is a metric.
_METRIC_WORDS = re.compile(
    r"(^|_)(rmse|rmsle|mse|mae|mape|smape|r2|auc|accuracy|acc|f1|precision|recall|score|"
    r"error|loss|metric|metrics|evaluate|gini|ks)($|_)",
    re.IGNORECASE,
)
_KEY_LENGTH = 60


def metric_key(text: str) -> str:
    """A JSON-path-safe, recognisable key: ``model.score(X, y)`` -> ``model_score_X_y``."""
    key = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_") or "metric"
    if key[0].isdigit():
        key = f"m_{key}"
    return key[:_KEY_LENGTH].rstrip("_")


def metric_helpers(nodes: Iterable[ast.stmt]) -> set[str]:
    """Notebook functions that compute a metric: they return a value and either call a
    metric function or say so in their name (``def rmse(a, b): ...``)."""
    found: set[str] = set()
    for node in nodes:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
        if not returns:
            continue
        calls_metric = any(is_metric_call(n) for r in returns for n in ast.walk(r))
        locals_metric = any(
            isinstance(n, ast.Assign) and any(is_metric_call(c) for c in ast.walk(n.value))
            for n in ast.walk(node)
        )
        if calls_metric or locals_metric or _METRIC_WORDS.search(node.name):
            found.add(node.name)
    return found


def is_metric(node: ast.AST, helpers: set[str]) -> bool:
    """A metric call: a known metric function, ``.score()``, or a notebook metric helper."""
    if is_metric_call(node):
        return True
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers
    )


def _contains_metric(node: ast.AST, helpers: set[str]) -> bool:
    return any(is_metric(n, helpers) for n in ast.walk(node))


def _record(key: str, value: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(RECORD, ast.Load()), args=[ast.Constant(key), value], keywords=[])


class _Instrument(ast.NodeTransformer):
    def __init__(self, helpers: set[str], in_helper: bool) -> None:
        self.helpers = helpers
        self.in_helper = in_helper
        self.keys: list[str] = []
        self.containers: list[str] = []
        self.shown: list[str] = []  # printed names: recorded when they hold a number
        self.depth = 0  # loops and branches around the statement being visited

    def _nested(self, node: ast.AST) -> ast.AST:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        return self._nested(node)

    def visit_While(self, node: ast.While) -> ast.AST:
        return self._nested(node)

    def visit_If(self, node: ast.If) -> ast.AST:
        return self._nested(node)

    def visit_With(self, node: ast.With) -> ast.AST:
        return self._nested(node)

    def visit_Try(self, node: ast.Try) -> ast.AST:
        return self._nested(node)

    def _shown(self, arg: ast.expr) -> ast.expr:
        if isinstance(arg, ast.Name):
            self._add(self.shown, arg.id)
            return _shown_name(arg)
        if isinstance(arg, ast.JoinedStr):
            for part in arg.values:
                if isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
                    self._add(self.shown, part.value.id)
                    part.value = _shown_name(part.value)
        return arg

    def _add(self, bucket: list[str], name: str) -> None:
        if name not in bucket:
            bucket.append(name)

    # Function bodies are helpers (instrumented separately); lambdas run per row.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        return node  # a helper's result is recorded where the helper is called

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if not _contains_metric(node.value, self.helpers):
            return node
        if self.in_helper:
            return node  # a helper's local variable; its printed uses are recorded
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if not self.depth:  # top level: the variable itself is recorded at the step's end
                self._add(self.containers, name)
                return node
            self._add(self.keys, name)  # in a loop: every value, in order
            node.value = _record(metric_key(name), node.value)
            return node
        if all(isinstance(t, (ast.Subscript, ast.Attribute)) for t in node.targets):
            for target in node.targets:
                root = base_name(target)
                if root:
                    self._add(self.containers, root)
            return node
        self.generic_visit(node)  # a, b = ...: record each metric call itself
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None or not _contains_metric(node.value, self.helpers):
            return node
        if isinstance(node.target, ast.Name) and not self.in_helper:
            self._add(self.containers, node.target.id)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if _contains_metric(node.value, self.helpers) and not self.in_helper:
            root = base_name(node.target)
            if root:
                self._add(self.containers, root)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not self.in_helper and isinstance(node.func, ast.Name) and node.func.id == "print":
            # print("weights", norm): a number the notebook shows is kept like a metric.
            node.args = [self._shown(a) for a in node.args]
            self.generic_visit(node)
            return node
        if is_metric(node, self.helpers):
            key = metric_key(ast.unparse(node))
            self._add(self.keys, key)
            return _record(key, node)
        name = called_name(node)
        if (
            not self.in_helper
            and name in CONTAINER_METHODS
            and isinstance(node.func, ast.Attribute)
            and any(_contains_metric(a, self.helpers) for a in [*node.args, *node.keywords])
        ):
            root = base_name(node.func.value)
            if root:
                self._add(self.containers, root)
                return node
        self.generic_visit(node)
        return node


def _shown_name(node: ast.Name) -> ast.Call:
    return ast.Call(
        func=ast.Name(RECORD, ast.Load()),
        args=[ast.Constant(metric_key(node.id)), node],
        keywords=[ast.keyword(arg="shown", value=ast.Constant(True))],
    )


def _shows(statement: ast.stmt) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "print"
        and any(isinstance(a, (ast.Name, ast.JoinedStr)) for a in n.args)
        for n in ast.walk(statement)
    )


def instrument(
    statement: ast.stmt, helpers: set[str], *, in_helper: bool = False
) -> tuple[ast.stmt, list[str], list[str], list[str]]:
    """Copy of ``statement`` recording its metrics: (statement, record keys, containers,
    printed variables, which are recorded when they hold a number).

    In a helper (``in_helper``) only values the helper shows are recorded: its locals and
    its return value are recorded where it is called.
    """
    if not _contains_metric(statement, helpers) and (in_helper or not _shows(statement)):
        return statement, [], [], []
    transformer = _Instrument(helpers, in_helper)
    if in_helper and isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        copied = copy.deepcopy(statement)
        copied.body = [transformer.visit(s) for s in copied.body]
        rewritten: ast.stmt = copied
    else:
        rewritten = transformer.visit(copy.deepcopy(statement))
    ast.fix_missing_locations(rewritten)
    shown = [n for n in transformer.shown if n not in transformer.keys]
    return rewritten, transformer.keys, transformer.containers, shown


def block_name(calls: Iterable[str]) -> str:
    """The SageMaker ModelMetrics block for a notebook's metric functions."""
    calls = set(calls)
    regression = {
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "r2_score",
        "median_absolute_error",
        "mean_absolute_percentage_error",
        "explained_variance_score",
        "mean_squared_log_error",
        "max_error",
        "d2_absolute_error_score",
    }
    classification = {
        "accuracy_score",
        "balanced_accuracy_score",
        "f1_score",
        "precision_score",
        "recall_score",
        "roc_auc_score",
        "log_loss",
        "classification_report",
        "confusion_matrix",
        "average_precision_score",
        "matthews_corrcoef",
    }
    if calls & regression and not calls & classification:
        return "regression_metrics"
    return "multiclass_classification_metrics"
