"""Run a Clarify ``analysis_config.json`` on a dataset: bias metrics, SHAP, ``analysis.json``.

The config is the one the SageMaker SDK writes for ``ClarifyCheckStep`` and
``SageMakerClarifyProcessor``: ``dataset_type`` (``text/csv``), ``headers``, ``label``
(a column name or index), ``label_values_or_threshold``, ``facet`` (list of
``name_or_index`` / ``value_or_threshold``), ``group_variable``, ``excluded_columns``,
``probability_threshold``, ``predictor`` (``label`` / ``probability`` output indexes)
and ``methods`` (``pre_training_bias``, ``post_training_bias``, ``shap``, ``report``).
The model is a callable: rows of features in, one row of outputs per input row out (the
caller wraps a local endpoint of the model, see :mod:`sagepipe.clarify.endpoint`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import bias
from .shap import default_baseline, kernel_shap

Model = Callable[[np.ndarray], np.ndarray]
ANALYSIS_FILE = "analysis.json"
LOCAL_SHAP_FILE = "explanations_shap/out.csv"
# smclarify: an integer column with at least this share of distinct values is continuous.
UNIQUENESS_THRESHOLD = 0.05


class ConfigError(ValueError):
    """The analysis config does not fit the dataset (one line naming the value and fix)."""


@dataclass(frozen=True)
class Dataset:
    """The table, its label column name and the model's feature column names."""

    frame: pd.DataFrame
    label: str | None
    features: list[str]


def _column(frame: pd.DataFrame, key: Any, what: str) -> str:
    """The column a name or an index designates, refused in one line if absent."""
    columns = [str(c) for c in frame.columns]
    if isinstance(key, int) and not isinstance(key, bool):
        if not 0 <= key < len(columns):
            raise ConfigError(f"{what} index {key} is outside the dataset's {len(columns)} columns")
        return columns[key]
    if str(key) not in columns:
        raise ConfigError(
            f"{what} column {key!r} is not in the dataset (columns: {', '.join(columns)}); "
            "fix the name in the check's config"
        )
    return str(key)


def read_dataset(path: Path, config: Mapping[str, Any]) -> Dataset:
    """Read the CSV file(s) at ``path`` with the config's headers and label."""
    kind = str(config.get("dataset_type", "text/csv"))
    if kind != "text/csv":
        raise ConfigError(f"dataset_type {kind!r} is not supported locally; use text/csv")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise ConfigError(f"no dataset file under {path}")
    label = config.get("label")
    headers = config.get("headers")
    # A label given by index (the SDK example's label=0) means a headerless file, as the
    # XGBoost algorithm reads; a label given by name needs the header row.
    has_header = label is not None and not isinstance(label, int)
    parts = [pd.read_csv(f, header=0 if has_header else None) for f in files]
    frame = pd.concat(parts, ignore_index=True)
    if headers:
        if len(headers) != frame.shape[1]:
            raise ConfigError(
                f"headers has {len(headers)} names but the dataset has {frame.shape[1]} columns"
            )
        frame.columns = [str(h) for h in headers]
    else:
        frame.columns = [str(c) for c in frame.columns]
    label_name = _column(frame, label, "label") if label is not None else None
    excluded = {_column(frame, c, "excluded") for c in config.get("excluded_columns") or []}
    features = [c for c in frame.columns if c != label_name and c not in excluded]
    return Dataset(frame, label_name, features)


def _continuous(series: pd.Series) -> bool:
    if pd.api.types.is_float_dtype(series):
        return True
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.nunique() / max(series.count(), 1) >= UNIQUENESS_THRESHOLD
    return False


def _matches(
    series: pd.Series, values: Sequence[Any], what: str, *, required: bool = True
) -> tuple[np.ndarray, str]:
    """Rows matching ``values`` (membership), or above a single numeric threshold.

    ``required``: refuse values no row has (a typo in the config); predictions may
    legitimately never be positive, so they pass ``required=False``.
    """
    if len(values) == 1 and _continuous(series) and isinstance(values[0], (int, float)):
        return (series.to_numpy(dtype=float) > float(values[0])), str(values[0])
    text = series.astype(str).to_numpy()
    wanted = {str(v) for v in values}
    # 1.0 in the config and 1 in the data are the same value.
    for v in values:
        if isinstance(v, float) and v.is_integer():
            wanted.add(str(int(v)))
    mask = np.isin(text, list(wanted))
    if required and not mask.any():
        present = ", ".join(sorted(set(text.tolist()))[:10])
        raise ConfigError(
            f"{what} value(s) {list(values)} not present in column {series.name!r} "
            f"(values: {present}); fix {what}_values_or_threshold"
        )
    return mask, ",".join(str(v) for v in values)


