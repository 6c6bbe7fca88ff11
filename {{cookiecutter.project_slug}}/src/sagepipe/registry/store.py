"""SQLite-backed model registry (one file, WAL mode, safe for concurrent processes).

Version numbers are allocated inside ``BEGIN IMMEDIATE`` transactions, which take the
database's write lock before reading the current maximum: two runs registering at the
same moment get consecutive versions, never the same one, and a run killed mid-way
leaves either a complete version or none.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..storage import objects as _s3
from ..storage.digests import file_sha256, verify_artifact
from ..storage.sqlite import StorageError, create_schema, immediate_transaction, open_connection
from .model import (
    APPROVAL_STATUSES,
    APPROVED,
    GROUP_NAME_PATTERN,
    LOCAL_ARN_PREFIX,
    PENDING,
    VALID_TRANSITIONS,
    ApprovalEvent,
    Lineage,
    ModelPackage,
    ModelPackageNotFound,
    RegistryError,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_package_groups (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    creation_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_packages (
    group_name TEXT NOT NULL REFERENCES model_package_groups(name),
    version INTEGER NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    approval_status TEXT NOT NULL,
    approval_description TEXT NOT NULL DEFAULT '',
    model_data_url TEXT,
    model_data_path TEXT,
    model_data_sha256 TEXT,
    image TEXT,
    inference_specification TEXT NOT NULL,
    model_metrics TEXT NOT NULL,
    drift_check_baselines TEXT NOT NULL,
    customer_metadata TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    lineage TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    last_modified_time TEXT NOT NULL,
    PRIMARY KEY (group_name, version)
);
CREATE TABLE IF NOT EXISTS approval_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
"""
# Schema upgrades, oldest first: _SCHEMA is version 1, entry i moves version i+1 to i+2.
# When a template update changes a table here, append its ALTER script; never edit _SCHEMA's
# meaning in place (old workspaces are upgraded by these scripts, see storage/sqlite.py).
_MIGRATIONS: tuple[str, ...] = ()


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds (sorts as text)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def parse_version(text: str | int) -> int | str:
    """Parse a CLI version argument: a positive number or ``latest``."""
    if isinstance(text, int):
        value = text
    else:
        cleaned = str(text).strip().lower()
        if cleaned == "latest":
            return "latest"
        if not cleaned.isdigit():
            raise RegistryError(
                f"version {text!r} is not valid: use a positive number (1, 2, ...) or 'latest'"
            )
        value = int(cleaned)
    if value < 1:
        raise RegistryError(f"version {text!r} is not valid: versions start at 1")
    return value


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return os.environ.get("USER", "unknown")


def _refuse_a_lost_registry(path: Path) -> None:
    """Refuse to start a new, empty registry where one evidently existed.

    Unpacked models (``models/<sha256>/`` folders, which serving writes) or a deployment
    history next to a missing or empty ``registry.db`` mean the registry was lost: starting
    again would hand out version 1 a second time, for a different model. Files directly in
    ``models/`` are not evidence: sagepipe 0.5.0 and earlier kept Model (CreateModel) step
    records there (``models/<model name>.json``), which a pipeline writes before it
    registers anything.
    """
    if path.is_file() and path.stat().st_size > 0:
        return
    folder = path.parent
    models = folder / "models"
    unpacked = models.is_dir() and any(
        child.is_dir() and not child.name.startswith(".") for child in models.iterdir()
    )
    history = folder / "deployments.db"
    evidence = [str(models)] if unpacked else []
    if history.is_file() and history.stat().st_size > 0:
        evidence.append(str(history))
    if evidence:
        state = "empty" if path.exists() else "missing"
        raise StorageError(
            f"{path} is {state}, but {evidence[0]} shows models were registered here; "
            f"restore registry.db from a backup, or move {folder} aside to start afresh"
        )


