"""Decode request bodies, encode predictions and negotiate ``Accept`` like SageMaker containers.

Supported: ``text/csv``, ``application/json`` and ``application/x-npy``. ``.npy`` bodies are
read with ``allow_pickle=False``: an object array in a request is refused, never unpickled.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import zipfile
from typing import Any

import numpy as np

from .errors import BadRequest, NotAcceptable, UnsupportedContentType

CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"
SUPPORTED = (CSV, JSON, NPY)


def media_type(header: str | None) -> str:
    """Return the bare, lower-case media type of a Content-Type header (no parameters)."""
    return (header or "").split(";", 1)[0].strip().lower()


def decode(body: bytes, content_type: str) -> Any:
    """Turn a request body into model input: a 2-D array, or a DataFrame for JSON records."""
    kind = media_type(content_type)
    if not body:
        raise BadRequest("empty request body; send at least one record")
    if kind == CSV:
        return _decode_csv(body)
    if kind == JSON:
        return _decode_json(body)
    if kind == NPY:
        return _decode_npy(body)
    if not kind:
        raise UnsupportedContentType(f"missing Content-Type; send one of {', '.join(SUPPORTED)}")
    raise UnsupportedContentType(
        f"Content-Type {kind!r} is not supported; send one of {', '.join(SUPPORTED)}"
    )


def _text(body: bytes, kind: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(f"{kind} body is not valid UTF-8 (byte {err.start}); send UTF-8") from err


def _decode_csv(body: bytes) -> np.ndarray:
    text = _text(body, CSV)
    if "\x00" in text:
        raise BadRequest("text/csv body contains a NUL byte; send plain CSV text")
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as err:  # e.g. a field over the csv module's size limit
        raise BadRequest(f"text/csv body is not valid CSV ({err})") from None
    if not rows:
        raise BadRequest("text/csv body has no records; send one record per line")
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise BadRequest(
                f"text/csv record {number} has {len(row)} fields, record 1 has {width}; "
                "send the same number of fields on every line"
            )
    try:
        return np.array([[float(value) for value in row] for row in rows], dtype=float)
    except ValueError:
        # Categorical columns: keep strings, the model's pipeline encodes them.
        return np.array([[_number_or_text(value) for value in row] for row in rows], dtype=object)


def _number_or_text(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _decode_json(body: bytes) -> Any:
    try:
        data = json.loads(_text(body, JSON))
    except json.JSONDecodeError as err:
        raise BadRequest(
            f"application/json body is not valid JSON ({err.msg} at {err.pos})"
        ) from err
    except RecursionError:
        raise BadRequest("application/json body is nested too deeply") from None
    except ValueError as err:  # e.g. an integer with more digits than Python converts
        raise BadRequest(f"application/json body holds an unreadable value ({err})") from None
    if isinstance(data, dict):
        for key in ("instances", "inputs", "data"):
            if key in data:
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list) or not data:
        raise BadRequest(
            "application/json body must be a non-empty list of records "
            '(e.g. [[1, 2]] or [{"a": 1}] or {"instances": [...]})'
        )
    if all(isinstance(item, dict) for item in data):
        import pandas as pd  # imported here: only record-shaped JSON needs it

        return pd.DataFrame.from_records(data)
    if all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in data):
        data = [data]  # one flat record
    if not all(isinstance(item, list) for item in data):
        raise BadRequest("application/json records must all be lists or all be objects")
    width = len(data[0])
    if any(len(item) != width for item in data):
        raise BadRequest("application/json records have different lengths; send equal-length rows")
    try:
        return np.array(data, dtype=float)
    except OverflowError:
        raise BadRequest("application/json body holds a number too large for a float") from None
    except (TypeError, ValueError):
        return np.array(data, dtype=object)


def check_npy_header(body: bytes) -> None:
    """Refuse a ``.npy`` body whose header does not match its size or is not a numeric table.

    Checked before ``np.load``, so a header announcing terabytes never allocates them, and
    structured, complex, datetime or object arrays never reach a model.
    """
    from numpy.lib import format as npy_format

    stream = io.BytesIO(body)
    try:
        version = npy_format.read_magic(stream)
        reader = (
            npy_format.read_array_header_1_0
            if version == (1, 0)
            else npy_format.read_array_header_2_0
        )
        shape, _fortran, dtype = reader(stream)
    except (ValueError, TypeError, SyntaxError, OverflowError) as err:
        raise BadRequest(f"application/x-npy body has no valid .npy header ({err})") from None
    if len(shape) not in (1, 2):
        raise BadRequest(f"application/x-npy array has shape {shape}; send a 1-D or 2-D array")
    if dtype.names is not None or dtype.kind not in "biufU":
        raise BadRequest(
            f"application/x-npy array has dtype {dtype}; send numbers (or text categories)"
        )
    data_bytes = len(body) - stream.tell()
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if expected != data_bytes:
        raise BadRequest(
            f"application/x-npy header announces {expected} bytes of data but the body "
            f"holds {data_bytes}"
        )


def _decode_npy(body: bytes) -> np.ndarray:
    if body.startswith(b"\x93NUMPY"):
        check_npy_header(body)
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as err:
        # numpy raises ValueError both for pickled object arrays and for corrupt headers.
        raise BadRequest(f"application/x-npy body is not a loadable .npy array ({err})") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise BadRequest(f"application/x-npy body is not a .npy array ({err})") from err
    if not isinstance(array, np.ndarray):
        raise BadRequest("application/x-npy body must hold one array, not an .npz archive")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        raise BadRequest(f"application/x-npy array has shape {array.shape}; send a 2-D array")
    return array


def encode(prediction: Any, accept: str) -> bytes:
    """Serialise a prediction (array, list, DataFrame or scalar) as ``accept``."""
    kind = media_type(accept)
    if hasattr(prediction, "to_numpy"):
        prediction = prediction.to_numpy()
    array = np.asarray(prediction)
    if kind == JSON:
        return json.dumps(array.tolist()).encode()
    if kind == CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        rows = array.reshape(-1, 1) if array.ndim <= 1 else array
        for row in rows.tolist():
            writer.writerow([_csv_value(value) for value in row])
        return out.getvalue().encode()
    if kind == NPY:
        if array.dtype == object:
            raise NotAcceptable(
                "prediction is not numeric, so it cannot be sent as application/x-npy"
            )
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    raise NotAcceptable(
        f"cannot encode a prediction as {kind!r}; accept one of {', '.join(SUPPORTED)}"
    )


def _csv_value(value: Any) -> Any:
    # repr-exact floats so CSV and JSON answers carry the same numbers.
    return repr(value) if isinstance(value, float) else value


def negotiate(accept: str | None, content_type: str, default: str | None = None) -> str:
    """Pick the response type for an Accept header, like SageMaker's inference toolkit.

    No Accept (or ``*/*``) answers in ``default``, else ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``,
    else ``application/json``. Otherwise the supported type with the highest q-value wins. As in
    RFC 9110, a type's q-value comes from the most specific range that names it, so
    ``*/*, text/csv;q=0`` never answers in text/csv.
    """
    return _negotiate(accept, default or os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"))


# Clients send the same few Accept headers over and over; parsing one costs more than the
# single-row prediction it answers. Bounded, so varied headers only evict (errors are not kept).
@functools.lru_cache(maxsize=256)
def _negotiate(accept: str | None, default: str | None) -> str:
    fallback = media_type(default or JSON)
    if not accept or not accept.strip():
        return fallback
    ranges = _accept_ranges(accept)
    # The fallback first: a wildcard that ties between types answers in the default.
    offered = [fallback] + [kind for kind in SUPPORTED if kind != fallback]
    choices: list[tuple[float, int, int, str]] = []
    for rank, kind in enumerate(offered):
        matching = [
            (specificity, -position, quality)
            for position, (media_range, quality) in enumerate(ranges)
            if (specificity := _specificity(media_range, kind)) >= 0
        ]
        if not matching:
            continue
        _, negative_position, quality = max(matching)
        if quality > 0:
            choices.append((-quality, -negative_position, rank, kind))
    if not choices:
        raise NotAcceptable(
            f"Accept {accept!r} matches no supported type; accept one of {', '.join(SUPPORTED)}"
        )
    return sorted(choices)[0][3]


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    """Parse an Accept header into (media range, q-value) pairs, in header order."""
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        parts = [part.strip() for part in item.split(";")]
        kind = parts[0].lower()
        if not kind:
            continue
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    raise NotAcceptable(f"Accept q-value {value!r} is not a number") from None
        ranges.append((kind, quality))
    return ranges


def _specificity(media_range: str, kind: str) -> int:
    """How specifically ``media_range`` names ``kind``: 2 exact, 1 ``type/*``, 0 ``*/*``, -1 no."""
    if media_range == kind:
        return 2
    if media_range == "*/*":
        return 0
    if media_range.endswith("/*") and kind.startswith(media_range[:-1]):
        return 1
    return -1