def _model_outputs(model: Model, rows: np.ndarray) -> np.ndarray:
    out = np.asarray(model(rows))
    if out.ndim == 1:
        out = out.reshape(-1, 1)
    if len(out) != len(rows):
        raise ValueError(f"the model returned {len(out)} rows for {len(rows)} inputs")
    return out


def _predicted_labels(
    config: Mapping[str, Any], outputs: np.ndarray, label_series: pd.Series, values: list[Any]
) -> np.ndarray:
    """Positive predicted labels from the model's outputs, as ``predictor`` locates them."""
    predictor = config.get("predictor") or {}
    if predictor.get("label") is not None:
        column = outputs[:, int(predictor["label"])]
    elif predictor.get("probability") is not None:
        threshold = float(config.get("probability_threshold", 0.5))
        return np.asarray(outputs[:, int(predictor["probability"])], dtype=float) > threshold
    else:
        column = outputs[:, 0]
    series = pd.Series(column, name=label_series.name)
    if _continuous(label_series):
        series = series.astype(float)
    mask, _ = _matches(series, values, "label", required=False)
    return np.asarray(mask, dtype=bool)


def _scores(config: Mapping[str, Any], outputs: np.ndarray) -> np.ndarray:
    """The score SHAP explains: ``predictor.probability``, else ``label`` (the SDK's
    ``model_scores``), else the only output."""
    predictor = config.get("predictor") or {}
    index = predictor.get("probability")
    if index is None:
        index = predictor.get("label")
    if index is None:
        if outputs.shape[1] != 1:
            raise ConfigError(
                f"the model returns {outputs.shape[1]} values per row; set model_scores to "
                "the index of the score to explain"
            )
        index = 0
    return np.asarray(outputs[:, int(index)], dtype=float)


