"""The content-keyed step cache (table ``step_cache`` in ``runs.db``).

An entry is written in one transaction only after the step's outputs are completely in
place, so a run killed mid-step never leaves an entry that points at partial outputs.
A hit is only used after the recorded output digests are checked again.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage.sqlite import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS step_cache (
    key TEXT PRIMARY KEY,
    step_name TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    created TEXT NOT NULL,
    properties TEXT NOT NULL,
    outputs TEXT NOT NULL
);
"""
# Schema upgrades, oldest first: _SCHEMA is version 1, entry i moves version i+1 to i+2.
# When a template update changes a table here, append its ALTER script; never edit _SCHEMA's
# meaning in place (old workspaces are upgraded by these scripts, see storage/sqlite.py).
_MIGRATIONS: tuple[str, ...] = ()

_DURATION = re.compile(
    r"^P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_expire_after(text: str | None) -> _dt.timedelta | None:
    """Parse CacheConfig's ISO 8601 ``ExpireAfter`` (``P30D``, ``PT1H``); None = never."""
    if not text:
        return None
    m = _DURATION.match(text)
    if not m or text in ("P", "PT"):
        raise ValueError(
            f"CacheConfig ExpireAfter {text!r} is not an ISO 8601 duration: "
            "write e.g. P30D or PT12H"
        )
    g = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
    days = g["y"] * 365 + g["mo"] * 30 + g["w"] * 7 + g["d"]
    return _dt.timedelta(days=days, hours=g["h"], minutes=g["mi"], seconds=g["s"])


@dataclass(frozen=True)
class CacheEntry:
    """A successful step run that later runs may reuse."""

    key: str
    step_name: str
    execution_id: str
    created: str
    properties: dict[str, Any]
    outputs: dict[str, str]  # s3 uri -> content digest at the time of the run


class StepCache:
    """Lookup and store of cache entries."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.db = Database(self.db_path, _SCHEMA, _MIGRATIONS)

    def close(self) -> None:
        """Release the database connection."""
        self.db.close()

    def lookup(self, key: str, *, expire_after: _dt.timedelta | None) -> CacheEntry | None:
        """The entry for ``key`` unless it is older than ``expire_after``."""
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT key, step_name, execution_id, created, properties, outputs"
                " FROM step_cache WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        entry = CacheEntry(
            key=row[0],
            step_name=row[1],
            execution_id=row[2],
            created=row[3],
            properties=json.loads(row[4]),
            outputs=json.loads(row[5]),
        )
        if expire_after is not None:
            created = _dt.datetime.fromisoformat(entry.created)
            if _dt.datetime.now(_dt.timezone.utc) - created > expire_after:
                return None
        return entry

    def store(self, entry: CacheEntry) -> None:
        """Insert or replace an entry (one atomic transaction)."""
        with self.db.connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO step_cache VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.key,
                    entry.step_name,
                    entry.execution_id,
                    entry.created,
                    json.dumps(entry.properties, sort_keys=True, default=str),
                    json.dumps(entry.outputs, sort_keys=True),
                ),
            )
