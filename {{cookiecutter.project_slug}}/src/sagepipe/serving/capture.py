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
from typing import Any

from ..private import append_line, private_dir
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
        self._open: dict[str, tuple[str, int]] = {}

    def write(self, variant: str, line: dict[str, Any], when: datetime) -> None:
        """Append one whole record for ``variant`` (0600 file, 0700 folders), or nothing.

        One ``write`` per line on an ``O_APPEND`` file; a short write (full disk) is cut
        back, so a capture file never holds a truncated record.
        """
        hour = when.strftime("%Y/%m/%d/%H")
        current = self._open.get(variant)
        if current is None or current[0] != hour:
            if current is not None:
                os.close(current[1])
            folder = private_dir(self.root / variant / hour)
            stamp = f"{when.strftime('%M-%S-')}{when.microsecond // 1000:03d}"
            name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            fd = os.open(folder / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            current = (hour, fd)
            self._open[variant] = current
        append_line(current[1], (json.dumps(line, separators=(",", ":")) + "\n").encode())

    def close(self) -> None:
        """Close every open file."""
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()


def now() -> datetime:
    """The current UTC time (capture paths and inferenceTime are UTC, like SageMaker's)."""
    return datetime.now(timezone.utc)


def read_records(root: Path, bad: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every capture line under ``root`` (an endpoint or variant folder), in path order.

    A line that is not a JSON object (a file cut by a crash, an edit) is skipped, never
    fatal; ``bad`` (when given) receives ``"<file>:<line>"`` for each one, so callers
    can say how many were skipped.
    """
    for path in sorted(Path(root).rglob("*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    item = None
                if isinstance(item, dict) and "captureData" in item:
                    yield item
                elif bad is not None:
                    bad.append(f"{path}:{number}")


def decode_data(side: dict[str, str]) -> bytes:
    """The raw bytes of one ``endpointInput``/``endpointOutput``."""
    if side.get("encoding") == "BASE64":
        return base64.b64decode(side["data"])
    return side["data"].encode("utf-8")


def new_event_id() -> str:
    """A fresh event id (a UUID, as SageMaker uses)."""
    return str(uuid.uuid4())
