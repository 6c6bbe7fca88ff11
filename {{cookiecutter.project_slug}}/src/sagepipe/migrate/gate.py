"""The metric Condition that guards a migrated pipeline's registration.

Like the project's own pipeline (accuracy >= AccuracyThreshold, else Fail), a migrated
pipeline registers its model only when one of the notebook's metrics passes a threshold
that is a pipeline parameter, so `run --pipeline NAME --param <Metric>Threshold=...` can stop
a weak model from being registered. The Condition reads the evaluation step's
``evaluation.json`` through its PropertyFile, so the metric must be one number that the
code alone shows: a key recorded where a scalar metric is computed (``print(f1_score(...))``,
``model.score(...)``), or a variable bound to one (``acc = accuracy_score(...)``). Lists
(``cross_val_score``), text (``classification_report``) and containers filled in loops are
passed over, because their keys are only known when the notebook runs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .analysis import called_name, is_metric_call
from .build import Migration, Step
from .metrics import metric_key

# Metrics whose value is not one number: an array, a text report, a matrix or a curve.
_NOT_SCALAR = re.compile(
    r"^(cross_val_score|cross_validate|cross_val_predict|classification_report|"
    r"confusion_matrix|roc_curve|precision_recall_curve|learning_curve|validation_curve)(_|$)"
)
# A metric where smaller is better: the Condition keeps the model when it is at most the
# threshold (every other metric: at least).
_LOWER_IS_BETTER = re.compile(
    r"(^|_)(rmse|rmsle|mse|mae|mape|smape|error|errors|loss|deviance)($|_)", re.IGNORECASE
)
# Thresholds every real value passes, so the default run registers what the notebook
# trained; a person raises (or lowers) it to what they accept.
OPEN_THRESHOLD = {"ge": -1.0e12, "le": 1.0e12}


@dataclass(frozen=True)
class Gate:
    """Register only if ``metric`` (in ``step``'s report) ``op`` the ``parameter``'s value."""

    step: str  # the Processing step whose PropertyFile holds the metric
    metric: str  # its key in evaluation.json
    op: str  # "ge" or "le"
    parameter: str  # the pipeline parameter that holds the threshold
    threshold: float  # the parameter's default

    def describe(self) -> str:
        """One plan line: what the Condition checks and how to change it."""
        sign = ">=" if self.op == "ge" else "<="
        return (
            f"register only if {self.metric} (step {self.step}) {sign} parameter "
            f"{self.parameter} (default {self.threshold:g}, which every value passes); "
            f"set it with `run --pipeline NAME --param {self.parameter}=VALUE`"
        )


def find_gate(migration: Migration) -> Gate | None:
    """The Condition on the first scalar metric of the pipeline's evaluation steps, or
    None when there is no registration or no metric whose key the code alone shows."""
    if migration.registration is None:
        return None
    for step in migration.steps:
        if step.role == "train" or step.report or not step.records_metrics:
            continue
        for key in _scalar_keys(step):
            op = "le" if _LOWER_IS_BETTER.search(key) else "ge"
            parameter = "".join(p.title() for p in metric_key(key).split("_")) + "Threshold"
            return Gate(step.name, key, op, parameter[:80], OPEN_THRESHOLD[op])
    return None


def _scalar_keys(step: Step) -> list[str]:
    keys = [k for k in step.metric_keys if not _NOT_SCALAR.search(k)]
    keys += [name for name in step.metrics if _bound_to_one_metric(step, name)]
    return keys


def _bound_to_one_metric(step: Step, name: str) -> bool:
    """``name = <metric call>`` at the top of a cell, and never changed in place later."""
    bound = False
    for _, statement in step.statements:
        for node in ast.walk(statement):
            if isinstance(node, (ast.AugAssign, ast.For)) and _stores(node, name):
                return False
            changed_in_place = (
                # results.append(...), scores.update(...)
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_name(node.func.value, name)
            ) or (
                # scores[model] = ...
                isinstance(node, ast.Subscript)
                and isinstance(node.ctx, ast.Store)
                and _is_name(node.value, name)
            )
            if changed_in_place:
                return False
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == name
        ):
            value = statement.value
            bound = (
                isinstance(value, ast.Call)
                and is_metric_call(value)
                and not _NOT_SCALAR.search(called_name(value) or "")
            )
    return bound


def _stores(node: ast.AST, name: str) -> bool:
    target = node.target  # type: ignore[attr-defined]
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
