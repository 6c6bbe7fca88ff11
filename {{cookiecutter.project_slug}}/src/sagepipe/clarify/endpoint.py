"""The model as Clarify sees it: a local endpoint of ``model.tar.gz``, called with CSV.

Clarify starts a shadow endpoint of the model and sends it the dataset's feature rows
(``text/csv``, no header), reading one CSV row of outputs per input row. Here the
endpoint is the project's serving handler in-process (:func:`load_handler` on the
unpacked archive), fed in batches so kernel SHAP's many synthetic rows stay cheap.
"""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from ..serving.artifact import unpack
from ..serving.errors import ModelLoadError, ServingError
from ..serving.handler import Invocation, load_handler
from ..storage.digests import file_sha256 as sha256_file

CONTENT_TYPE = "text/csv"
BATCH_ROWS = 1000
# The local executor runs checks on worker threads. Loading a model imports its libraries
# (scikit-learn...), and two threads importing one package tree at once can meet a module
# the other has only half initialised; loads take turns (the second then finds the imports
# done and only unpickles its model).
_LOADING = threading.Lock()


def _csv(rows: np.ndarray) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows.tolist():
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in row])
    return out.getvalue().encode()


def _parse(body: bytes) -> list[list[float]]:
    text = body.decode("utf-8").strip()
    if text.startswith("[") or text.startswith("{"):
        raise ValueError(
            "the model answered JSON to a text/csv request with Accept: text/csv; its "
            "output_fn must support text/csv for Clarify"
        )
    return [[float(v) for v in row] for row in csv.reader(io.StringIO(text)) if row]


class Handler(Protocol):
    """What serves a request: the project's ModelHandler, or an image's default handler."""

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Invocation:
        """Answer one request."""
        ...


class LocalEndpoint:
    """Callable: feature rows in, the model's numeric outputs (rows x values) out."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls = 0

    @classmethod
    def from_archive(cls, archive: Path, cache_root: Path) -> LocalEndpoint:
        """Unpack ``model.tar.gz`` under ``cache_root`` and load its handler.

        The archive was just downloaded for this job, so its own digest is the expected one
        (there is no registered version to check it against yet).
        """
        try:
            with _LOADING:
                return cls(load_handler(unpack(archive, sha256_file(archive), cache_root)))
        except ModelLoadError as err:
            raise ValueError(f"cannot serve the model: {err}") from None

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        outputs: list[list[float]] = []
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start : start + BATCH_ROWS]
            try:
                answer = self.handler.invoke(_csv(batch), CONTENT_TYPE, CONTENT_TYPE)
            except ServingError as err:
                raise ValueError(f"the model refused Clarify's CSV rows: {err}") from None
            self.calls += 1
            parsed = _parse(answer.body)
            if len(parsed) != len(batch):
                raise ValueError(
                    f"the model answered {len(parsed)} rows for {len(batch)}; it must return "
                    "one CSV row per input row"
                )
            outputs.extend(parsed)
        return np.array(outputs, dtype=float)
