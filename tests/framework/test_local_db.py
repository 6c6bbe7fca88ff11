"""Every workspace database records a schema version and upgrades old files in place."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sagepipe.registry import ModelRegistry
from sagepipe.storage.sqlite import (
    Database,
    SchemaVersionError,
    create_schema,
    open_connection,
    schema_version,
)

V1 = "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, status TEXT NOT NULL);"
ADD_OWNER = "ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT 'unknown';"


def _columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[1] for row in conn.execute("PRAGMA table_info(runs)")]


def test_a_new_database_gets_the_schema_and_its_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db", V1, [ADD_OWNER])
    with db.connect() as conn:
        assert schema_version(conn, "runs") == 2
    db.close()
    assert _columns(tmp_path / "a.db") == ["id", "status", "owner"]


def test_an_old_workspace_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # A workspace written before schema versions existed: tables, rows, user_version 0.
    with sqlite3.connect(path) as conn:
        conn.executescript(V1 + "INSERT INTO runs VALUES ('r1', 'Succeeded');")

    db = Database(path, V1, [ADD_OWNER])
    with db.connect() as conn:
        rows = [tuple(row) for row in conn.execute("SELECT id, status, owner FROM runs")]
        version = schema_version(conn, "runs")
    db.close()

    assert rows == [("r1", "Succeeded", "unknown")]
    assert version == 2


def test_a_failed_migration_leaves_the_old_version_and_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Database(path, V1).connect() as first:
        first.execute("INSERT INTO runs VALUES ('r1', 'x')")
    conn = open_connection(path)
    with pytest.raises(sqlite3.OperationalError):
        create_schema(conn, V1, [ADD_OWNER + "\nALTER TABLE missing ADD COLUMN y TEXT;"])
    assert schema_version(conn, "runs") == 1
    assert "owner" not in _columns(path)
    conn.close()


def test_a_database_from_newer_code_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Database(path, V1, [ADD_OWNER, "SELECT 1;"]).connect():
        pass
    newer = r"schema version 3.*up to 2.*update the project"
    with pytest.raises(SchemaVersionError, match=newer), Database(path, V1, [ADD_OWNER]).connect():
        pass


def test_the_workspace_stores_record_their_schema_version(tmp_path: Path) -> None:
    registry = ModelRegistry.for_workspace(tmp_path / "ws")
    registry.create_model_package("churn", model_data_url=None)
    with sqlite3.connect(tmp_path / "ws" / "registry.db") as conn:
        assert schema_version(conn, "model_package_groups") >= 1


def test_stores_sharing_one_file_keep_separate_versions(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    other = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY);"
    with Database(path, V1, [ADD_OWNER]).connect(), Database(path, other).connect() as conn:
        assert (schema_version(conn, "runs"), schema_version(conn, "notes")) == (2, 1)
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0


def test_two_processes_opening_an_old_database_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1)
    src = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from sagepipe.storage.sqlite import Database;"
        f"db = Database(__import__('pathlib').Path(sys.argv[1]), {V1!r}, [{ADD_OWNER!r}]);"
        "db.connect().__enter__(); db.close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(src)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [proc.communicate(timeout=60)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], errors
    assert _columns(path) == ["id", "status", "owner"]
