"""The monitoring job: captured traffic against a baseline, Model Monitor's outputs.

The same function runs from the CLI (``monitor --stage``) and as a Processing job
(``python -m sagepipe.monitor``). It streams: events are read one line at a time and
fed to the profile in chunks of ``CHUNK_ROWS`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import baseline as baselines
from .checks import Drift, evaluate
from .model_quality import (
    QualityAccumulator,
    load_ground_truth,
    quality_violations,
)
from .profile import DatasetProfile
from .records import capture_files, read_events

CHUNK_ROWS = 20_000


@dataclass
class MonitorResult:
    """What one monitoring run found, and where it wrote it."""

    output: Path
    events: int
    rows: int
    violations: list[dict[str, str]]
    drifts: list[Drift]
    statistics: dict[str, Any]
    baseline_statistics: dict[str, Any]
    quality: dict[str, Any] | None = None
    quality_violations: list[dict[str, str]] = field(default_factory=list)
    matched_rows: int = 0
    model: str | None = None  # the model package whose baselines were used

    @property
    def clean(self) -> bool:
        """True when no check found a violation."""
        return not self.violations and not self.quality_violations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "output": str(self.output),
            "model": self.model,
            "events": self.events,
            "rows": self.rows,
            "violations": self.violations,
            "drift": [d.to_dict() for d in self.drifts],
            "model_quality": self.quality,
            "model_quality_violations": self.quality_violations,
            "matched_rows": self.matched_rows,
            "clean": self.clean,
        }


def monitor(
    capture_root: Path,
    statistics_path: Path,
    constraints_path: Path,
    output: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    ground_truth: Path | None = None,
    quality_constraints: dict[str, Any] | None = None,
    html: bool = False,
    title: str = "Model monitor",
    model: str | None = None,
) -> MonitorResult:
    """Check the traffic under ``capture_root``; write Model Monitor's files to ``output``.

    ``since`` / ``until`` bound the window of capture times (``until`` excluded).
    """
    statistics = baselines.read_json(statistics_path, "baseline statistics")
    constraints = baselines.read_json(constraints_path, "baseline constraints")
    names = [f["name"] for f in statistics.get("features", [])]
    edges = baselines.feature_edges(statistics)
    truth = load_ground_truth(ground_truth) if ground_truth is not None else None
    profile = DatasetProfile(names, edges=edges)
    quality = QualityAccumulator()
    pending: dict[str, list[Any]] = {name: [] for name in names}
    pending_rows = 0
    events = 0
    seen: set[str] = set()  # every named column that appeared in any row
    seen_positions: list[Any] = []  # the longest positional row
    positions: list[list[Any] | None] = [pending[name] for name in names]

    def flush() -> None:
        nonlocal pending, pending_rows
        if pending_rows:
            profile.add_columns(pending, pending_rows)
        for key in pending:
            pending[key] = []
        for i in range(len(positions)):
            key = names[i] if i < len(names) else f"_c{i}"
            positions[i] = pending[key]
        pending_rows = 0

    for event in read_events(capture_files(capture_root, since, until), names, since, until):
        events += 1
        for row in event.rows:
            if isinstance(row, list):
                # Positional: the baseline's column order; extra cells are _c<N>.
                for i, value in enumerate(row):
                    column = positions[i] if i < len(positions) else None
                    if column is None:
                        column = _extra(pending, positions, i, pending_rows)
                    column.append(value)
                if len(row) > len(seen_positions):
                    seen_positions = row  # only its length matters
            else:
                if not seen.issuperset(row):
                    seen.update(row)
                for name, value in row.items():
                    column = pending.get(name)
                    if column is None:
                        column = pending[name] = [None] * pending_rows
                    column.append(value)
            pending_rows += 1
            if len(row) < len(pending):  # pad the columns this row did not have
                for column in pending.values():
                    if len(column) < pending_rows:
                        column.append(None)
        if truth is not None and event.event_id in truth:
            quality.add(event.predictions, truth[event.event_id])
        if pending_rows >= CHUNK_ROWS:
            flush()
    flush()
    seen.update(names[: len(seen_positions)])
    seen.update(f"_c{i}" for i in range(len(names), len(seen_positions)))
    violations, drifts = evaluate(profile, statistics, constraints, edges, seen=seen)
    bucket_edges = {name: e["buckets"] for name, e in edges.items() if e["buckets"]}
    current = profile.to_statistics(bucket_edges)
    output = Path(output)
    baselines.write_json(output / baselines.STATISTICS_FILE, current)
    baselines.write_json(output / baselines.VIOLATIONS_FILE, {"violations": violations})
    result = MonitorResult(
        output=output,
        events=events,
        rows=profile.items,
        violations=violations,
        drifts=drifts,
        statistics=current,
        baseline_statistics=statistics,
        model=model,
    )
    if truth is not None:
        result.matched_rows = quality.count
        result.quality = quality.statistics()
        if quality_constraints:
            result.quality_violations = quality_violations(result.quality, quality_constraints)
        model_dir = output / "model_quality"
        baselines.write_json(model_dir / baselines.STATISTICS_FILE, result.quality)
        baselines.write_json(
            model_dir / baselines.VIOLATIONS_FILE, {"violations": result.quality_violations}
        )
    baselines.write_json(output / "summary.json", result.to_dict())
    if html:
        from .report import render_html

        (output / "report.html").write_text(render_html(result, title=title), encoding="utf-8")
    return result


def _extra(
    pending: dict[str, list[Any]],
    positions: list[list[Any] | None],
    index: int,
    rows: int,
) -> list[Any]:
    """The column of an extra positional cell (``_c<index>``), created on first sight."""
    while len(positions) <= index:
        positions.append(None)
    name = f"_c{index}"
    column = pending.get(name)
    if column is None:
        column = pending[name] = [None] * rows
    positions[index] = column
    return column
