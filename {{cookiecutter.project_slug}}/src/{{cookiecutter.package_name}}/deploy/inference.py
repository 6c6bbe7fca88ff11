"""SageMaker serving handler, shipped as ``code/inference.py`` inside ``model.tar.gz``.

It runs in the project image on SageMaker (and in the local endpoint) without this
project installed, so it imports only the standard library and what scikit-learn
brings: numpy, pandas, scipy, joblib and threadpoolctl. It also runs on Python 3.9
(SageMaker's scikit-learn 1.2-1 image): no syntax or built-ins newer than that.

Requests: ``text/csv`` (rows of features in ``model.json`` order, an optional header
row), ``application/json`` (``{"instances": [...]}`` of objects or lists, or a bare
list) and ``application/x-npy`` (loaded with ``allow_pickle=False``).
Responses: ``application/json`` (``{"predictions": [{"label": 1, "probability": 0.8}]}``),
``text/csv`` (``label,probability`` per row) or ``application/x-npy`` (probabilities).

Speed: one ``predict_proba`` call costs milliseconds whatever the row count (scikit-learn
checks its input on every call), while an online request holds one row. So ``model_fn``
asks sagepipe's fast path (``sagepipe.serving.fastpath``) to compile the fitted pipeline
into plain Python; the engine returns it only if it gives ``predict_proba``'s
probabilities bit for bit, and requests of up to ``FAST_PATH_MAX_ROWS`` rows use it.
Larger requests, a model the fast path does not know (change ``steps/train.py`` and it
simply falls back), and images without sagepipe (SageMaker's own scikit-learn image) go
through ``predict_proba``. Requests are parsed with the standard library, not pandas.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

import joblib
import numpy as np
from threadpoolctl import threadpool_limits

MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"
JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED_ACCEPT = (JSON, CSV, NPY)
# Up to this many rows the fast path (~0.1 ms a row) beats predict_proba's fixed per-call
# cost; above it, scikit-learn's vectorised prediction wins. 0 turns the fast path off.
FAST_PATH_MAX_ROWS = 16
MISSING = None


def _zip_exact(*sequences: Any) -> list[tuple[Any, ...]]:
    """``zip(..., strict=True)`` for Python 3.9 images (no ``strict`` there): equal lengths."""
    lists = [list(sequence) for sequence in sequences]
    if len({len(items) for items in lists}) > 1:
        raise ValueError(f"sequences of unequal lengths {[len(items) for items in lists]}")
    return list(zip(*lists))  # noqa: B905 - lengths checked above, works on Python 3.9


class UnsupportedContentType(ValueError):
    """The request or the Accept header names a type this handler does not speak."""


def model_fn(model_dir: str) -> dict[str, Any]:
    """Load the fitted pipeline and its metadata from ``model_dir``."""
    with open(os.path.join(model_dir, METADATA_FILE)) as handle:
        metadata = json.load(handle)
    # Requests are small and servers run one worker per core: OpenMP threads per worker
    # would only oversubscribe the cores, so each worker predicts on one thread.
    threadpool_limits(limits=1)
    pipeline = joblib.load(os.path.join(model_dir, MODEL_FILE))
    return {"model": pipeline, "metadata": metadata, "fast": _fast_path(pipeline, metadata)}


def _fast_path(pipeline: Any, metadata: dict[str, Any]) -> Any:
    """sagepipe's compiled single-row predictor for ``pipeline``, or None to use predict_proba."""
    try:  # the engine is in the project image and the local endpoint
        from sagepipe.serving import compile_pipeline
    except ImportError:  # e.g. SageMaker's own scikit-learn image
        return None
    return compile_pipeline(pipeline, metadata["features"])


# --- parsing: requests -> rows of typed Python values in feature order -----------------


def _number(value: Any, name: str) -> float:
    # Missing (None, NaN, empty text) is imputed downstream; anything else that is not a
    # plain number is the client's mistake and is refused, never silently imputed.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            number = float(text)
        except ValueError:
            raise ValueError(
                f"{name}={value[:40]!r} is not a number; send a number or leave it empty"
            ) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{name} is too large for a number; send a finite number") from None
    else:
        raise ValueError(
            f"{name} holds a {type(value).__name__}, not a number; send a number or leave it empty"
        )
    if math.isinf(number):
        raise ValueError(f"{name}={value!r} is infinite; send a finite number or leave it empty")
    return number


def _category(value: Any, name: str = "value") -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"{name} holds a {type(value).__name__}; send a category as text")
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"{name} contains a NUL character; send plain text")
    text = str(value).strip().lower()
    return text or MISSING


def _rows(rows: Any, metadata: dict[str, Any]) -> list[list[Any]]:
    """Check the shape of ``rows`` and return them typed: floats, then categories."""
    features = metadata["features"]
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not rows:
        raise ValueError("the request holds no rows; send at least one row of features")
    if all(isinstance(row, dict) for row in rows):
        missing = [name for name in features if any(name not in row for row in rows)]
        if missing:
            raise ValueError(f"missing feature(s) {', '.join(missing)}; send {features}")
        rows = [[row[name] for name in features] for row in rows]
    else:
        widths = {len(row) if isinstance(row, (list, tuple)) else 1 for row in rows}
        if widths != {len(features)}:
            raise ValueError(
                f"rows have {sorted(widths)} value(s); each row needs {len(features)} "
                f"values in this order: {features}"
            )
    categorical = set(metadata["categorical_features"])
    kinds = [name in categorical for name in features]
    typed = [
        [
            _category(value, name) if is_category else _number(value, name)
            for value, name, is_category in _zip_exact(row, features, kinds)
        ]
        for row in rows
    ]
    for number, row in enumerate(typed, start=1):
        if all(value is MISSING or value != value for value in row):
            # A prediction for a row with no values would only echo the imputation.
            raise ValueError(f"row {number} has no values; send at least one feature")
    return typed


