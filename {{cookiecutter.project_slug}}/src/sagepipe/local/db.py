"""SQLite set-up shared by every store: connection pragmas, WAL schema, write transactions.

``Database`` keeps one long-lived connection per store, shared by threads under a lock:
opening and closing a WAL database for every statement is slow (each last close
checkpoints the log). Stores whose objects are never closed (the model registry) use
``open_connection`` per call instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..private import private_file


class StorageError(ValueError):
    """A database file that is corrupt or truncated; the message names it and the fix."""


def broken_database_message(path: Path, err: Exception) -> str:
    """One line: which file, what SQLite said, and how to recover."""
    return (
        f"{path} is not a readable SQLite database ({err}); move it aside "
        f"(mv {path} {path}.broken) and run again: runs.db is only history and cache, "
        "registry.db needs restoring from a backup (artifacts stay under s3/)"
    )


def open_connection(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open ``path`` (creating its folder) in autocommit mode with the pragmas every store uses.

    Rows come back as ``sqlite3.Row``; a locked database is waited on for up to 60 s.
    The file is created 0600 in a 0700 folder (SQLite gives its -wal/-shm files the
    database's mode). A file that is not a readable database raises :class:`StorageError`.
    """
    private_file(Path(path))
    conn = sqlite3.connect(
        path, timeout=60.0, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header page
            # NORMAL is durable against process crashes (SIGKILL) in WAL mode; only a
            # power cut may lose the newest transactions, never corrupt the file.
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as err:
            if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
                raise
            raise StorageError(broken_database_message(Path(path), err)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def create_schema(conn: sqlite3.Connection, schema: str) -> None:
    """Switch the database to WAL mode (a property of the file) and create ``schema``."""
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(schema)
    except sqlite3.DatabaseError as err:
        if isinstance(err, sqlite3.OperationalError) and "locked" in str(err):
            raise
        path = conn.execute("PRAGMA database_list").fetchone()[2]
        raise StorageError(broken_database_message(Path(path), err)) from None


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error) on ``conn``.

    IMMEDIATE takes the write lock before the first read, so a read-then-write inside
    the block cannot race another process doing the same.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """A lazily opened connection to ``path`` that creates ``schema`` on first use."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.schema = schema
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """The connection, held exclusively by the calling thread inside the block."""
        with self._lock:
            if self._conn is None:
                # Threads share the connection, serialised by self._lock.
                conn = open_connection(self.path, check_same_thread=False)
                try:
                    create_schema(conn, self.schema)
                except BaseException:
                    conn.close()
                    raise
                self._conn = conn
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error)."""
        with self.connect() as conn, immediate_transaction(conn):
            yield conn

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
