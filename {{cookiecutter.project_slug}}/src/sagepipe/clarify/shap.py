"""SHAP feature attributions: exact Shapley values, or Kernel SHAP on sampled coalitions.

The value of a coalition S for an instance x is the model's mean prediction over the
baseline rows with the features in S replaced by x's (interventional SHAP, what Clarify's
kernel SHAP computes). With ``num_samples`` at least the number of proper coalitions
(2**M - 2) every coalition is enumerated and the result is the exact Shapley value;
otherwise coalitions are drawn with the Shapley kernel's size distribution and the
attributions solve the kernel's weighted least squares. Both are constrained so the
attributions of a row add up to its prediction minus the expected value (the baseline's
mean prediction), the "efficiency" property Clarify reports too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
MAX_EXACT_FEATURES = 16  # 2**16 coalitions per row: past that sampling is the only option
# Synthetic rows per model call. A tree ensemble pays a fixed cost per call and tree, so one
# call per explained row (64 coalitions) spent 30x longer in that overhead than in
# predicting; a few thousand rows per call keeps memory small (object arrays) and amortises it.
SYNTHETIC_ROWS_PER_CALL = 8192


@dataclass(frozen=True)
class Attributions:
    """Local SHAP values (rows x features), the expected value and the predictions."""

    values: np.ndarray
    expected_value: float
    predictions: np.ndarray

    def global_mean_abs(self) -> np.ndarray:
        """Clarify's global SHAP value: the mean absolute attribution of each feature."""
        return np.asarray(np.mean(np.abs(self.values), axis=0), dtype=float)


def _coalitions(
    m: int, num_samples: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """Boolean coalitions (rows) without the empty and the full one; True if all of them."""
    proper = 2**m - 2
    if m <= MAX_EXACT_FEATURES and (num_samples is None or num_samples >= proper):
        every = [c for c in itertools.product((False, True), repeat=m) if 0 < sum(c) < m]
        return np.array(every, dtype=bool).reshape(-1, m), True
    if num_samples is None:
        num_samples = 2 * m + 2048  # Kernel SHAP's usual default when too many to enumerate
    sizes = np.arange(1, m)
    kernel = (m - 1) / (sizes * (m - sizes))
    drawn = rng.choice(sizes, size=num_samples, p=kernel / kernel.sum())
    masks = np.zeros((num_samples, m), dtype=bool)
    for row, size in enumerate(drawn):
        masks[row, rng.choice(m, size=int(size), replace=False)] = True
    return masks, False


def _weights(masks: np.ndarray, exact: bool) -> np.ndarray:
    m = masks.shape[1]
    if not exact:
        return np.ones(len(masks))  # sampled by the kernel already: equal weights
    sizes = masks.sum(axis=1)
    return np.array([(m - 1) / (math.comb(m, int(s)) * s * (m - s)) for s in sizes])


def kernel_shap(
    predict: Predict,
    rows: np.ndarray,
    baseline: np.ndarray,
    *,
    num_samples: int | None = None,
    seed: int | None = None,
) -> Attributions:
    """SHAP values of ``predict`` (rows of features -> one score each) for ``rows``."""
    rows = np.asarray(rows, dtype=object)
    baseline = np.asarray(baseline, dtype=object)
    n, m = rows.shape
    if baseline.ndim != 2 or baseline.shape[1] != m:
        raise ValueError(
            f"SHAP baseline has shape {baseline.shape}; it needs {m} columns like the data"
        )
    if num_samples is not None and num_samples <= 0:
        raise ValueError(f"SHAP num_samples={num_samples} must be a positive integer")
    rng = np.random.default_rng(seed)
    expected = float(np.mean(predict(baseline)))
    predictions = np.asarray(predict(rows), dtype=float).reshape(-1)
    values = np.zeros((n, m))
    if m == 1:
        values[:, 0] = predictions - expected
        return Attributions(values, expected, predictions)
    masks, exact = _coalitions(m, num_samples, rng)
    weights = _weights(masks, exact)
    scores = _coalition_scores(predict, rows, baseline, masks)
    for i in range(n):
        v = scores[i]
        delta = predictions[i] - expected
        # Efficiency as a constraint: phi_last = delta - sum(others), substituted in.
        z = masks.astype(float)
        design = z[:, :-1] - z[:, -1:]
        target = v - expected - z[:, -1] * delta
        root = np.sqrt(weights)
        solution, *_ = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)
        values[i, :-1] = solution
        values[i, -1] = delta - solution.sum()
    return Attributions(values, expected, predictions)


def _coalition_scores(
    predict: Predict, rows: np.ndarray, baseline: np.ndarray, masks: np.ndarray
) -> np.ndarray:
    """Mean score over the baseline of every (row, coalition): rows x coalitions.

    A coalition's synthetic row is the baseline row with the coalition's features taken
    from the explained row; rows are batched so each model call holds many of them.
    """
    n, m = rows.shape
    per_row = len(masks) * len(baseline)
    chunk = max(1, SYNTHETIC_ROWS_PER_CALL // per_row)
    scores = np.empty((n, len(masks)))
    for start in range(0, n, chunk):
        explained = rows[start : start + chunk]
        # (rows, coalitions, baseline rows, features): the row's value where the mask is set
        synthetic = np.where(
            masks[np.newaxis, :, np.newaxis, :],
            explained[:, np.newaxis, np.newaxis, :],
            baseline[np.newaxis, np.newaxis, :, :],
        )
        predicted = np.asarray(predict(synthetic.reshape(-1, m)), dtype=float)
        scores[start : start + len(explained)] = predicted.reshape(
            len(explained), len(masks), len(baseline)
        ).mean(axis=2)
    return scores


def default_baseline(rows: np.ndarray) -> np.ndarray:
    """One baseline row: the mean of numeric columns, the most frequent value of others.

    Clarify computes a K-means (K-prototypes) summary when no baseline is given; one
    mean/mode row is the K=1 case and keeps the number of model calls small.
    """
    rows = np.asarray(rows, dtype=object)
    out = []
    for column in rows.T:
        try:
            out.append(float(np.mean(column.astype(float))))
        except (TypeError, ValueError):
            values, counts = np.unique(column.astype(str), return_counts=True)
            out.append(values[int(np.argmax(counts))])
    return np.array([out], dtype=object)
