"""Model Monitor's data-quality checks: current profile against baseline constraints.

Check types and their rules (``constraint_violations.json``):

- ``missing_column_check``: a baseline feature never appears in the current data;
- ``extra_column_check``: a current column the baseline does not have;
- ``data_type_check``: the share of present values of the baseline's type (an Integral
  value is a valid Fractional) is below ``datatype_check_threshold``;
- ``completeness_check``: the share of non-missing values is below the feature's
  ``completeness`` constraint;
- ``categorical_values_check``: the share of values inside ``string_constraints.domains``
  is below ``domain_content_threshold``;
- ``baseline_drift_check``: the distribution distance (see :mod:`.baseline`) is above
  ``comparison_threshold`` (numeric) or ``categorical_comparison_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .baseline import COMPARISON_THRESHOLD, baseline_sample
from .profile import FRACTIONAL, INTEGRAL, STRING, DatasetProfile, FeatureProfile


@dataclass
class Drift:
    """The distance of one feature's current distribution from its baseline."""

    feature: str
    method: str
    distance: float
    threshold: float

    @property
    def drifted(self) -> bool:
        """True when the distance is above the threshold."""
        return self.distance > self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "feature": self.feature,
            "method": self.method,
            "distance": round(self.distance, 6),
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


def violation(feature: str, check: str, description: str) -> dict[str, str]:
    """One entry of ``constraint_violations.json``."""
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def numeric_drift(
    current: FeatureProfile, base_feature: dict[str, Any], edges: list[float]
) -> float:
    """L-infinity distance of the two CDFs at ``edges`` (the baseline's quantiles)."""
    sample = np.sort(baseline_sample(base_feature))
    if not len(sample) or not current.numeric or not edges:
        return 0.0
    points = np.asarray(edges, dtype=float)
    base_cdf = np.searchsorted(sample, points, side="left") / len(sample)
    return float(np.max(np.abs(base_cdf - current.cdf(edges, "drift"))))


def categorical_drift(current: dict[str, int], base_feature: dict[str, Any]) -> float:
    """L-infinity distance between the two category frequency vectors."""
    buckets = base_feature["string_statistics"]["distribution"]["categorical"]["buckets"]
    base = {str(b["value"]): float(b["count"]) for b in buckets}
    base_total = sum(base.values()) or 1.0
    now_total = float(sum(current.values())) or 1.0
    keys = set(base) | set(current)
    if not current:
        return 0.0
    return max(abs(base.get(k, 0.0) / base_total - current.get(k, 0) / now_total) for k in keys)


def evaluate(
    profile: DatasetProfile,
    statistics: dict[str, Any],
    constraints: dict[str, Any],
    edges: dict[str, dict[str, list[float]]],
    *,
    seen: set[str] | None = None,
) -> tuple[list[dict[str, str]], list[Drift]]:
    """All violations and the per-feature drift scores of ``profile``.

    ``seen``: the columns that appeared in the data (default: those with any value).
    """
    config = constraints.get("monitoring_config", {})
    distribution = config.get("distribution_constraints", {})
    compare = distribution.get("perform_comparison", "Enabled") == "Enabled"
    numeric_threshold = float(distribution.get("comparison_threshold", COMPARISON_THRESHOLD))
    category_threshold = float(
        distribution.get("categorical_comparison_threshold", COMPARISON_THRESHOLD)
    )
    type_threshold = float(config.get("datatype_check_threshold", 1.0))
    domain_threshold = float(config.get("domain_content_threshold", 1.0))
    base_features = {f["name"]: f for f in statistics.get("features", [])}
    wanted = {c["name"]: c for c in constraints.get("features", [])}
    violations: list[dict[str, str]] = []
    drifts: list[Drift] = []
    if seen is None:
        seen = {name for name, p in profile.features.items() if p.present}
    if not profile.items:
        return violations, drifts
    for name in wanted:
        if name not in seen:
            violations.append(
                violation(
                    name,
                    "missing_column_check",
                    f"Baseline column '{name}' is missing from the current data.",
                )
            )
    for name in sorted(seen - set(wanted) - set(base_features)):
        violations.append(
            violation(name, "extra_column_check", f"Column '{name}' is not in the baseline.")
        )
    for name, rule in wanted.items():
        current = profile.features.get(name)
        if current is None or name not in seen:
            continue
        kind = rule.get("inferred_type", STRING)
        if current.present:
            share = current.conforming(kind) / current.present
            if share < type_threshold:
                violations.append(
                    violation(
                        name,
                        "data_type_check",
                        f"Data type match requirement is not met. Expected data type: {kind}, "
                        f"Expected match: {type_threshold * 100:g}%. Observed: Only "
                        f"{share * 100:.4g}% of data is {kind}.",
                    )
                )
        total = current.present + current.missing
        completeness = current.present / total if total else 0.0
        wanted_completeness = float(rule.get("completeness", 0.0))
        if completeness < wanted_completeness:
            violations.append(
                violation(
                    name,
                    "completeness_check",
                    f"Data completeness requirement is not met. Expected completeness: "
                    f"{wanted_completeness * 100:.4g}%. Observed: {completeness * 100:.4g}%.",
                )
            )
        domains = rule.get("string_constraints", {}).get("domains")
        counts = category_counts(current)
        if domains and counts:
            inside = sum(c for v, c in counts.items() if v in set(domains))
            share = inside / sum(counts.values())
            if share < domain_threshold:
                unknown = sorted(v for v in counts if v not in set(domains))[:5]
                violations.append(
                    violation(
                        name,
                        "categorical_values_check",
                        f"Data type match requirement is not met. Expected: "
                        f"{domain_threshold * 100:g}% of values in the baseline domain. "
                        f"Observed: {share * 100:.4g}%; unknown values include "
                        f"{', '.join(repr(u) for u in unknown)}.",
                    )
                )
        base = base_features.get(name)
        if not compare or base is None:
            continue
        if "numerical_statistics" in base and kind in (INTEGRAL, FRACTIONAL):
            drift = Drift(
                name,
                "L-infinity distance of CDFs (Kolmogorov-Smirnov)",
                numeric_drift(current, base, edges.get(name, {}).get("drift", [])),
                numeric_threshold,
            )
        elif "string_statistics" in base and domains:
            drift = Drift(
                name,
                "L-infinity distance of category frequencies",
                categorical_drift(counts, base),
                category_threshold,
            )
        else:
            continue
        drifts.append(drift)
        if drift.drifted:
            violations.append(
                violation(
                    name,
                    "baseline_drift_check",
                    f"Baseline drift distance: {drift.distance:.4g} exceeds threshold: "
                    f"{drift.threshold:g} ({drift.method}).",
                )
            )
    return violations, drifts


def category_counts(feature: FeatureProfile) -> dict[str, int]:
    """Category counts of a feature (numbers spelled as text count as categories too)."""
    return feature.category_counts()


__all__ = ["Drift", "evaluate", "violation"]
