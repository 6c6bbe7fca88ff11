"""Compare a shadow variant with the production variant from their captured traffic.

Both variants' records of one request share an ``eventId``. Each output is read as rows of
numbers (CSV lines, or JSON lists/objects); *agreement* compares the first column of each
row (the predicted label), *deltas* the last column (the score or probability).
"""

from __future__ import annotations

import csv
import html
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import capture
from .content_types import JSON, media_type


@dataclass
class VariantStats:
    """Latency and error counts of one variant."""

    name: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)


@dataclass
class ShadowReport:
    """The comparison ``shadow-report`` prints and draws."""

    endpoint: str
    production: VariantStats
    shadow: VariantStats
    paired_events: int
    compared_rows: int
    agreement: float
    mean_abs_delta: float
    max_abs_delta: float
    deltas: list[float] = field(default_factory=list, repr=False)
    skipped_lines: list[str] = field(default_factory=list)  # unreadable capture lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the raw samples)."""
        data = asdict(self)
        data.pop("deltas")
        for key in ("production", "shadow"):
            data[key].pop("latencies_ms")
        return data


def compare(capture_root: Path, endpoint: str, production: str, shadow: str) -> ShadowReport:
    """Pair the two variants' captured records by eventId and compare them."""
    root = Path(capture_root) / endpoint
    skipped: list[str] = []
    prod_records = _by_event(root / production, skipped)
    shadow_records = _by_event(root / shadow, skipped)
    if not shadow_records:
        raise ValueError(
            f"no captured shadow traffic under {root / shadow}; "
            "deploy with a shadow variant and send requests"
        )
    matches = total = 0
    deltas: list[float] = []
    paired = 0
    for event_id, shadow_record in shadow_records.items():
        prod_record = prod_records.get(event_id)
        if prod_record is None or "error" in shadow_record["eventMetadata"]:
            continue
        paired += 1
        prod_rows = _rows(prod_record["captureData"]["endpointOutput"])
        shadow_rows = _rows(shadow_record["captureData"]["endpointOutput"])
        for a, b in zip(prod_rows, shadow_rows, strict=False):  # shorter shadow = error
            total += 1
            matches += int(bool(a and b and a[0] == b[0]))
            if a and b and isinstance(a[-1], float) and isinstance(b[-1], float):
                deltas.append(b[-1] - a[-1])
    return ShadowReport(
        endpoint=endpoint,
        production=_stats(production, prod_records),
        shadow=_stats(shadow, shadow_records),
        paired_events=paired,
        compared_rows=total,
        agreement=matches / total if total else math.nan,
        mean_abs_delta=sum(abs(d) for d in deltas) / len(deltas) if deltas else math.nan,
        max_abs_delta=max((abs(d) for d in deltas), default=math.nan),
        deltas=deltas,
        skipped_lines=skipped,
    )


def _by_event(folder: Path, skipped: list[str]) -> dict[str, dict[str, Any]]:
    if not folder.is_dir():
        return {}
    records = {}
    for record in capture.read_records(folder, skipped):
        metadata = record.get("eventMetadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("eventId"), str):
            records[metadata["eventId"]] = record
        else:
            skipped.append(f"{folder}: a record without eventMetadata.eventId")
    return records


def _stats(name: str, records: dict[str, dict[str, Any]]) -> VariantStats:
    latencies = sorted(
        float(r["eventMetadata"].get("latencyMs", math.nan)) for r in records.values()
    )
    errors = sum("error" in r["eventMetadata"] for r in records.values())
    return VariantStats(
        name,
        len(records),
        errors,
        _percentile(latencies, 50),
        _percentile(latencies, 99),
        latencies,
    )


def _percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)  # nearest-rank, as load tools report
    return ordered[rank]


