"""Content digests of local S3 objects and prefixes, memoised by file identity.

Re-hashing a large data set on every run would make cached re-runs slow, so each file's
sha256 is remembered together with its size, mtime and inode. Objects are only ever
replaced by rename (see ``objects.py``), which changes the inode, so a stale memo cannot
match.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .digests import bytes_sha256, file_sha256, manifest_sha256
from .sqlite import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""
# Schema upgrades, oldest first: _SCHEMA is version 1, entry i moves version i+1 to i+2.
# When a template update changes a table here, append its ALTER script; never edit _SCHEMA's
# meaning in place (old workspaces are upgraded by these scripts, see storage/sqlite.py).
_MIGRATIONS: tuple[str, ...] = ()


class DigestMemo:
    """sha256 of files and folders with a persistent memo in ``runs.db``."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.db = Database(db_path, _SCHEMA, _MIGRATIONS)
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[int, int, int, str]] = {}

    def close(self) -> None:
        """Release the database connection."""
        self.db.close()

    def file(self, path: Path) -> str:
        """sha256 of one file, from the memo when the file is unchanged."""
        st = os.stat(path)
        key = str(Path(path).resolve())
        ident = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            hit = self._memory.get(key)
            if hit and hit[:3] == ident:
                return hit[3]
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT size, mtime_ns, inode, sha256 FROM file_digests WHERE path = ?",
                (key,),
            ).fetchone()
        if row and tuple(row[:3]) == ident:
            digest = str(row[3])
        else:
            digest = file_sha256(path)
            with self.db.connect() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?, ?)",
                    (key, *ident, digest),
                )
        with self._lock:
            self._memory[key] = (*ident, digest)
        return digest

    def tree(self, path: Path) -> str:
        """Digest of a file (its name and bytes) or of a folder (relative names and bytes).

        Returns ``"missing"`` for a path that does not exist, so a vanished input changes
        every key that depends on it.
        """
        path = Path(path)
        if path.is_file():
            return bytes_sha256(f"file:{path.name}:{self.file(path)}".encode())
        if not path.is_dir():
            return "missing"
        entries = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if name.startswith(".") and ".tmp-" in name:
                    continue
                full = Path(root, name)
                entries.append((full.relative_to(path).as_posix(), self.file(full)))
        return manifest_sha256(entries)
