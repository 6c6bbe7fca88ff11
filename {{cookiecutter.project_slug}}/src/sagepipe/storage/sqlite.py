"""SQLite set-up shared by every store: connection pragmas, WAL schema, write transactions.

Every store records its schema version in the file's ``schema_versions`` table (one row per
store: several stores share ``runs.db``). A store's schema text is version 1; each entry of
its ``migrations`` moves it one version up, so a template update that changes a table adds a
migration and old workspaces are upgraded when first opened (stores made before versions
existed count as version 1).

``Database`` keeps one long-lived connection per store, shared by threads under a lock:
opening and closing a WAL database for every statement is slow (each last close
checkpoints the log). Stores whose objects are never closed (the model registry) use
``open_connection`` per call instead.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
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


class SchemaVersionError(ValueError):
    """The database was written by newer code than this (a downgraded project)."""


_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_versions (store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


def store_name(schema: str) -> str:
    """A store's name in ``schema_versions``: the first table its schema creates."""
    match = re.search(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", schema, re.IGNORECASE)
    if match is None:
        raise ValueError("a store's schema must create at least one table")
    return match.group(1)


def schema_version(conn: sqlite3.Connection, store: str) -> int:
    """The recorded schema version of ``store`` (0: not created, or made before versions)."""
    try:
        row = conn.execute("SELECT version FROM schema_versions WHERE store = ?", (store,))
        found = row.fetchone()
    except sqlite3.OperationalError:  # no schema_versions table yet
        return 0
    return int(found[0]) if found is not None else 0


def create_schema(conn: sqlite3.Connection, schema: str, migrations: Sequence[str] = ()) -> None:
    """Switch to WAL mode, create ``schema`` (version 1) and apply pending ``migrations``.

    ``migrations[0]`` upgrades version 1 to 2, and so on. Creation and upgrade run in one
    ``BEGIN IMMEDIATE`` transaction: two processes opening an old workspace at once migrate
    it once, and a failed migration leaves the store at its old version. A file that is not
    a readable database raises :class:`StorageError`.
    """
    try:
        _create_schema(conn, schema, migrations)
    except sqlite3.DatabaseError as err:
        # OperationalError is a lock or a failing migration statement: the file is fine.
        if isinstance(err, sqlite3.OperationalError):
            raise
        raise StorageError(broken_database_message(Path(_database_name(conn)), err)) from None


def _create_schema(conn: sqlite3.Connection, schema: str, migrations: Sequence[str]) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    store = store_name(schema)
    target = 1 + len(migrations)
    if schema_version(conn, store) == target:
        return  # the usual case: nothing to write, no write lock taken
    with immediate_transaction(conn):
        current = schema_version(conn, store)
        if current > target:
            raise SchemaVersionError(
                f"{_database_name(conn)}: {store} has schema version {current}, but this code "
                f"knows versions up to {target}: it was written by a newer version of the "
                "project; update the project (or use a fresh workspace)"
            )
        conn.execute(_VERSIONS)
        if current == 0:
            _run_script(conn, schema)
            current = 1
        for script in migrations[current - 1 :]:
            _run_script(conn, script)
        conn.execute(
            "INSERT OR REPLACE INTO schema_versions(store, version) VALUES (?, ?)",
            (store, target),
        )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT first; statement by statement keeps one transaction.
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def _database_name(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row is not None and row[2] else "the database"


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
    """A lazily opened connection to ``path`` that creates ``schema`` on first use.

    ``migrations`` upgrade older files (see :func:`create_schema`).
    """

    def __init__(self, path: Path, schema: str, migrations: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.schema = schema
        self.migrations = tuple(migrations)
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
                    create_schema(conn, self.schema, self.migrations)
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
