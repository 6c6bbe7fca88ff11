"""Metrics of every run, kept beside its parameters in the run history (``runs.db``).

When an execution ends, the JSON property files of its succeeded steps (such as the
evaluation report) are flattened to ``name -> number`` (``binary_classification_metrics
.accuracy.value`` becomes ``accuracy``) and stored in the ``execution_metrics`` table,
so runs can be compared whether or not they registered a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..storage.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS execution_metrics (
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    step TEXT NOT NULL,
    PRIMARY KEY (execution_id, name)
);
"""


def flatten(document: Any, prefix: str = "") -> dict[str, float]:
    """``{"m": {"accuracy": {"value": 0.9}}}`` -> ``{"accuracy": 0.9}`` (numbers only)."""
    found: dict[str, float] = {}
    if isinstance(document, Mapping):
        value = document.get("value")
        if (
            prefix
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            found[prefix] = float(value)
        for key, sub in document.items():
            if isinstance(sub, Mapping):
                found.update(flatten(sub, str(key)))
    return found


class RunMetrics:
    """The ``execution_metrics`` table of a workspace's ``runs.db``."""

    def __init__(self, path: Path) -> None:
        self.db = Database(Path(path), SCHEMA)

    def record(self, execution_id: str, metrics: Mapping[str, tuple[str, float]]) -> None:
        """Store ``name -> (step, value)`` for one execution (replacing earlier values)."""
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO execution_metrics (execution_id, name, value, step) "
                "VALUES (?, ?, ?, ?)",
                [(execution_id, name, value, step) for name, (step, value) in metrics.items()],
            )

    def get(self, execution_id: str) -> dict[str, float]:
        """``name -> value`` of one execution (``{}`` if it recorded none)."""
        if not self.db.path.exists():
            return {}
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT name, value FROM execution_metrics WHERE execution_id = ? ORDER BY name",
                (execution_id,),
            ).fetchall()
        return {str(r[0]): float(r[1]) for r in rows}

    def get_with_steps(self, execution_id: str) -> dict[str, tuple[str, float]]:
        """``name -> (step, value)`` of one execution: which step reported each metric."""
        if not self.db.path.exists():
            return {}
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT name, step, value FROM execution_metrics WHERE execution_id = ? "
                "ORDER BY name",
                (execution_id,),
            ).fetchall()
        return {str(r[0]): (str(r[1]), float(r[2])) for r in rows}

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


def record_execution_metrics(runner: Any) -> dict[str, float]:
    """Collect and store the metrics of a finished execution; return them."""
    collected: dict[str, tuple[str, float]] = {}
    for name, step in runner.steps.items():
        if runner.execution.steps[name].status != "Succeeded":
            continue
        for spec in step.raw.get("PropertyFiles") or []:
            try:
                document = runner.read_property_file(name, spec.get("PropertyFileName"))
            except (ValueError, OSError, KeyError):
                continue  # a missing report is the step's problem, reported there
            for metric, value in flatten(document).items():
                collected.setdefault(metric, (name, value))
    if collected:
        store = RunMetrics(runner.workspace / "runs.db")
        try:
            store.record(runner.execution.id, collected)
        finally:
            store.close()
    return {metric: value for metric, (_, value) in collected.items()}
