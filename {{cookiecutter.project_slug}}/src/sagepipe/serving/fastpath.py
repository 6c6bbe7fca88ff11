"""The single-row fast path: a fitted scikit-learn pipeline compiled into plain Python.

scikit-learn validates its input on every call, which costs milliseconds per estimator
whatever the row count, while an online request holds one row. :func:`compile_pipeline`
turns a fitted pipeline of the shape below into a ``row -> probability`` function over
plain Python lists (about 0.1 ms a row) and returns it only after checking, on probe rows
that visit every category, unknown and missing values and a range of numbers, that it
gives ``predict_proba``'s probabilities bit for bit. Any other model gives ``None``: the
caller then serves every request with ``predict_proba``.

Supported: ``Pipeline([ColumnTransformer(...), HistGradientBoostingClassifier])`` (binary,
numeric splits) whose column blocks are a ``SimpleImputer`` (numbers) or a
``SimpleImputer(strategy="constant")`` followed by ``OneHotEncoder(handle_unknown="ignore")``
without ``drop`` or infrequent categories (categories).

The compiler reads fitted attributes scikit-learn keeps private (the boosted trees'
``_predictors`` and ``_baseline_prediction``); that is why it lives here, in the engine,
behind a check against ``predict_proba``, and not in a handler a data scientist edits.
A scikit-learn release that changes them makes the check fail and serving fall back to
``predict_proba``, never give a different answer.

Serving handlers import this module inside SageMaker's scikit-learn image too (Python 3.9,
scikit-learn 1.2), so it uses nothing newer than that and imports only numpy at import
time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# A row in the pipeline's feature order: floats (NaN when missing) for numeric features,
# text or None (missing) for categorical ones.
Row = Sequence[Any]
Predictor = Callable[[Row], float]
PROBE_ROWS = 24


def compile_pipeline(pipeline: Any, features: Sequence[str]) -> Predictor | None:
    """Return ``row -> probability of class 1`` equal to ``predict_proba``, or None.

    ``features`` are the columns ``pipeline`` was fitted on, in the order of the rows the
    returned function takes. None means this pipeline is not one the compiler knows (or
    the compiled form disagreed with ``predict_proba`` on a probe row).
    """
    features = list(features)
    try:
        predict, categories = _compile(pipeline, features)
        probes = probe_rows(features, categories)
        expected = predict_proba(pipeline, probes, features, list(categories))
        if all(predict(row) == want for row, want in _zip_exact(probes, expected.tolist())):
            return predict
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        pass  # another model design: predict_proba serves it
    return None


def predict_proba(
    pipeline: Any, rows: Sequence[Row], features: Sequence[str], categorical: Sequence[str]
) -> np.ndarray:
    """Probability of class 1 from ``pipeline.predict_proba`` on a frame of typed rows.

    Categorical columns become object columns with None for missing values (what
    ``SimpleImputer`` expects for text). Rows are assumed checked (finite numbers, the
    right width), so scikit-learn is told to skip re-checking them where it can.
    """
    import pandas as pd
    import sklearn

    frame = pd.DataFrame([list(row) for row in rows], columns=list(features))
    for name in categorical:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    options = {"assume_finite": True}
    if "skip_parameter_validation" in sklearn.get_config():  # scikit-learn >= 1.3
        options["skip_parameter_validation"] = True
    with sklearn.config_context(**options):
        return np.asarray(pipeline.predict_proba(frame)[:, 1], dtype=float)


def probe_rows(features: Sequence[str], categories: dict[str, list[str]]) -> list[list[Any]]:
    """Rows that visit every category, unknown and missing values, and a range of numbers.

    ``categories`` maps each categorical feature to its known categories; the others are
    numeric.
    """
    rng = np.random.default_rng(0)
    rows = []
    for i in range(PROBE_ROWS):
        row: list[Any] = []
        for name in features:
            if name in categories:
                options = [*categories[name], "never-seen", None]
                row.append(options[i % len(options)])
            else:
                row.append(math.nan if i % 7 == 3 else float(rng.normal(0, 1) * 10 ** (i % 4)))
        rows.append(row)
    return rows


def _compile(pipeline: Any, features: list[str]) -> tuple[Predictor, dict[str, list[str]]]:
    """The compiled predictor and the known categories of each categorical feature."""
    from scipy.special import expit

    columns, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
    if len(pipeline.steps) != 2 or type(classifier).__name__ != "HistGradientBoostingClassifier":
        raise TypeError("not a column transformer followed by gradient boosting")
    if list(classifier.classes_) != [0, 1] or columns.remainder != "drop":
        raise TypeError("not a binary classifier on the listed columns")
    # One encoder per output column block, in the ColumnTransformer's output order.
    encoders: list[tuple[int, Any]] = []  # (row index, ("num", fill) | ("cat", (fill, {v: j})))
    categories: dict[str, list[str]] = {}
    width = 0
    for name, transformer, selected in columns.transformers_:
        if name == "remainder":
            continue
        steps = transformer.steps if hasattr(transformer, "steps") else [("", transformer)]
        kinds = [type(step).__name__ for _, step in steps]
        indices = [features.index(column) for column in selected]
        if kinds == ["SimpleImputer"]:
            imputer = steps[0][1]
            for index, fill in _zip_exact(indices, imputer.statistics_.tolist()):
                encoders.append((index, ("num", float(fill))))
            width += len(indices)
        elif kinds == ["SimpleImputer", "OneHotEncoder"]:
            imputer, encoder = steps[0][1], steps[1][1]
            if imputer.strategy != "constant" or encoder.handle_unknown != "ignore":
                raise TypeError("unsupported encoder settings")
            if encoder.drop is not None or getattr(encoder, "_infrequent_enabled", False):
                raise TypeError("unsupported encoder settings")
            for column, index, known in _zip_exact(selected, indices, encoder.categories_):
                values = [str(value) for value in known.tolist()]
                categories[column] = values
                lookup = {value: width + j for j, value in enumerate(values)}
                encoders.append((index, ("cat", (str(imputer.fill_value), lookup))))
                width += len(values)
        else:
            raise TypeError(f"unsupported transformer {kinds}")
    trees = []
    for (predictor,) in classifier._predictors:  # one tree per iteration (binary)
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise TypeError("categorical splits")
        trees.append(
            (
                nodes["is_leaf"].tolist(),
                nodes["feature_idx"].tolist(),
                nodes["num_threshold"].tolist(),
                nodes["missing_go_to_left"].tolist(),
                nodes["left"].tolist(),
                nodes["right"].tolist(),
                nodes["value"].tolist(),
            )
        )
    baseline = float(np.asarray(classifier._baseline_prediction).ravel()[0])

    def predict(row: Row) -> float:
        x = [0.0] * width
        position = 0
        for index, (kind, spec) in encoders:
            value = row[index]
            if kind == "num":
                x[position] = spec if value != value else value  # NaN -> the imputed fill
                position += 1
            else:
                fill, lookup = spec
                hot = lookup.get(fill if value is None else value)
                if hot is not None:  # unknown categories encode as all zeros ("ignore")
                    x[hot] = 1.0
        raw = baseline
        for is_leaf, feature, threshold, missing_left, left, right, leaf_value in trees:
            node = 0
            while not is_leaf[node]:
                data = x[feature[node]]
                if data != data:
                    node = left[node] if missing_left[node] else right[node]
                elif data <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            raw += leaf_value[node]
        return float(expit(raw))

    return predict, categories


def _zip_exact(*sequences: Any) -> list[tuple[Any, ...]]:
    """``zip(..., strict=True)`` for Python 3.9 (no ``strict`` there): equal lengths."""
    lists = [list(sequence) for sequence in sequences]
    if len({len(items) for items in lists}) > 1:
        raise ValueError(f"sequences of unequal lengths {[len(items) for items in lists]}")
    return list(zip(*lists))  # noqa: B905 - lengths checked above, works on Python 3.9
