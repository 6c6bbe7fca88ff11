"""Run history: every execution, its parameters and each step's status, in ``runs.db``.

Each update is its own short transaction, so a run killed with SIGKILL leaves complete
rows; the next run marks executions whose process is gone as ``Stopped``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.sqlite import Database
from .states import ExecutionState, StepState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    pipeline_name TEXT NOT NULL,
    status TEXT NOT NULL,
    parameters TEXT NOT NULL,
    definition_sha256 TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    failure_reason TEXT,
    pid INTEGER,
    host TEXT
);
CREATE TABLE IF NOT EXISTS step_runs (
    execution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    duration_seconds REAL,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    log_path TEXT,
    failure_reason TEXT,
    properties TEXT,
    PRIMARY KEY (execution_id, name)
);
"""
# Schema upgrades, oldest first: _SCHEMA is version 1, entry i moves version i+1 to i+2.
# When a template update changes a table here, append its ALTER script; never edit _SCHEMA's
# meaning in place (old workspaces are upgraded by these scripts, see storage/sqlite.py).
_MIGRATIONS: tuple[str, ...] = ()


@dataclass
class StepRun:
    """One step of one execution as recorded in the history."""

    name: str
    type: str
    status: str  # a StepState; plain text when read back from runs.db
    started: str | None = None
    ended: str | None = None
    duration_seconds: float | None = None
    cache_hit: bool = False
    log_path: str | None = None
    failure_reason: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the bulky properties)."""
        return {
            "Name": self.name,
            "Type": str(self.type),
            "Status": str(self.status),
            "Started": self.started,
            "Ended": self.ended,
            "DurationSeconds": self.duration_seconds,
            "CacheHit": self.cache_hit,
            "LogPath": self.log_path,
            "FailureReason": self.failure_reason,
        }


@dataclass
class ExecutionRecord:
    """One execution as recorded in the history."""

    id: str
    pipeline_name: str
    status: str
    parameters: dict[str, Any]
    definition_sha256: str
    started: str
    ended: str | None
    failure_reason: str | None
    steps: list[StepRun]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "PipelineExecutionId": self.id,
            "PipelineName": self.pipeline_name,
            "Status": str(self.status),
            "Parameters": self.parameters,
            "DefinitionSha256": self.definition_sha256,
            "Started": self.started,
            "Ended": self.ended,
            "FailureReason": self.failure_reason,
            "Steps": [s.to_dict() for s in self.steps],
        }


class RunHistory:
    """Read and write the run history of a workspace (``<workspace>/runs.db``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = Database(self.path, _SCHEMA, _MIGRATIONS)
        self._connect = self.db.connect

    def close(self) -> None:
        """Release the database connection."""
        self.db.close()

    def start_execution(
        self,
        execution_id: str,
        *,
        pipeline_name: str,
        parameters: dict[str, Any],
        definition_sha256: str,
        started: str,
        steps: list[tuple[str, str]],
    ) -> None:
        """Record a new execution and its steps (all ``Pending``)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO executions(id, pipeline_name, status, parameters, definition_sha256,"
                " started, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    execution_id,
                    pipeline_name,
                    ExecutionState.EXECUTING,
                    json.dumps(parameters, sort_keys=True),
                    definition_sha256,
                    started,
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
            conn.executemany(
                "INSERT INTO step_runs(execution_id, name, type, status) VALUES (?, ?, ?, ?)",
                [(execution_id, name, kind, StepState.PENDING) for name, kind in steps],
            )

    def update_step(self, execution_id: str, step: StepRun) -> None:
        """Write the current state of one step."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE step_runs SET status = ?, started = ?, ended = ?, duration_seconds = ?,"
                " cache_hit = ?, log_path = ?, failure_reason = ?, properties = ?"
                " WHERE execution_id = ? AND name = ?",
                (
                    step.status,
                    step.started,
                    step.ended,
                    step.duration_seconds,
                    int(step.cache_hit),
                    step.log_path,
                    step.failure_reason,
                    json.dumps(step.properties, sort_keys=True, default=str),
                    execution_id,
                    step.name,
                ),
            )

    def finish_execution(
        self, execution_id: str, *, status: str, ended: str, failure_reason: str | None
    ) -> None:
        """Record the final status of an execution."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE executions SET status = ?, ended = ?, failure_reason = ? WHERE id = ?",
                (status, ended, failure_reason, execution_id),
            )

    def mark_abandoned(self, now: str) -> list[str]:
        """Mark executions whose executor process died (e.g. SIGKILL) as ``Stopped``."""
        host = socket.gethostname()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT id, pid FROM executions WHERE status = ? AND host = ?",
                (ExecutionState.EXECUTING, host),
            ).fetchall()
            dead = [r["id"] for r in rows if not _alive(r["pid"])]
        for execution_id in dead:
            reason = "the executor process ended without finishing (killed?)"
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE executions SET status = ?, ended = ?, failure_reason = ?"
                    " WHERE id = ? AND status = ?",
                    (ExecutionState.STOPPED, now, reason, execution_id, ExecutionState.EXECUTING),
                )
                conn.execute(
                    "UPDATE step_runs SET status = ?, ended = ?"
                    " WHERE execution_id = ? AND status IN (?, ?)",
                    (StepState.STOPPED, now, execution_id, StepState.EXECUTING, StepState.STARTING),
                )
                conn.execute(
                    "UPDATE step_runs SET status = ? WHERE execution_id = ? AND status = ?",
                    (StepState.NOT_EXECUTED, execution_id, StepState.PENDING),
                )
        return dead

    def list_executions(
        self, limit: int | None = None, pipelines: Sequence[str] | None = None
    ) -> list[ExecutionRecord]:
        """Executions, newest first, with their steps; only those of ``pipelines`` if given."""
        if not self.path.exists() or (pipelines is not None and not pipelines):
            return []
        with self._connect() as conn:
            query, values = "SELECT * FROM executions", list(pipelines or [])
            if pipelines is not None:
                query += f" WHERE pipeline_name IN ({', '.join('?' * len(values))})"
            query += " ORDER BY started DESC, id DESC"
            if limit is not None:
                query += f" LIMIT {int(limit)}"
            return [self._record(conn, r) for r in conn.execute(query, values).fetchall()]

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        """One execution, or None."""
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM executions WHERE id = ?", (execution_id,)).fetchone()
            return self._record(conn, row) if row else None

    @staticmethod
    def _record(conn: sqlite3.Connection, row: sqlite3.Row) -> ExecutionRecord:
        steps = [
            StepRun(
                name=s["name"],
                type=s["type"],
                status=s["status"],
                started=s["started"],
                ended=s["ended"],
                duration_seconds=s["duration_seconds"],
                cache_hit=bool(s["cache_hit"]),
                log_path=s["log_path"],
                failure_reason=s["failure_reason"],
                properties=json.loads(s["properties"]) if s["properties"] else {},
            )
            for s in conn.execute(
                "SELECT * FROM step_runs WHERE execution_id = ? ORDER BY rowid", (row["id"],)
            )
        ]
        return ExecutionRecord(
            id=row["id"],
            pipeline_name=row["pipeline_name"],
            status=row["status"],
            parameters=json.loads(row["parameters"]),
            definition_sha256=row["definition_sha256"],
            started=row["started"],
            ended=row["ended"],
            failure_reason=row["failure_reason"],
            steps=steps,
        )


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
