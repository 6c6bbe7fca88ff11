"""Baselining: ``statistics.json`` and suggested ``constraints.json`` of a dataset.

The dataset is read in chunks (CSV with a header row, or JSON lines), so a
1,000,000-row training file needs no more memory than a small one. The suggestions
follow Model Monitor's ``constraints.json``; the thresholds are documented here:

- ``completeness``: the baseline's completeness minus ``COMPLETENESS_SLACK`` (sampling
  noise of a few missing values must not alert);
- ``datatype_check_threshold`` / ``domain_content_threshold`` = 1.0: every present
  value must have the baseline's type / be in the baseline's domain;
- ``baseline_drift_check``: numeric features use the L-infinity distance between the two
  empirical CDFs (the Kolmogorov-Smirnov statistic) evaluated at the baseline's
  quantiles, categorical features the L-infinity distance between category
  frequencies; both are flagged above ``comparison_threshold`` = 0.1 (Model Monitor's
  default), method ``Simple``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .profile import DOMAIN_MAX_VALUES, INTEGRAL, STRING, DatasetProfile

CHUNK_ROWS = 50_000
COMPLETENESS_SLACK = 0.05
COMPARISON_THRESHOLD = 0.1
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
# CDF points of the drift distance: the baseline's 1/40 ... 39/40 quantiles.
DRIFT_QUANTILES = tuple(i / 40 for i in range(1, 40))


class BaselineError(ValueError):
    """A dataset or baseline file that cannot be used; the message says why and what to do."""


def read_chunks(
    source: Path, *, dataset_format: str = "csv", header: bool = True
) -> Iterable[pd.DataFrame]:
    """Chunks of a CSV/JSON-lines file, or of every such file under a folder."""
    source = Path(source)
    suffixes = {".csv"} if dataset_format == "csv" else {".json", ".jsonl"}
    files = (
        [source]
        if source.is_file()
        else sorted(p for p in source.rglob("*") if p.suffix in suffixes and p.is_file())
    )
    if not files:
        raise BaselineError(
            f"{source}: no {dataset_format} file found; pass a {dataset_format} file or a "
            "folder of them"
        )
    for path in files:
        if dataset_format == "csv":
            yield from pd.read_csv(
                path,
                chunksize=CHUNK_ROWS,
                dtype=str,
                keep_default_na=False,
                header=0 if header else None,
            )
        else:
            yield from pd.read_json(path, lines=True, chunksize=CHUNK_ROWS, dtype=False)


def profile_dataset(
    chunks: Iterable[pd.DataFrame],
    *,
    exclude: Sequence[str] = (),
    edges: dict[str, dict[str, list[float]]] | None = None,
) -> DatasetProfile:
    """Profile every column of ``chunks`` except ``exclude`` (``edges``: a baseline's)."""
    profile = DatasetProfile(edges=edges)
    dropped = set(exclude)
    for chunk in chunks:
        if not isinstance(chunk.columns[0], str):
            chunk.columns = [f"_c{i}" for i in range(len(chunk.columns))]
        keep = [c for c in chunk.columns if c not in dropped]
        profile.add_frame(chunk[keep])
    if profile.items == 0:
        raise BaselineError("the baseline dataset has no rows; baseline a non-empty dataset")
    return profile


def suggest_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """Model Monitor's ``constraints.json`` suggested from a ``statistics.json``."""
    features = []
    for feature in statistics["features"]:
        kind = feature["inferred_type"]
        block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = block.get("common", {})
        present = common.get("num_present", 0)
        total = present + common.get("num_missing", 0)
        completeness = present / total if total else 0.0
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": kind,
            "completeness": round(max(0.0, completeness - COMPLETENESS_SLACK), 6),
        }
        if "numerical_statistics" in feature:
            entry["num_constraints"] = {"is_non_negative": block.get("min", 0) >= 0}
        elif kind == STRING:
            buckets = block.get("distribution", {}).get("categorical", {}).get("buckets", [])
            if 0 < len(buckets) <= DOMAIN_MAX_VALUES:
                entry["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
        features.append(entry)
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": COMPARISON_THRESHOLD,
                "comparison_method": "Simple",
                "categorical_comparison_threshold": COMPARISON_THRESHOLD,
                "categorical_drift_method": "LInfinity",
            },
        },
    }


def baseline(
    source: Path,
    output: Path,
    *,
    dataset_format: str = "csv",
    header: bool = True,
    exclude: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write ``statistics.json`` and ``constraints.json`` of ``source`` into ``output``."""
    profile = profile_dataset(
        read_chunks(source, dataset_format=dataset_format, header=header), exclude=exclude
    )
    statistics = profile.to_statistics()
    constraints = suggest_constraints(statistics)
    write_json(Path(output) / STATISTICS_FILE, statistics)
    write_json(Path(output) / CONSTRAINTS_FILE, constraints)
    return statistics, constraints


def write_json(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)
    return path


def read_json(path: Path, what: str) -> dict[str, Any]:
    """Read a baseline file; one-line errors name the file and the fix."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BaselineError(f"{path}: no {what} file; run the baseline step first") from None
    except (OSError, ValueError) as err:
        raise BaselineError(f"{path}: not a readable {what} JSON ({err}); re-create it") from None
    if not isinstance(document, dict):
        raise BaselineError(f"{path}: a {what} file must be a JSON object")
    return document


def feature_edges(statistics: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per numeric baseline feature: its bucket edges and its drift (quantile) edges."""
    edges: dict[str, dict[str, list[float]]] = {}
    for feature in statistics.get("features", []):
        numeric = feature.get("numerical_statistics")
        if not numeric:
            continue
        kll = numeric.get("distribution", {}).get("kll", {})
        buckets = kll.get("buckets", [])
        bucket_edges = [b["lower_bound"] for b in buckets] + (
            [buckets[-1]["upper_bound"]] if buckets else []
        )
        sample = [v for level in kll.get("sketch", {}).get("data", []) for v in level]
        drift = sorted(set(np.quantile(sample, DRIFT_QUANTILES).tolist())) if sample else []
        edges[feature["name"]] = {"buckets": bucket_edges, "drift": drift}
    return edges


def baseline_sample(feature: dict[str, Any]) -> np.ndarray:
    """The sketch values of a numeric baseline feature."""
    kll = feature["numerical_statistics"].get("distribution", {}).get("kll", {})
    return np.asarray(
        [v for level in kll.get("sketch", {}).get("data", []) for v in level], dtype=float
    )


__all__ = [
    "CONSTRAINTS_FILE",
    "INTEGRAL",
    "STATISTICS_FILE",
    "VIOLATIONS_FILE",
    "BaselineError",
    "baseline",
    "feature_edges",
    "suggest_constraints",
]
