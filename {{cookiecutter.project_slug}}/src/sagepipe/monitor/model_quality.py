"""Model quality against ground truth, in Model Monitor's binary-classification layout.

Ground truth is Model Monitor's layout, one JSON line per event::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "..."}, "eventVersion": "0"}

``data`` holds one label per predicted row (CSV: comma- or newline-separated; JSON: a
list or a single value). Labels are matched to predictions by ``eventId`` and row order.
The ground truth is held in memory (one entry per labelled event); the metrics are kept
as a confusion matrix and 1,000-bin score histograms, so they do not grow with traffic.
AUC is computed from those histograms (exact to 0.001 in score).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

SCORE_BINS = 1000
METRICS_KEY = "binary_classification_metrics"
CONSTRAINTS_KEY = "binary_classification_constraints"
# Suggested constraints allow this much absolute drop below the baseline's metric.
QUALITY_SLACK = 0.05


class GroundTruthError(ValueError):
    """A ground-truth file that cannot be read; the message names it and the fix."""


def load_ground_truth(source: Path) -> dict[str, list[int]]:
    """``eventId`` -> labels, from a JSON-lines file or every ``*.jsonl`` under a folder."""
    source = Path(source)
    files = [source] if source.is_file() else sorted(source.rglob("*.jsonl"))
    if not files:
        raise GroundTruthError(
            f"{source}: no ground-truth JSON lines found; write one line per event as "
            '{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": '
            '{"eventId": "..."}, "eventVersion": "0"}'
        )
    truth: dict[str, list[int]] = {}
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                event = str(record["eventMetadata"]["eventId"])
                labels = _labels(record["groundTruthData"])
            except (ValueError, KeyError, TypeError) as err:
                raise GroundTruthError(
                    f"{path}:{number}: not a ground-truth record ({err}); each line needs "
                    "groundTruthData.data and eventMetadata.eventId"
                ) from None
            truth[event] = labels
    return truth


def _labels(block: dict[str, Any]) -> list[int]:
    data = block["data"]
    if block.get("encoding") == "JSON" or not isinstance(data, str):
        value = json.loads(data) if isinstance(data, str) else data
        values = value if isinstance(value, list) else [value]
    else:
        values = [c for row in csv.reader(io.StringIO(data)) for c in row if c.strip()]
    return [int(float(v)) for v in values]


class QualityAccumulator:
    """Confusion matrix and score histograms of matched (label, score, truth) rows."""

    def __init__(self) -> None:
        self.matrix = np.zeros((2, 2), dtype=np.int64)  # [truth][predicted]
        self.scores = np.zeros((2, SCORE_BINS), dtype=np.int64)  # [truth][score bin]
        self.scored = 0
        self.unmatched_events = 0

    def add(self, predictions: list[tuple[Any, float | None]], labels: list[int]) -> None:
        """Add one event's predictions and its ground-truth labels (same row order)."""
        for (label, probability), truth in zip(predictions, labels, strict=False):
            try:
                predicted = int(float(label)) if label is not None else None
            except (TypeError, ValueError):
                predicted = None
            if predicted is None and probability is not None:
                predicted = int(probability >= 0.5)
            if predicted not in (0, 1) or truth not in (0, 1):
                continue
            self.matrix[truth][predicted] += 1
            if probability is not None and math.isfinite(probability):
                slot = min(int(probability * SCORE_BINS), SCORE_BINS - 1)
                self.scores[truth][max(slot, 0)] += 1
                self.scored += 1

    @property
    def count(self) -> int:
        """Matched rows."""
        return int(self.matrix.sum())

    def metrics(self) -> dict[str, Any]:
        """``binary_classification_metrics`` of the matched rows."""
        (tn, fp), (fn, tp) = self.matrix.tolist()
        n = tn + fp + fn + tp
        positives, negatives = tp + fn, tn + fp

        def share(num: float, den: float) -> dict[str, float]:
            value = num / den if den else float("nan")
            spread = math.sqrt(value * (1 - value) / den) if den else float("nan")
            return {"value": value, "standard_deviation": spread}

        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / positives if positives else float("nan")
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision == precision and recall == recall and precision + recall
            else float("nan")
        )
        return {
            "confusion_matrix": {
                "0": {"0": tn, "1": fp},
                "1": {"0": fn, "1": tp},
            },
            "accuracy": share(tp + tn, n),
            "precision": share(tp, tp + fp),
            "recall": share(tp, positives),
            "true_positive_rate": share(tp, positives),
            "true_negative_rate": share(tn, negatives),
            "false_positive_rate": share(fp, negatives),
            "false_negative_rate": share(fn, positives),
            "f1": {"value": f1},
            "auc": {"value": self.auc()},
        }

    def auc(self) -> float:
        """Area under the ROC curve from the score histograms (ties count one half)."""
        negatives, positives = self.scores[0], self.scores[1]
        n_neg, n_pos = int(negatives.sum()), int(positives.sum())
        if not n_neg or not n_pos:
            return float("nan")
        below = np.cumsum(negatives) - negatives  # negatives in lower bins
        wins = float((positives * below).sum() + 0.5 * (positives * negatives).sum())
        return wins / (n_neg * n_pos)

    def statistics(self) -> dict[str, Any]:
        """The model-quality ``statistics.json`` of this run."""
        return {
            "version": 0.0,
            "dataset": {"item_count": self.count},
            METRICS_KEY: _clean(self.metrics()),
        }


def suggest_quality_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """Model quality constraints: each metric must not drop ``QUALITY_SLACK`` below baseline."""
    metrics = statistics.get(METRICS_KEY, {})
    constraints = {}
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        value = metrics.get(name, {}).get("value")
        if isinstance(value, (int, float)) and math.isfinite(value):
            constraints[name] = {
                "threshold": round(max(0.0, value - QUALITY_SLACK), 6),
                "comparison_operator": "LessThanThreshold",
            }
    return {"version": 0.0, CONSTRAINTS_KEY: constraints}


def quality_violations(
    statistics: dict[str, Any], constraints: dict[str, Any]
) -> list[dict[str, str]]:
    """Model Monitor's model-quality violations (the check type is the operator)."""
    metrics = statistics.get(METRICS_KEY, {})
    found = []
    for name, rule in constraints.get(CONSTRAINTS_KEY, {}).items():
        value = metrics.get(name, {}).get("value")
        threshold = float(rule["threshold"])
        operator = rule.get("comparison_operator", "LessThanThreshold")
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        broken = {
            "LessThanThreshold": value < threshold,
            "GreaterThanThreshold": value > threshold,
            "LessThanOrEqualToThreshold": value <= threshold,
            "GreaterThanOrEqualToThreshold": value >= threshold,
        }.get(operator, False)
        if broken:
            found.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} with {value:.4g} was {operator} '{threshold:g}'",
                }
            )
    return found


def _clean(value: Any) -> Any:
    """NaN is not JSON: Model Monitor writes it as the string "NaN"."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN"
    return value
