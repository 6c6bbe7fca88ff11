"""The generated project's pipeline as a ZenML pipeline (benchmark peer).

Usage: ``python zenml_pipeline.py CONFIG.json [--cache]``. ``CONFIG.json`` names the project
package, the raw data folder, an empty work folder, the steps' arguments and the accuracy
threshold. Without ``--cache`` every step runs (a cold run); with it, ZenML reuses the
results of an earlier run with the same inputs (the cached re-run). The steps call the
project's own step functions, so the ML work is exactly the project's.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from zenml import pipeline, step


def _function(package: str, module: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{package}.{module}"), name)


@step
def preprocess(package: str, raw: str, work: str, args: dict[str, Any]) -> dict[str, int]:
    """Clean and split the raw export into ``work/train`` and ``work/test``."""
    run = _function(package, "steps.preprocess", "preprocess")
    counts = run(
        raw=Path(raw),
        train=Path(work, "train"),
        test=Path(work, "test"),
        explain_sample=Path(work, "explain_sample"),
        **args,
    )
    return dict(counts)


@step
def quality(package: str, raw: str, work: str, counts: dict[str, int]) -> bool:
    """The great-expectations gate; it raises when an expectation fails."""
    gate = _function(package, "quality.gate", "check_data_quality")
    report = gate(
        raw=Path(raw),
        train=Path(work, "train"),
        test=Path(work, "test"),
        report=Path(work, "quality"),
    )
    return bool(report.success)


@step
def train(package: str, work: str, args: dict[str, Any], quality_passed: bool) -> str:
    """Fit the model on ``work/train`` into ``work/model``."""
    fit = _function(package, "steps.train", "train_model")
    return str(fit(train=Path(work, "train"), model_dir=Path(work, "model"), **args))


@step
def evaluate(package: str, work: str, model_file: str) -> dict[str, Any]:
    """Score the model on ``work/test``; the report is the evaluation JSON."""
    score = _function(package, "steps.evaluate", "evaluate_model")
    report = score(
        model=Path(work, "model"),
        test=Path(work, "test"),
        evaluation=Path(work, "evaluation"),
        predictions=Path(work, "predictions"),
    )
    return dict(report)


@step
def baselines(package: str, work: str, evaluation: dict[str, Any]) -> dict[str, str]:
    """The pipeline's five baseline checks, with the project's configs (peer_baselines.py)."""
    from peer_baselines import compute_baselines  # copied beside this script by the harness

    return compute_baselines(package, Path(work))


@step
def condition(evaluation: dict[str, Any], threshold: float) -> float:
    """The pipeline's accuracy condition: fail below the threshold."""
    accuracy = float(evaluation["binary_classification_metrics"]["accuracy"]["value"])
    if accuracy < threshold:
        raise ValueError(f"accuracy {accuracy} is below the threshold {threshold}")
    return accuracy


@pipeline
def churn_pipeline(config: dict[str, Any]) -> None:
    """Same five steps, same order, each consuming the previous one's result, and the
    pipeline's baseline checks after evaluate."""
    package, raw, work = config["package"], config["raw"], config["work"]
    counts = preprocess(package, raw, work, config["preprocess"])
    passed = quality(package, raw, work, counts)
    model_file = train(package, work, config["train"], passed)
    evaluation = evaluate(package, work, model_file)
    baselines(package, work, evaluation)
    condition(evaluation, config["threshold"])


if __name__ == "__main__":
    settings = json.loads(Path(sys.argv[1]).read_text())
    churn_pipeline.with_options(enable_cache="--cache" in sys.argv[2:])(config=settings)