class ModelRegistry:
    """The local model registry: ``ModelRegistry(workspace / "registry.db")``.

    ``s3_root`` (default: ``registry.db``'s folder + ``/s3``) maps ``ModelDataUrl`` to a
    local path. Opening the registry creates the database file if needed; nothing
    happens at import time.
    """

    def __init__(self, path: Path | str, *, s3_root: Path | str | None = None) -> None:
        self.path = Path(path)
        self.s3_root = Path(s3_root) if s3_root is not None else self.path.parent / "s3"
        self._initialised = False

    @classmethod
    def for_workspace(cls, workspace: Path | str) -> ModelRegistry:
        """The registry of a workspace (``<workspace>/registry.db``)."""
        return cls(Path(workspace) / "registry.db", s3_root=Path(workspace) / "s3")

    # -- connection handling -------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call (not one per registry object): registries are opened by
        # short-lived CLI commands and serving workers that never close them.
        if not self._initialised:
            _refuse_a_lost_registry(self.path)
        conn = open_connection(self.path)
        try:
            if not self._initialised:
                create_schema(conn, _SCHEMA, _MIGRATIONS)
                self._initialised = True
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the lock from its first statement."""
        with self._connect() as conn, immediate_transaction(conn):
            yield conn

    # -- writes --------------------------------------------------------------------------
    def create_model_package(
        self,
        group: str,
        *,
        model_data_url: str | None,
        approval_status: str = PENDING,
        image: str | None = None,
        inference_specification: Mapping[str, Any] | None = None,
        model_metrics: Mapping[str, Any] | None = None,
        drift_check_baselines: Mapping[str, Any] | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        description: str = "",
        lineage: Lineage | None = None,
        model_data_path: Path | str | None = None,
        model_data_sha256: str | None = None,
        created_by: str | None = None,
    ) -> ModelPackage:
        """Register a new version in ``group`` (created on first use) and return it.

        ``model_data_path`` defaults to the local path of ``model_data_url`` and
        ``model_data_sha256`` to that file's digest when it exists. Like SageMaker's
        CreateModelPackage this always adds a version; :meth:`register` does not repeat one.
        """
        package, _ = self._create(
            group,
            model_data_url=model_data_url,
            approval_status=approval_status,
            image=image,
            inference_specification=inference_specification,
            model_metrics=model_metrics,
            drift_check_baselines=drift_check_baselines,
            customer_metadata=customer_metadata,
            description=description,
            lineage=lineage,
            model_data_path=model_data_path,
            model_data_sha256=model_data_sha256,
            created_by=created_by,
        )
        return package

    def register(
        self,
        group: str,
        *,
        model_data_url: str | None,
        approval_status: str = PENDING,
        image: str | None = None,
        inference_specification: Mapping[str, Any] | None = None,
        model_metrics: Mapping[str, Any] | None = None,
        drift_check_baselines: Mapping[str, Any] | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        description: str = "",
        lineage: Lineage | None = None,
        model_data_path: Path | str | None = None,
        model_data_sha256: str | None = None,
        created_by: str | None = None,
    ) -> tuple[ModelPackage, bool]:
        """Register ``model_data_url`` unless it is already ``group``'s latest version.

        Returns ``(package, created)``. When the artifact's sha256 equals the latest version's,
        nothing is written and that version comes back with ``created=False``: an unchanged,
        fully cached re-run must not pile up identical versions.
        """
        return self._create(
            group,
            model_data_url=model_data_url,
            approval_status=approval_status,
            image=image,
            inference_specification=inference_specification,
            model_metrics=model_metrics,
            drift_check_baselines=drift_check_baselines,
            customer_metadata=customer_metadata,
            description=description,
            lineage=lineage,
            model_data_path=model_data_path,
            model_data_sha256=model_data_sha256,
            created_by=created_by,
            reuse_latest=True,
        )

    def _create(
        self,
        group: str,
        *,
        model_data_url: str | None,
        approval_status: str = PENDING,
        image: str | None = None,
        inference_specification: Mapping[str, Any] | None = None,
        model_metrics: Mapping[str, Any] | None = None,
        drift_check_baselines: Mapping[str, Any] | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        description: str = "",
        lineage: Lineage | None = None,
        model_data_path: Path | str | None = None,
        model_data_sha256: str | None = None,
        created_by: str | None = None,
        reuse_latest: bool = False,
    ) -> tuple[ModelPackage, bool]:
        if not isinstance(group, str) or not GROUP_NAME_PATTERN.match(group):
            raise RegistryError(
                f"model package group name {group!r} is not valid: use 1-63 letters, digits "
                "and hyphens, starting with a letter or digit (e.g. 'churn-model')"
            )
        _check_status(approval_status)
        if model_data_path is None and model_data_url and model_data_url.startswith("s3://"):
            model_data_path = _s3.uri_to_path(self.s3_root, model_data_url)
        local_path = Path(model_data_path) if model_data_path is not None else None
        if model_data_sha256 is None and local_path is not None and local_path.is_file():
            model_data_sha256 = file_sha256(local_path)
        spec = dict(inference_specification or {})
        if image is None:
            containers = spec.get("Containers") or []
            if containers and isinstance(containers[0], dict):
                image = containers[0].get("Image")
        lineage = lineage or Lineage()
        now = utc_now()
        by = created_by or _current_user()
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO model_package_groups(name, creation_time) VALUES (?, ?)",
                (group, now),
            )
            row = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_packages WHERE group_name = ?",
                (group,),
            ).fetchone()
            version = int(row[0])
            reused = (
                self._same_as_latest(conn, group, version, model_data_sha256)
                if reuse_latest
                else None
            )
            if reused is None:
                arn = f"{LOCAL_ARN_PREFIX}:model-package/{group.lower()}/{version}"
                conn.execute(
                    "INSERT INTO model_packages(group_name, version, arn, approval_status,"
                    " model_data_url, model_data_path, model_data_sha256, image,"
                    " inference_specification, model_metrics, drift_check_baselines,"
                    " customer_metadata, description, lineage, creation_time, last_modified_time)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        group,
                        version,
                        arn,
                        approval_status,
                        model_data_url,
                        str(local_path) if local_path is not None else None,
                        model_data_sha256,
                        image,
                        _dump(spec),
                        _dump(model_metrics or {}),
                        _dump(drift_check_baselines or {}),
                        _dump({str(k): str(v) for k, v in (customer_metadata or {}).items()}),
                        description,
                        _dump(lineage.to_dict()),
                        now,
                        now,
                    ),
                )
                conn.execute(
                    "INSERT INTO approval_events(group_name, version, from_status, to_status,"
                    " by_user, at, reason) VALUES (?, ?, NULL, ?, ?, ?, ?)",
                    (group, version, approval_status, by, now, "registered"),
                )
        if reused is not None:
            return self.describe(group, reused), False
        return self.describe(group, version), True

    @staticmethod
    def _same_as_latest(
        conn: sqlite3.Connection, group: str, next_version: int, sha256: str | None
    ) -> int | None:
        """The latest version of ``group`` when its artifact has digest ``sha256``, else None."""
        if not sha256 or next_version <= 1:
            return None
        row = conn.execute(
            "SELECT model_data_sha256 FROM model_packages WHERE group_name = ? AND version = ?",
            (group, next_version - 1),
        ).fetchone()
        return next_version - 1 if row is not None and row[0] == sha256 else None

    def update_approval_status(
        self,
        group: str,
        version: int | str,
        status: str,
        *,
        reason: str = "",
        by: str | None = None,
    ) -> ModelPackage:
        """Approve or reject a version (``version`` may be ``"latest"``).

        Setting the status it already has is a no-op; a transition SageMaker forbids
        (back to ``PendingManualApproval``) raises :class:`RegistryError`.
        """
        _check_status(status)
        who = by or _current_user()
        with self._write() as conn:
            number = self._resolve_version(conn, group, version)
            row = conn.execute(
                "SELECT approval_status FROM model_packages WHERE group_name = ? AND version = ?",
                (group, number),
            ).fetchone()
            current = row["approval_status"]
            if current != status:
                if status not in VALID_TRANSITIONS[current]:
                    raise RegistryError(
                        f"cannot change {group} version {number} from {current} to {status}: "
                        f"allowed from {current} is "
                        f"{' or '.join(sorted(VALID_TRANSITIONS[current]))}"
                    )
                now = utc_now()
                conn.execute(
                    "UPDATE model_packages SET approval_status = ?, approval_description = ?,"
                    " last_modified_time = ? WHERE group_name = ? AND version = ?",
                    (status, reason, now, group, number),
                )
                conn.execute(
                    "INSERT INTO approval_events(group_name, version, from_status, to_status,"
                    " by_user, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (group, number, current, status, who, now, reason),
                )
        return self.describe(group, number)

    def approve(
        self, group: str, version: int | str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Shorthand for ``update_approval_status(group, version, "Approved")``."""
        return self.update_approval_status(group, version, APPROVED, reason=reason, by=by)

    def reject(
        self, group: str, version: int | str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Shorthand for ``update_approval_status(group, version, "Rejected")``."""
        return self.update_approval_status(group, version, "Rejected", reason=reason, by=by)

    # -- reads ---------------------------------------------------------------------------
    def list_groups(self) -> list[str]:
        """Names of all model package groups, sorted."""
        if not self.path.exists():
            return []
        with self._connect() as conn:
            rows = conn.execute("SELECT name FROM model_package_groups ORDER BY name").fetchall()
        return [r["name"] for r in rows]

    def list_model_packages(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        """All versions (of one group, or of all), oldest first; optionally by status."""
        if status is not None:
            _check_status(status)
        if not self.path.exists():
            return []
        query = "SELECT * FROM model_packages"
        clauses: list[str] = []
        args: list[Any] = []
        if group is not None:
            clauses.append("group_name = ?")
            args.append(group)
        if status is not None:
            clauses.append("approval_status = ?")
            args.append(status)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY group_name, version"
        with self._connect() as conn:
            rows = conn.execute(query, args).fetchall()
            return [self._package(conn, r) for r in rows]

    def describe(self, group: str, version: int | str = "latest") -> ModelPackage:
        """One version (a number or ``"latest"``) with its approval history."""
        with self._connect() as conn:
            number = self._resolve_version(conn, group, version)
            row = conn.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND version = ?",
                (group, number),
            ).fetchone()
            return self._package(conn, row)

    def latest_approved(self, group: str) -> ModelPackage | None:
        """The highest ``Approved`` version of ``group``, or None."""
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM model_packages WHERE group_name = ? AND approval_status = ?"
                " ORDER BY version DESC LIMIT 1",
                (group, APPROVED),
            ).fetchone()
            return self._package(conn, row) if row is not None else None

    def approval_history(self, group: str, version: int | str) -> list[ApprovalEvent]:
        """Every status change of one version, oldest first."""
        return list(self.describe(group, version).approval_history)

    def verify_model_data(self, package: ModelPackage) -> Path:
        """Return the local ``model.tar.gz`` after checking it still has its registered digest."""
        artifact = f"model data of {package.group} version {package.version}"
        path = package.model_data_path
        verify_artifact(path, package.model_data_sha256, artifact=artifact, error=RegistryError)
        return Path(str(path))  # not None: verify_artifact refuses a missing file

    # -- helpers -------------------------------------------------------------------------
    def _resolve_version(self, conn: sqlite3.Connection, group: str, version: int | str) -> int:
        wanted = parse_version(version)
        if wanted == "latest":
            row = conn.execute(
                "SELECT MAX(version) FROM model_packages WHERE group_name = ?", (group,)
            ).fetchone()
            if row[0] is None:
                raise ModelPackageNotFound(self._missing_group_message(conn, group))
            return int(row[0])
        row = conn.execute(
            "SELECT version FROM model_packages WHERE group_name = ? AND version = ?",
            (group, wanted),
        ).fetchone()
        if row is None:
            top = conn.execute(
                "SELECT MAX(version) FROM model_packages WHERE group_name = ?", (group,)
            ).fetchone()[0]
            if top is None:
                raise ModelPackageNotFound(self._missing_group_message(conn, group))
            raise ModelPackageNotFound(
                f"model package group {group!r} has no version {wanted}: "
                f"versions are 1 to {top} (or use 'latest')"
            )
        return int(row[0])

    @staticmethod
    def _missing_group_message(conn: sqlite3.Connection, group: str) -> str:
        names = [r[0] for r in conn.execute("SELECT name FROM model_package_groups ORDER BY name")]
        known = ", ".join(names) if names else "none yet"
        return (
            f"model package group {group!r} has no versions: known groups are {known}; "
            "run the pipeline to register one"
        )

    @staticmethod
    def _package(conn: sqlite3.Connection, row: sqlite3.Row) -> ModelPackage:
        events = conn.execute(
            "SELECT * FROM approval_events WHERE group_name = ? AND version = ? ORDER BY id",
            (row["group_name"], row["version"]),
        ).fetchall()
        return ModelPackage(
            group=row["group_name"],
            version=int(row["version"]),
            arn=row["arn"],
            approval_status=row["approval_status"],
            model_data_url=row["model_data_url"],
            model_data_path=Path(row["model_data_path"]) if row["model_data_path"] else None,
            model_data_sha256=row["model_data_sha256"],
            image=row["image"],
            inference_specification=json.loads(row["inference_specification"]),
            model_metrics=json.loads(row["model_metrics"]),
            drift_check_baselines=json.loads(row["drift_check_baselines"]),
            customer_metadata=json.loads(row["customer_metadata"]),
            description=row["description"],
            creation_time=row["creation_time"],
            last_modified_time=row["last_modified_time"],
            approval_description=row["approval_description"],
            lineage=Lineage.from_dict(json.loads(row["lineage"])),
            approval_history=tuple(
                ApprovalEvent(
                    group=e["group_name"],
                    version=int(e["version"]),
                    from_status=e["from_status"],
                    to_status=e["to_status"],
                    by=e["by_user"],
                    at=e["at"],
                    reason=e["reason"],
                )
                for e in events
            ),
        )


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(
            f"approval status {status!r} is not valid: use one of {', '.join(APPROVAL_STATUSES)}"
        )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
