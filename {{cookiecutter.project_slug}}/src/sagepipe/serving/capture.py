"""Data capture in SageMaker's JSON-lines layout.

One line per captured request::

    {"captureData": {"endpointInput": {...}, "endpointOutput": {...}},
     "eventMetadata": {"eventId": ..., "inferenceTime": ..., "latencyMs": ...},
     "eventVersion": "0"}

under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``. ``latencyMs`` is our addition
(SageMaker tools ignore unknown keys); the shadow report reads it. Each worker process
writes its own file, so no lock is needed and lines never interleave.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .content_types import CSV, JSON, media_type


def payload(data: bytes, content_type: str, mode: str) -> dict[str, str]:
    """One side of ``captureData``: text for CSV/JSON, base64 for anything else."""
    kind = media_type(content_type)
    encoding = {CSV: "CSV", JSON: "JSON"}.get(kind, "BASE64")
    if encoding != "BASE64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        text = base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def record(
    *,
    event_id: str,
    request: bytes,
    request_type: str,
    response: bytes,
    response_type: str,
    latency_ms: float,
    when: datetime,
    error: str | None = None,
) -> dict[str, Any]:
    """Build one capture line."""
    metadata: dict[str, Any] = {
        "eventId": event_id,
        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "latencyMs": round(latency_ms, 3),
    }
    if error:
        metadata["error"] = error
    return {
        "captureData": {
            "endpointInput": payload(request, request_type, "INPUT"),
            "endpointOutput": payload(response, response_type, "OUTPUT"),
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }


class CaptureWriter:
    """Appends capture lines for one endpoint, one file per process, variant and hour."""

    def __init__(self, destination: Path, endpoint_name: str) -> None:
        self.root = Path(destination) / endpoint_name
        self._open: dict[str, tuple[str, IO[str]]] = {}

    def write(self, variant: str, line: dict[str, Any], when: datetime) -> None:
        """Append one record for ``variant``; flushed at once so readers see whole lines."""
        hour = when.strftime("%Y/%m/%d/%H")
        current = self._open.get(variant)
        if current is None or current[0] != hour:
            if current is not None:
                current[1].close()
            folder = self.root / variant / hour
            folder.mkdir(parents=True, exist_ok=True)
            stamp = f"{when.strftime('%M-%S-')}{when.microsecond // 1000:03d}"
            name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            current = (hour, (folder / name).open("a", encoding="utf-8"))
            self._open[variant] = current
        current[1].write(json.dumps(line, separators=(",", ":")) + "\n")
        current[1].flush()

    def close(self) -> None:
        """Close every open file."""
        for _, stream in self._open.values():
            stream.close()
        self._open.clear()


def now() -> datetime:
    """The current UTC time (capture paths and inferenceTime are UTC, like SageMaker's)."""
    return datetime.now(timezone.utc)


def read_records(root: Path) -> Iterator[dict[str, Any]]:
    """Every capture line under ``root`` (an endpoint or variant folder), in path order."""
    for path in sorted(Path(root).rglob("*.jsonl")):
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                if line.strip():
                    yield json.loads(line)


def decode_data(side: dict[str, str]) -> bytes:
    """The raw bytes of one ``endpointInput``/``endpointOutput``."""
    if side.get("encoding") == "BASE64":
        return base64.b64decode(side["data"])
    return side["data"].encode("utf-8")


def new_event_id() -> str:
    """A fresh event id (a UUID, as SageMaker uses)."""
    return str(uuid.uuid4())