def _check_npy(raw: bytes) -> None:
    """Refuse an .npy body whose header does not fit its size or is not a 1-D/2-D table.

    Read before ``np.load``, so a header announcing terabytes never allocates them.
    """
    from numpy.lib import format as npy_format

    stream = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, _fortran, dtype = npy_format.read_array_header_1_0(stream)
        else:
            shape, _fortran, dtype = npy_format.read_array_header_2_0(stream)
    except (ValueError, TypeError, SyntaxError, OverflowError) as err:
        raise ValueError(f"application/x-npy body has no valid .npy header ({err})") from None
    if len(shape) not in (1, 2):
        raise ValueError(f"application/x-npy array has shape {shape}; send a 1-D or 2-D array")
    if dtype.names is not None or dtype.kind not in "biufU":
        raise ValueError(
            f"application/x-npy array has dtype {dtype}; send numbers (or text categories)"
        )
    expected = math.prod(shape) * dtype.itemsize
    if expected != len(raw) - stream.tell():
        raise ValueError(
            f"application/x-npy header announces {expected} bytes of data but the body "
            f"holds {len(raw) - stream.tell()}"
        )


def input_fn(request_body: bytes | str, request_content_type: str) -> Any:
    """Parse a request into raw rows; ``predict_fn`` checks and types them."""
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type == CSV:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
        if "\0" in text:
            raise ValueError("text/csv body contains a NUL byte; send plain CSV text")
        try:
            rows = [row for row in csv.reader(io.StringIO(text)) if row]  # blank lines skipped
        except csv.Error as err:  # e.g. a field over the csv module's size limit
            raise ValueError(f"text/csv body is not valid CSV ({err})") from None
        return {"csv": rows}
    if content_type == JSON:
        try:
            payload = json.loads(request_body)
        except RecursionError:
            raise ValueError("application/json body is nested too deeply") from None
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        return {"rows": payload}
    if content_type == NPY:
        raw = request_body if isinstance(request_body, bytes) else request_body.encode("latin-1")
        _check_npy(raw)
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        return {"rows": np.atleast_2d(array).tolist()}
    raise UnsupportedContentType(
        f"Content-Type {request_content_type!r} is not supported; send one of {CSV}, {JSON}, {NPY}"
    )


# --- prediction ------------------------------------------------------------------------


def predict_fn(input_data: Any, model: dict[str, Any]) -> np.ndarray:
    """Return an array of shape (rows, 2): predicted label and churn probability."""
    metadata = model["metadata"]
    if "csv" in input_data:
        rows = input_data["csv"]
        # A header row is allowed: drop it when it names the features.
        if rows and [value.strip() for value in rows[0]] == metadata["features"]:
            rows = rows[1:]
        typed = _rows([[value if value != "" else None for value in row] for row in rows], metadata)
    else:
        typed = _rows(input_data["rows"], metadata)
    fast = model["fast"]
    if fast is not None and len(typed) <= FAST_PATH_MAX_ROWS:
        probability = np.array([fast(row) for row in typed], dtype=float)
    else:
        probability = _predict_proba(model["model"], typed, metadata)
    labels = (probability >= 0.5).astype(int)
    return np.column_stack([labels, probability])


def _predict_proba(pipeline: Any, typed: list[list[Any]], metadata: dict[str, Any]) -> np.ndarray:
    """Probability of class 1 from the fitted pipeline, on a frame built from typed rows."""
    import pandas as pd
    import sklearn

    frame = pd.DataFrame(typed, columns=metadata["features"])
    for name in metadata["categorical_features"]:
        # SimpleImputer wants None for missing strings, in an object column.
        frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    # Rows were checked while parsing (finite numbers, known width), so skip re-checking
    # (skip_parameter_validation exists from scikit-learn 1.3; the 1.2 image lacks it).
    options = {"assume_finite": True}
    if "skip_parameter_validation" in sklearn.get_config():
        options["skip_parameter_validation"] = True
    with sklearn.config_context(**options):
        return np.asarray(pipeline.predict_proba(frame)[:, 1], dtype=float)


# --- output ----------------------------------------------------------------------------


def _choose(accept: str | None) -> str:
    """Pick the first supported type from an Accept header (``*/*`` means JSON)."""
    if not accept:
        return JSON
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*"):
            return JSON
        if media == "text/*":
            return CSV
        if media in SUPPORTED_ACCEPT:
            return media
    raise UnsupportedContentType(
        f"Accept {accept!r} is not supported; ask for one of {', '.join(SUPPORTED_ACCEPT)}"
    )


def output_fn(prediction: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """Serialise predictions for the negotiated ``accept`` type: returns (body, type)."""
    media = _choose(accept)
    if media == CSV:
        lines = [f"{int(label)},{probability:.6f}" for label, probability in prediction.tolist()]
        return ("\n".join(lines) + "\n").encode(), CSV
    if media == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction[:, 1], dtype=float), allow_pickle=False)
        return buffer.getvalue(), NPY
    predictions = [
        {"label": int(label), "probability": round(float(probability), 6)}
        for label, probability in prediction.tolist()
    ]
    return json.dumps({"predictions": predictions}).encode(), JSON
