"""Evaluate: score the trained model on the test set and write ``evaluation.json``.

The file follows SageMaker's model-quality layout for binary classification
(``binary_classification_metrics`` -> metric -> ``value`` / ``standard_deviation``), so
the condition step reads ``binary_classification_metrics.accuracy.value`` and the model
registry shows the same numbers as SageMaker Studio would. With a ``predictions`` folder it
also writes ``predictions.csv`` (``prediction,probability,label`` per test row), the table
the pipeline's model-quality baseline is computed from, so no batch-transform step has to
score the test set a second time.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import data
from ..errors import InputDataError
from .preprocess import TEST_FILE
from .train import MODEL_FILE, features, thread_limit

EVALUATION_FILE = "evaluation.json"
PREDICTIONS_FILE = "predictions.csv"
# predictions.csv's columns: Model Monitor's inference, probability and ground-truth attributes.
PREDICTION, PROBABILITY, LABEL = "prediction", "probability", "label"
METRICS_KEY = "binary_classification_metrics"
# SageMaker Model Monitor reports a standard deviation only from 200 samples on, computed
# over five random 80% subsamples; we do the same so the numbers mean the same thing.
_MIN_ROWS_FOR_STD = 200
_SUBSAMPLES = 5


def load_model(model: Path) -> Any:
    """Load the fitted pipeline from a folder holding ``model.tar.gz`` or ``model.joblib``."""
    model = Path(model)
    if (model / MODEL_FILE).is_file():
        return joblib.load(model / MODEL_FILE)
    archive = model / "model.tar.gz" if model.is_dir() else model
    if not archive.is_file():
        raise InputDataError(
            f"{model}: holds neither model.tar.gz nor {MODEL_FILE}; run the training step first"
        )
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive) as tar:
        member = tar.getmember(MODEL_FILE)
        extracted = tar.extractfile(member)
        if extracted is None:
            raise InputDataError(f"{archive}: {MODEL_FILE} is not a regular file")
        target = Path(scratch) / MODEL_FILE
        target.write_bytes(extracted.read())
        return joblib.load(target)


def _scores(truth: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    # Imported here, like train.py's: compiling imports this module and never scores.
    from sklearn import metrics as skm

    predicted = (probability >= 0.5).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    positives, negatives = tp + fn, tn + fp
    both_classes = len(np.unique(truth)) == 2
    return {
        "accuracy": skm.accuracy_score(truth, predicted),
        "precision": skm.precision_score(truth, predicted, zero_division=0),
        "recall": skm.recall_score(truth, predicted, zero_division=0),
        "f0_5": skm.fbeta_score(truth, predicted, beta=0.5, zero_division=0),
        "f1": skm.f1_score(truth, predicted, zero_division=0),
        "f2": skm.fbeta_score(truth, predicted, beta=2.0, zero_division=0),
        "auc": skm.roc_auc_score(truth, probability) if both_classes else float("nan"),
        "true_positive_rate": tp / positives if positives else float("nan"),
        "true_negative_rate": tn / negatives if negatives else float("nan"),
        "false_positive_rate": fp / negatives if negatives else float("nan"),
        "false_negative_rate": fn / positives if positives else float("nan"),
    }


def _json_number(value: float) -> float | str:
    # JSON has no NaN; SageMaker writes the string "NaN", and so do we.
    return "NaN" if value != value else round(float(value), 6)


def binary_classification_metrics(
    truth: np.ndarray, probability: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """Return SageMaker's ``binary_classification_metrics`` block for these predictions."""
    truth = np.asarray(truth).astype(int)
    probability = np.asarray(probability, dtype=float)
    scores = _scores(truth, probability)
    spread: dict[str, float] = {name: float("nan") for name in scores}
    if len(truth) >= _MIN_ROWS_FOR_STD:
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(_SUBSAMPLES):
            pick = rng.choice(len(truth), size=int(0.8 * len(truth)), replace=False)
            samples.append(_scores(truth[pick], probability[pick]))
        spread = {name: float(np.std([sample[name] for sample in samples])) for name in scores}
    from sklearn import metrics as skm

    predicted = (probability >= 0.5).astype(int)
    matrix = skm.confusion_matrix(truth, predicted, labels=[0, 1])
    majority = int(np.mean(truth) >= 0.5)
    block: dict[str, Any] = {
        "confusion_matrix": {
            str(actual): {str(guess): int(matrix[actual, guess]) for guess in (0, 1)}
            for actual in (0, 1)
        },
    }
    for name, value in scores.items():
        block[name] = {
            "value": _json_number(value),
            "standard_deviation": _json_number(spread[name]),
        }
    block["accuracy_best_constant_classifier"] = {
        "value": _json_number(float(np.mean(truth == majority))),
        "standard_deviation": "NaN",
    }
    return block


def evaluate_model(
    model: Path, test: Path, evaluation: Path, predictions: Path | None = None
) -> dict[str, Any]:
    """Score the model in ``model`` on ``test/test.csv``; write ``evaluation/evaluation.json``.

    With ``predictions``, also write ``predictions/predictions.csv``: each test row's
    predicted label (probability >= 0.5, as the metrics use), probability and true label.
    Returns the written report.
    """
    test_file = Path(test) / TEST_FILE
    if not test_file.is_file():
        raise InputDataError(f"{test_file}: not found; run the preprocess step first")
    frame: pd.DataFrame = data.load_csv(test_file)
    fitted = load_model(model)
    with threadpool_limits(limits=thread_limit(len(frame))):
        probability = fitted.predict_proba(features(frame))[:, 1]
    truth = frame[data.TARGET].to_numpy()
    report = {METRICS_KEY: binary_classification_metrics(truth, probability)}
    Path(evaluation).mkdir(parents=True, exist_ok=True)
    (Path(evaluation) / EVALUATION_FILE).write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n"
    )
    if predictions is not None:
        Path(predictions).mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame(
            {
                PREDICTION: (probability >= 0.5).astype(int),
                PROBABILITY: np.round(probability, 6),
                LABEL: truth.astype(int),
            }
        )
        table.to_csv(Path(predictions) / PREDICTIONS_FILE, index=False)
    return report
