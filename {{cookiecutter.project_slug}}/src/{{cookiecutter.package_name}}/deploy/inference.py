"""SageMaker serving handler, shipped as ``code/inference.py`` inside ``model.tar.gz``.

It runs in the scikit-learn serving container (and in the local endpoint) without this
project installed, so it imports only the standard library and what scikit-learn
brings: numpy, pandas, joblib and threadpoolctl.

Requests: ``text/csv`` (rows of features in ``model.json`` order, an optional header
row), ``application/json`` (``{"instances": [...]}`` of objects or lists, or a bare
list) and ``application/x-npy`` (loaded with ``allow_pickle=False``).
Responses: ``application/json`` (``{"predictions": [{"label": 1, "probability": 0.8}]}``),
``text/csv`` (``label,probability`` per row) or ``application/x-npy`` (probabilities).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

MODEL_FILE = "model.joblib"
METADATA_FILE = "model.json"
JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED_ACCEPT = (JSON, CSV, NPY)


class UnsupportedContentType(ValueError):
    """The request or the Accept header names a type this handler does not speak."""


def model_fn(model_dir: str) -> dict[str, Any]:
    """Load the fitted pipeline and its metadata from ``model_dir``."""
    with open(os.path.join(model_dir, METADATA_FILE)) as handle:
        metadata = json.load(handle)
    # Requests are small and servers run one worker per core: OpenMP threads per worker
    # would only oversubscribe the cores, so each worker predicts on one thread.
    threadpool_limits(limits=1)
    return {"model": joblib.load(os.path.join(model_dir, MODEL_FILE)), "metadata": metadata}


def _frame(rows: Any, metadata: dict[str, Any]) -> pd.DataFrame:
    features = metadata["features"]
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not rows:
        raise ValueError("the request holds no rows; send at least one row of features")
    if all(isinstance(row, dict) for row in rows):
        missing = [name for name in features if any(name not in row for row in rows)]
        if missing:
            raise ValueError(f"missing feature(s) {', '.join(missing)}; send {features}")
        frame = pd.DataFrame([{name: row[name] for name in features} for row in rows])
    else:
        widths = {len(row) for row in rows}
        if widths != {len(features)}:
            raise ValueError(
                f"rows have {sorted(widths)} value(s); each row needs {len(features)} "
                f"values in this order: {features}"
            )
        frame = pd.DataFrame(rows, columns=features)
    return _typed(frame, metadata)


def _typed(frame: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
    categorical = set(metadata["categorical_features"])
    for name in metadata["features"]:
        if name in categorical:
            column = frame[name].astype(object)
            missing = column.isna() | (column.astype(str).str.strip() == "")
            frame[name] = column.astype(str).str.strip().str.lower().where(~missing, None)
        else:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def input_fn(request_body: bytes | str, request_content_type: str) -> Any:
    """Parse a request into raw rows; ``predict_fn`` turns them into the feature frame."""
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type == CSV:
        text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
        frame = pd.read_csv(io.StringIO(text), header=None, dtype=str, keep_default_na=False)
        return {"csv": frame.to_numpy().tolist()}
    if content_type == JSON:
        payload = json.loads(request_body)
        if isinstance(payload, dict) and "instances" in payload:
            payload = payload["instances"]
        return {"rows": payload}
    if content_type == NPY:
        raw = request_body if isinstance(request_body, bytes) else request_body.encode("latin-1")
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        return {"rows": np.atleast_2d(array).tolist()}
    raise UnsupportedContentType(
        f"Content-Type {request_content_type!r} is not supported; send one of {CSV}, {JSON}, {NPY}"
    )


def predict_fn(input_data: Any, model: dict[str, Any]) -> np.ndarray:
    """Return an array of shape (rows, 2): predicted label and churn probability."""
    metadata = model["metadata"]
    if "csv" in input_data:
        rows = input_data["csv"]
        # A header row is allowed: drop it when it names the features.
        if rows and [str(value).strip() for value in rows[0]] == metadata["features"]:
            rows = rows[1:]
        frame = _frame(
            [[value if value != "" else None for value in row] for row in rows], metadata
        )
    else:
        frame = _frame(input_data["rows"], metadata)
    probability = model["model"].predict_proba(frame)[:, 1]
    labels = (probability >= 0.5).astype(int)
    return np.column_stack([labels, probability])


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
        lines = [f"{int(label)},{probability:.6f}" for label, probability in prediction]
        return ("\n".join(lines) + "\n").encode(), CSV
    if media == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(prediction[:, 1], dtype=float), allow_pickle=False)
        return buffer.getvalue(), NPY
    predictions = [
        {"label": int(label), "probability": round(float(probability), 6)}
        for label, probability in prediction
    ]
    return json.dumps({"predictions": predictions}).encode(), JSON
