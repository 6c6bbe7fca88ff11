"""The content-keyed step cache (table ``step_cache`` in ``runs.db``) and its keys.

A job's key is the sha256 of its resolved arguments with every input URI replaced by the
digest of the content there, so a re-run hits when the inputs' *content* is unchanged,
wherever it came from. An entry is written in one transaction only after the step's
outputs are completely in place, so a run killed mid-step never leaves an entry that
points at partial outputs. A hit is only used after the recorded output digests are
checked again.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage.sqlite import Database
from .expressions import step_references

# Execution ids inside arguments (e.g. default output prefixes) must not defeat the cache.
EXECUTION_ID_PATTERN = re.compile(r"exec-\d{8}-\d{6}-[0-9a-f]{6}")
CODE_INPUT_PREFIX = "/opt/ml/processing/input/code"

# label -> content digest, per group: "code", "data" (lineage roots) and "upstream"
# (outputs of other steps of the pipeline).
InputGroups = dict[str, dict[str, str]]
Digest = Callable[[str], str]  # s3 uri -> content digest

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


def reusable_entry(
    cache: StepCache, key: str, expire_after: str | None, digest: Digest
) -> CacheEntry | None:
    """The entry for ``key`` if it has not expired and its outputs are still intact."""
    entry = cache.lookup(key, expire_after=parse_expire_after(expire_after))
    if entry is None or any(digest(uri) != d for uri, d in entry.outputs.items()):
        return None
    return entry


def cache_key(step_type: str, keyed_arguments: Mapping[str, Any], property_files: Any) -> str:
    """The key of a job: its type, content-keyed arguments and declared property files."""
    document = {
        "Type": step_type,
        "Arguments": keyed_arguments,
        "PropertyFiles": property_files or [],
    }
    text = json.dumps(document, sort_keys=True, default=str)
    text = EXECUTION_ID_PATTERN.sub("<execution-id>", text)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def engine_digest(*packages: str) -> str:
    """The sha256 of the engine's own code in ``packages`` (folders or files of ``sagepipe``).

    A check step's analysis is this code, not the project's: it keys the check's cache
    entries, so an engine update that changes an analysis (``cruft update``) is never
    answered from results the old code computed. Read once per process (tens of files).
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in packages:
        place = root / package
        for path in [place] if place.is_file() else sorted(place.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _start(args: Mapping[str, Any]) -> tuple[dict[str, Any], InputGroups]:
    return json.loads(json.dumps(args)), {"code": {}, "data": {}, "upstream": {}}


def processing_inputs(
    args: Mapping[str, Any], written: Mapping[str, Any], digest: Digest
) -> tuple[dict[str, Any], InputGroups]:
    """A Processing job's arguments content-keyed, and its inputs sorted into groups.

    ``written`` are the arguments as the definition wrote them: an input whose URI was
    an expression on another step's properties is ``upstream``, not a lineage root.
    """
    keyed, groups = _start(args)
    raw_inputs = written.get("ProcessingInputs") or []
    for i, item in enumerate(keyed.get("ProcessingInputs") or []):
        source = item.get("S3Input")
        if not source:
            continue
        d = digest(source["S3Uri"])
        source["S3Uri"] = f"content:{d}"
        label = item.get("InputName") or str(i)
        raw_item = raw_inputs[i] if i < len(raw_inputs) else {}
        local = str(source.get("LocalPath", ""))
        if label == "code" or local.startswith(CODE_INPUT_PREFIX):
            groups["code"][label] = d
        elif step_references(raw_item):
            groups["upstream"][label] = d
        else:
            groups["data"][label] = d
    return keyed, groups


def training_inputs(
    args: Mapping[str, Any], written: Mapping[str, Any], digest: Digest
) -> tuple[dict[str, Any], InputGroups]:
    """A Training job's arguments content-keyed (channels and the submitted source)."""
    keyed, groups = _start(args)
    raw_channels = written.get("InputDataConfig") or []
    for i, channel in enumerate(keyed.get("InputDataConfig") or []):
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source:
            continue
        d = digest(source["S3Uri"])
        source["S3Uri"] = f"content:{d}"
        label = channel.get("ChannelName") or str(i)
        raw_channel = raw_channels[i] if i < len(raw_channels) else {}
        if label in ("code", "sm_drivers"):
            groups["code"][label] = d
        elif step_references(raw_channel):
            groups["upstream"][label] = d
        else:
            groups["data"][label] = d
    hps = keyed.get("HyperParameters") or {}
    submit = hps.get("sagemaker_submit_directory")
    if submit:
        uri = json.loads(submit) if submit.startswith('"') else submit
        d = digest(str(uri))
        hps["sagemaker_submit_directory"] = f"content:{d}"
        groups["code"]["sagemaker_submit_directory"] = d
    return keyed, groups


def transform_inputs(
    args: Mapping[str, Any], model: Mapping[str, Any], digest: Digest
) -> tuple[dict[str, Any], InputGroups]:
    """A Transform job's arguments content-keyed; the model record stands for its name."""
    keyed, groups = _start(args)
    source = ((keyed.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
    if source.get("S3Uri"):
        d = digest(str(source["S3Uri"]))
        source["S3Uri"] = f"content:{d}"
        groups["data"]["input"] = d
    keyed["Model"] = _content_keyed_container(model, groups, digest, "")
    if model.get("Containers"):
        # An inference pipeline: every container's model and code, by content.
        keyed["Model"]["Containers"] = [
            _content_keyed_container(c, groups, digest, f" {i + 1}")
            for i, c in enumerate(model["Containers"])
        ]
    keyed.pop("ModelName", None)
    return keyed, groups


def _content_keyed_container(
    container: Mapping[str, Any], groups: InputGroups, digest: Digest, suffix: str
) -> dict[str, Any]:
    keyed = {k: v for k, v in container.items() if k not in ("ModelName", "Containers")}
    if container.get("ModelDataUrl"):
        d = digest(str(container["ModelDataUrl"]))
        keyed["ModelDataUrl"] = f"content:{d}"
        groups["upstream"][f"model{suffix}"] = d
    environment = dict(container.get("Environment") or {})
    submit = str(environment.get("SAGEMAKER_SUBMIT_DIRECTORY") or "")
    if submit.startswith("s3://"):
        # A script-mode model's code (sourcedir.tar.gz): by content, like a training job's.
        d = digest(submit)
        environment["SAGEMAKER_SUBMIT_DIRECTORY"] = f"content:{d}"
        keyed["Environment"] = environment
        groups["code"][f"SAGEMAKER_SUBMIT_DIRECTORY{suffix}"] = d
    return keyed
