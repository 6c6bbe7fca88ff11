"""Kedro nodes that call the generated project's own step functions.

``paths`` holds the project package's name and the folders (raw data, work folder), so the
ML work is exactly the project's; only the orchestration is Kedro's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


def _function(paths: dict[str, str], module: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{paths['package']}.{module}"), name)


def preprocess(paths: dict[str, str], args: dict[str, Any]) -> dict[str, int]:
    """Clean and split the raw export into ``work/train``, ``work/test`` (and the SHAP sample)."""
    work = Path(paths["work"])
    run = _function(paths, "steps.preprocess", "preprocess")
    return run(
        raw=Path(paths["raw"]),
        train=work / "train",
        test=work / "test",
        explain_sample=work / "explain_sample",
        **args,
    )


def quality(paths: dict[str, str], counts: dict[str, int]) -> bool:
    """The great-expectations gate; it raises when an expectation fails."""
    work = Path(paths["work"])
    gate = _function(paths, "quality.gate", "check_data_quality")
    report = gate(
        raw=Path(paths["raw"]), train=work / "train", test=work / "test", report=work / "quality"
    )
    return bool(report.success)


def train(paths: dict[str, str], args: dict[str, Any], quality_passed: bool) -> str:
    """Fit the model on ``work/train`` into ``work/model``."""
    work = Path(paths["work"])
    fit = _function(paths, "steps.train", "train_model")
    return str(fit(train=work / "train", model_dir=work / "model", **args))


def evaluate(paths: dict[str, str], model_file: str) -> dict[str, Any]:
    """Score the model on ``work/test``; the report is the evaluation JSON."""
    work = Path(paths["work"])
    score = _function(paths, "steps.evaluate", "evaluate_model")
    report = score(
        model=work / "model",
        test=work / "test",
        evaluation=work / "evaluation",
        predictions=work / "predictions",
    )
    return dict(report)


def baselines(paths: dict[str, str], evaluation: dict[str, Any]) -> dict[str, str]:
    """The pipeline's five baseline checks, with the project's configs (peer_baselines.py)."""
    from bench_kedro.peer_baselines import compute_baselines  # copied here by the harness

    return compute_baselines(paths["package"], Path(paths["work"]))


def condition(evaluation: dict[str, Any], threshold: float) -> float:
    """The pipeline's accuracy condition: fail below the threshold."""
    accuracy = float(evaluation["binary_classification_metrics"]["accuracy"]["value"])
    if accuracy < threshold:
        raise ValueError(f"accuracy {accuracy} is below the threshold {threshold}")
    return accuracy