def _rows(side: dict[str, str]) -> list[list[Any]]:
    text = capture.decode_data(side).decode("utf-8", errors="replace")
    if media_type(side.get("observedContentType")) == JSON:
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("predictions", [data])
        return [
            [
                _number(v)
                for v in (
                    row.values()
                    if isinstance(row, dict)
                    else row
                    if isinstance(row, list)
                    else [row]
                )
            ]
            for row in data
        ]
    return [[_number(v) for v in row] for row in csv.reader(text.splitlines()) if row]


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def render_table(report: ShadowReport) -> str:
    """A plain-text table for the terminal."""
    lines = [
        f"shadow test of endpoint {report.endpoint}: {report.paired_events} paired requests, "
        f"{report.compared_rows} rows compared",
        f"agreement (first column): {report.agreement:.2%}   "
        f"|delta| of last column: mean {report.mean_abs_delta:.6g}, max {report.max_abs_delta:.6g}",
        "",
        f"{'variant':<16}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}",
    ]
    for stats in (report.production, report.shadow):
        lines.append(
            f"{stats.name:<16}{stats.requests:>10}{stats.errors:>8}{stats.p50_ms:>10.2f}{stats.p99_ms:>10.2f}"
        )
    if report.skipped_lines:
        lines.append(
            f"skipped {len(report.skipped_lines)} unreadable capture line(s), first at "
            f"{report.skipped_lines[0]}"
        )
    return "\n".join(lines)


STYLE = "body { font-family: sans-serif; margin: 2em } pre { background: #f4f4f4; padding: 1em }"


def render_html(report: ShadowReport) -> str:
    """A self-contained HTML page: the table plus inline SVG charts (no plotting library)."""
    table = html.escape(render_table(report))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Shadow test "
        f"{html.escape(report.endpoint)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Shadow test: {html.escape(report.endpoint)}</h1><pre>{table}</pre>"
        "<h2>Prediction deltas (shadow - production, last column)</h2>"
        f"{_histogram_svg(report.deltas)}"
        "<h2>Latency per variant (ms)</h2>"
        f"{_latency_svg([report.production, report.shadow])}</body></html>\n"
    )


def _histogram_svg(values: list[float], bins: int = 30, width: int = 640, height: int = 220) -> str:
    if not values:
        return "<p>No numeric deltas to draw.</p>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    top = max(counts)
    bar = width / bins
    rects = "".join(
        f"<rect x='{i * bar:.1f}' y='{height - 20 - c / top * (height - 40):.1f}' "
        f"width='{bar - 1:.1f}' "
        f"height='{c / top * (height - 40):.1f}' fill='#4a78b5'><title>{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    labels = (
        f"<text x='0' y='{height - 4}' font-size='11'>{low:.3g}</text>"
        f"<text x='{width}' y='{height - 4}' font-size='11' text-anchor='end'>{high:.3g}</text>"
    )
    return f"{_svg_open(width, height)}{rects}{labels}</svg>"


def _latency_svg(variants: list[VariantStats], width: int = 640) -> str:
    rows = [(v.name, "p50", v.p50_ms) for v in variants] + [
        (v.name, "p99", v.p99_ms) for v in variants
    ]
    finite = [value for _, _, value in rows if not math.isnan(value)]
    top = max(finite, default=1.0) or 1.0
    height = 26 * len(rows) + 10
    parts = []
    for i, (name, label, value) in enumerate(rows):
        length = 0 if math.isnan(value) else value / top * (width - 260)
        y = 10 + i * 26
        colour = "#4a78b5" if label == "p50" else "#c0504d"
        parts.append(
            f"<text x='0' y='{y + 14}' font-size='12'>{html.escape(name)} {label}</text>"
            f"<rect x='160' y='{y}' width='{length:.1f}' height='18' fill='{colour}'/>"
            f"<text x='{165 + length:.1f}' y='{y + 14}' font-size='12'>{value:.2f}</text>"
        )
    return f"{_svg_open(width, height)}{''.join(parts)}</svg>"


def _svg_open(width: int, height: int) -> str:
    return f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
