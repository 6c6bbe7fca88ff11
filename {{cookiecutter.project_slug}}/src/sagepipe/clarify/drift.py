"""Check a new ``analysis.json`` against a baseline one: bias and attribution drift.

Rules (documented in docs/monitoring.md):

- bias: a metric of a facet value present in both files drifts when it moved by more than
  ``BIAS_DRIFT_THRESHOLD`` (absolute) from the baseline value;
- explainability: the ranking of features by global SHAP value is compared with the
  baseline's by NDCG (relevance: the baseline's attributions), as Model Monitor's
  feature attribution drift does; below ``NDCG_THRESHOLD`` it drifts.

Violations use Model Monitor's ``constraint_violations.json`` layout with its check types
``bias_drift_check`` and ``feature_attribution_drift_check``.
"""

from __future__ import annotations

import math
from typing import Any

BIAS_DRIFT_THRESHOLD = 0.1
NDCG_THRESHOLD = 0.9
VIOLATIONS_FILE = "constraint_violations.json"
SECTIONS = ("pre_training_bias_metrics", "post_training_bias_metrics")


def _metrics(block: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for facet, splits in (block.get("facets") or {}).items():
        for split in splits:
            for metric in split.get("metrics") or []:
                if isinstance(metric.get("value"), (int, float)):
                    key = (facet, str(split.get("value_or_threshold")), str(metric["name"]))
                    out[key] = float(metric["value"])
    return out


def ndcg(baseline: dict[str, float], current: dict[str, float]) -> float:
    """NDCG of the current feature ranking, relevance = the baseline's attributions."""
    ideal = sorted(baseline, key=lambda f: -baseline[f])
    ranked = sorted(current, key=lambda f: -current[f])

    def dcg(order: list[str]) -> float:
        return sum(baseline.get(f, 0.0) / math.log2(i + 2) for i, f in enumerate(order))

    best = dcg(ideal)
    return 1.0 if best == 0 else dcg(ranked) / best


def violations(baseline: dict[str, Any], current: dict[str, Any]) -> list[dict[str, Any]]:
    """The violations of ``current`` against ``baseline`` (both ``analysis.json``)."""
    found: list[dict[str, Any]] = []
    for section in SECTIONS:
        if section not in baseline or section not in current:
            continue
        before, after = _metrics(baseline[section]), _metrics(current[section])
        for key in sorted(before.keys() & after.keys()):
            facet, value, name = key
            moved = abs(after[key] - before[key])
            if moved > BIAS_DRIFT_THRESHOLD:
                found.append(
                    {
                        "facet": facet,
                        "facet_value": value,
                        "metric_name": name,
                        "constraint_check_type": "bias_drift_check",
                        "description": (
                            f"Value {after[key]:.4f} moved {moved:.4f} from the baseline's "
                            f"{before[key]:.4f} (threshold {BIAS_DRIFT_THRESHOLD})"
                        ),
                    }
                )
    base_shap = (baseline.get("explanations") or {}).get("kernel_shap") or {}
    new_shap = (current.get("explanations") or {}).get("kernel_shap") or {}
    for label in sorted(base_shap.keys() & new_shap.keys()):
        score = ndcg(
            base_shap[label].get("global_shap_values") or {},
            new_shap[label].get("global_shap_values") or {},
        )
        if score < NDCG_THRESHOLD:
            found.append(
                {
                    "label": label,
                    "metric_name": "shap",
                    "constraint_check_type": "feature_attribution_drift_check",
                    "description": (
                        f"Feature attribution drift {score:.4f} is below the threshold "
                        f"{NDCG_THRESHOLD} (NDCG of the feature ranking)"
                    ),
                }
            )
    return found
