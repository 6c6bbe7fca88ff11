"""Captured requests and responses, as feature rows and predictions.

Reads SageMaker's data-capture JSON lines (see ``sagepipe.serving.capture``) one line
at a time. Inputs: ``text/csv`` (rows in the baseline's column order, an optional header
row), ``application/json`` (``{"instances": [...]}`` of objects or lists, or a bare
list) and base64 ``application/x-npy``. Outputs: ``{"predictions": [{"label": ...,
"probability": ...}]}``, ``label,probability`` CSV rows, or npy probabilities.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

# A row is a dict (named values, e.g. JSON objects or CSV with a header) or a list
# (positional values in the baseline's column order).
Row = dict[str, Any] | list[Any]


@dataclass
class Event:
    """One captured request: its id, time, feature rows and (parsed on demand) predictions."""

    event_id: str
    time: str
    rows: list[Row]
    output: dict[str, Any]

    @property
    def predictions(self) -> list[tuple[Any, float | None]]:
        """``(label, probability)`` per row of the response."""
        return output_predictions(self.output)


def capture_files(
    root: Path, since: datetime | None = None, until: datetime | None = None
) -> list[Path]:
    """The capture files under ``root`` in time order, skipping hours outside the window."""
    files = sorted(Path(root).rglob("*.jsonl")) if Path(root).is_dir() else []
    if since is None and until is None:
        return files
    floor = since.strftime("%Y/%m/%d/%H") if since is not None else ""
    ceiling = until.strftime("%Y/%m/%d/%H") if until is not None else "9"
    kept = []
    for path in files:
        parts = path.parent.parts[-4:]
        hour = "/".join(parts)
        # Folders are yyyy/mm/dd/hh; anything else is kept and filtered per line.
        dated = len(parts) == 4 and all(p.isdigit() for p in parts)
        if dated and (hour < floor or hour > ceiling):
            continue
        kept.append(path)
    return kept


def parse_time(text: str) -> datetime | None:
    """``inferenceTime`` (``2026-01-02T03:04:05.678Z``) as an aware datetime."""
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def read_events(
    files: Sequence[Path],
    names: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[Event]:
    """Every event in ``files`` (one line in memory at a time); ``names`` order CSV rows.

    With ``since`` / ``until``, only events captured at or after ``since`` and before
    ``until`` (a scheduled job's window, so consecutive runs never count an event twice).
    """
    for path in files:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    data = record["captureData"]
                    metadata = record.get("eventMetadata", {})
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line of a crashed writer is not data
                when = str(metadata.get("inferenceTime", ""))
                if since is not None or until is not None:
                    at = parse_time(when)
                    if at is not None and (
                        (since is not None and at < since) or (until is not None and at >= until)
                    ):
                        continue
                yield Event(
                    event_id=str(metadata.get("eventId", "")),
                    time=when,
                    rows=input_rows(data.get("endpointInput", {}), names),
                    output=data.get("endpointOutput", {}),
                )


def _payload(side: dict[str, Any]) -> tuple[str, str]:
    encoding = side.get("encoding", "")
    data = side.get("data", "")
    kind = str(side.get("observedContentType", "")).split(";")[0].strip().lower()
    if encoding == "BASE64":
        return kind, base64.b64decode(data).decode("latin-1")
    return kind, str(data)


def _positional(values: Sequence[Any], names: Sequence[str]) -> Row:
    return list(values)


def input_rows(side: dict[str, Any], names: Sequence[str]) -> list[Row]:
    """Feature rows of one ``endpointInput``; unknown payloads give no rows."""
    if not side:
        return []
    if side.get("encoding") == "BASE64" and "npy" in str(side.get("observedContentType")):
        try:
            array = np.load(io.BytesIO(base64.b64decode(side["data"])), allow_pickle=False)
        except (ValueError, OSError, KeyError):
            return []
        array = np.atleast_2d(array)
        return [_positional(list(r), names) for r in array.tolist()]
    kind, text = _payload(side)
    if kind.endswith("json"):
        try:
            body = json.loads(text)
        except ValueError:
            return []
        items = body.get("instances", body.get("inputs")) if isinstance(body, dict) else body
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            return []
        if items and not isinstance(items[0], (list, dict)):
            items = [items]  # one bare row
        return [
            dict(item) if isinstance(item, dict) else _positional(item, names)
            for item in items
            if isinstance(item, (list, dict))
        ]
    if '"' in text:
        lines = [cells for cells in csv.reader(io.StringIO(text)) if cells]
    else:  # no quoting: plain splitting gives csv.reader's result, much faster
        lines = [line.split(",") for line in text.splitlines() if line]
    first = lines[0] if lines else None
    if (
        first
        and names
        and first[0].strip() == names[0]  # cheap test first: most requests have no header
        and [c.strip() for c in first] == list(names)[: len(first)]
    ):
        header = [c.strip() for c in lines[0]]
        return [dict(zip(header, cells, strict=False)) for cells in lines[1:]]
    return [_positional(cells, names) for cells in lines]


def output_predictions(side: dict[str, Any]) -> list[tuple[Any, float | None]]:
    """``(label, probability)`` per row of one ``endpointOutput``."""
    if not side:
        return []
    if side.get("encoding") == "BASE64" and "npy" in str(side.get("observedContentType")):
        try:
            array = np.load(io.BytesIO(base64.b64decode(side["data"])), allow_pickle=False)
        except (ValueError, OSError, KeyError):
            return []
        return [(int(p >= 0.5), float(p)) for p in np.ravel(array).tolist()]
    kind, text = _payload(side)
    if kind.endswith("json"):
        try:
            body = json.loads(text)
        except ValueError:
            return []
        items = body.get("predictions", []) if isinstance(body, dict) else body
        result: list[tuple[Any, float | None]] = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                probability = item.get("probability", item.get("score"))
                result.append((item.get("label", item.get("predicted_label")), _float(probability)))
            else:
                result.append((item, None))
        return result
    result = []
    for cells in csv.reader(io.StringIO(text)):
        if not cells:
            continue
        result.append((cells[0].strip(), _float(cells[1]) if len(cells) > 1 else None))
    return result


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