def _numeric_features(data: Dataset, facet: str) -> np.ndarray | None:
    columns = [
        c for c in data.features if c != facet and pd.api.types.is_numeric_dtype(data.frame[c])
    ]
    if not columns:
        return None
    return data.frame[columns].to_numpy(dtype=float)


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse a config whose values cannot work, before any data is read."""
    methods = config.get("methods") or {}
    shap = methods.get("shap")
    if shap is not None:
        samples = shap.get("num_samples")
        if samples is not None and (not isinstance(samples, int) or samples <= 0):
            raise ConfigError(f"shap num_samples={samples!r} must be a positive integer")
    if ("pre_training_bias" in methods or "post_training_bias" in methods) and not config.get(
        "facet"
    ):
        raise ConfigError("bias methods need a facet: set facet_name in the bias config")
    if ("pre_training_bias" in methods or "post_training_bias" in methods) and config.get(
        "label_values_or_threshold"
    ) is None:
        raise ConfigError("bias methods need label_values_or_threshold (the positive label)")


def analyse(config: Mapping[str, Any], data: Dataset, model: Model | None = None) -> dict[str, Any]:
    """Compute ``analysis.json`` for ``config`` on ``data`` (``model`` for post-training/SHAP)."""
    check_config(config)
    methods = config.get("methods") or {}
    result: dict[str, Any] = {"version": "1.0"}
    needs_model = "post_training_bias" in methods or "shap" in methods
    if needs_model and model is None:
        raise ConfigError("post-training bias and SHAP need the model (ModelName)")
    rows = data.frame[data.features].to_numpy(dtype=object)
    outputs = _model_outputs(model, rows) if needs_model and model is not None else None
    if "pre_training_bias" in methods or "post_training_bias" in methods:
        if data.label is None:
            raise ConfigError("bias methods need the label column: set label in the data config")
        label_series = data.frame[data.label]
        label_values = list(config["label_values_or_threshold"])
        positive, label_text = _matches(label_series, label_values, "label")
        predicted = (
            _predicted_labels(config, outputs, label_series, label_values)
            if outputs is not None and "post_training_bias" in methods
            else None
        )
        group_key = config.get("group_variable")
        group = (
            data.frame[_column(data.frame, group_key, "group_variable")].astype(str).to_numpy()
            if group_key is not None
            else None
        )
        sections = {
            "pre_training_bias": ("pre_training_bias_metrics", bias.PRE_TRAINING),
            "post_training_bias": ("post_training_bias_metrics", bias.POST_TRAINING),
        }
        for method, (key, available) in sections.items():
            if method not in methods:
                continue
            names = bias.select((methods[method] or {}).get("methods", "all"), available)
            facets: dict[str, list[dict[str, Any]]] = {}
            for facet in config["facet"]:
                name = _column(data.frame, facet.get("name_or_index"), "facet")
                series = data.frame[name]
                wanted = facet.get("value_or_threshold")
                splits = (
                    [[v] for v in sorted(series.astype(str).unique())]
                    if not wanted
                    else [list(wanted)]
                )
                for values in splits:
                    mask, text = _matches(series, values, "facet")
                    try:
                        groups = bias.Groups(
                            facet=mask,
                            label=positive,
                            predicted=predicted,
                            group=group,
                            features=_numeric_features(data, name),
                        )
                    except bias.MetricError as err:
                        raise ConfigError(f"facet {name!r} = {text}: {err}") from None
                    facets.setdefault(name, []).append(
                        {"value_or_threshold": text, "metrics": bias.report(names, groups)}
                    )
            result[key] = {
                "label": data.label,
                "facets": facets,
                "label_value_or_threshold": label_text,
            }
    if "shap" in methods and model is not None and outputs is not None:
        result["explanations"] = _explain(config, data, model, rows, outputs)
    return result


def _explain(
    config: Mapping[str, Any],
    data: Dataset,
    model: Model,
    rows: np.ndarray,
    outputs: np.ndarray,
) -> dict[str, Any]:
    shap_config = (config.get("methods") or {})["shap"] or {}
    baseline_value = shap_config.get("baseline")
    if isinstance(baseline_value, list) and baseline_value:
        baseline = np.array(baseline_value, dtype=object)
    else:
        baseline = default_baseline(rows)
    _scores(config, outputs)  # refuse an ambiguous score before the long computation

    def score(batch: np.ndarray) -> np.ndarray:
        return _scores(config, _model_outputs(model, batch))

    attributions = kernel_shap(
        score,
        rows,
        baseline,
        num_samples=shap_config.get("num_samples"),
        seed=shap_config.get("seed"),
    )
    overall = attributions.global_mean_abs()
    label_name = "label0"
    return {
        "kernel_shap": {
            label_name: {
                "global_shap_values": {
                    f: float(v) for f, v in zip(data.features, overall, strict=True)
                },
                "expected_value": attributions.expected_value,
            }
        },
        # Ours, not in Clarify's file: what the local values need to be read back.
        "_local": {"features": data.features, "values": attributions.values.tolist()},
    }


def write(result: dict[str, Any], out_dir: Path, config: Mapping[str, Any]) -> Path:
    """Write ``analysis.json`` (+ local SHAP values and the HTML report) into ``out_dir``."""
    from .report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    local = (result.get("explanations") or {}).pop("_local", None)
    if local is not None:
        shap_config = ((config.get("methods") or {}).get("shap")) or {}
        if shap_config.get("save_local_shap_values", True):
            target = out_dir / LOCAL_SHAP_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(local["features"])
            writer.writerows([[f"{v:.10g}" for v in row] for row in local["values"]])
            target.write_text(buffer.getvalue())
    path = out_dir / ANALYSIS_FILE
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    report = (config.get("methods") or {}).get("report") or {}
    if report or local is not None or result.get("pre_training_bias_metrics"):
        name = str(report.get("name", "report"))
        title = str(report.get("title", "Analysis Report"))
        (out_dir / f"{name}.html").write_text(render_html(result, title))
    return path
