"""Deployment history and smoke-test results, in ``<workspace>/deployments.db`` (SQLite).

Every deploy, promote, rollback and undeploy is one row (who, when, which version, which
stage), and every smoke test one row: promotion gates read them.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..storage.sqlite import create_schema, open_connection

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    host TEXT NOT NULL,
    action TEXT NOT NULL,
    stage TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model_package_group TEXT NOT NULL,
    version INTEGER,
    shadow_version INTEGER,
    url TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS smoke_tests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    stage TEXT NOT NULL,
    model_package_group TEXT NOT NULL,
    version INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    details TEXT NOT NULL
);
"""
# Schema upgrades, oldest first: _SCHEMA is version 1, entry i moves version i+1 to i+2
# (see storage/sqlite.py). Append an ALTER script here when a table changes.
_MIGRATIONS: tuple[str, ...] = ()


@dataclass
class Deployment:
    """One recorded deployment action."""

    id: int
    at: str
    user: str
    host: str
    action: str
    stage: str
    endpoint: str
    model_package_group: str
    version: int | None
    shadow_version: int | None
    url: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class DeploymentHistory:
    """Append-only log of deployments and smoke tests."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._initialised = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call, like the registry's: deploy commands and serving
        # workers that record history are short-lived or never close it.
        conn = open_connection(self.path)
        try:
            if not self._initialised:
                create_schema(conn, _SCHEMA, _MIGRATIONS)
                self._initialised = True
            yield conn
        finally:
            conn.close()

    def record(
        self,
        *,
        action: str,
        stage: str,
        endpoint: str,
        group: str,
        version: int | None,
        shadow_version: int | None = None,
        url: str = "",
        note: str = "",
    ) -> Deployment:
        """Append one deployment action and return it."""
        row = (
            _now(),
            _user(),
            socket.gethostname(),
            action,
            stage,
            endpoint,
            group,
            version,
            shadow_version,
            url,
            note,
        )
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO deployments (at, user, host, action, stage, endpoint, "
                "model_package_group, version, shadow_version, url, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return Deployment(int(cursor.lastrowid or 0), *row)

    def deployments(self, stage: str | None = None) -> list[Deployment]:
        """All actions, oldest first, optionally for one stage."""
        query = "SELECT * FROM deployments"
        args: tuple[Any, ...] = ()
        if stage:
            query += " WHERE stage = ?"
            args = (stage,)
        with self._connect() as conn:
            return [Deployment(*row) for row in conn.execute(query + " ORDER BY id", args)]

    def record_smoke_test(
        self, *, stage: str, group: str, version: int, passed: bool, details: dict[str, Any]
    ) -> None:
        """Store the outcome of one smoke test."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO smoke_tests "
                "(at, user, stage, model_package_group, version, passed, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now(), _user(), stage, group, version, int(passed), json.dumps(details)),
            )

    def last_smoke_test(self, stage: str, group: str, version: int) -> dict[str, Any] | None:
        """The latest smoke test of a version on a stage: ``{"passed": bool, "at": ..., ...}``."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT at, passed, details FROM smoke_tests WHERE stage = ? AND "
                "model_package_group = ? AND version = ? ORDER BY id DESC LIMIT 1",
                (stage, group, version),
            ).fetchone()
        if row is None:
            return None
        return {"at": row[0], "passed": bool(row[1]), **json.loads(row[2])}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")
