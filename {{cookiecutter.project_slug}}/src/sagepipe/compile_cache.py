"""Skip recompiling when no source changed: a cached re-run should not import the world.

Building a pipeline imports its step modules, and with them pandas, scikit-learn and
great-expectations: seconds of work that a fully cached re-run otherwise does not need.
Compilation is a pure function of the source files and the compile settings, so its
result can be keyed on their content and reused::

    cache = CompileCache(workspace / "compiled")
    key = cache.key([package_dir, sagepipe_dir], settings=settings_as_dict)
    definition = cache.load(key, s3_root)
    if definition is None:
        compiled = compile_definition(settings)
        compiled.write_artifacts(s3_root)
        definition = cache.store(key, compiled)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .compile import Compiled
from .packaging import read_tree

# Bumped when the compiler's output changes for the same sources.
CACHE_FORMAT = "sagepipe-compile-cache-v1"


class CompileCache:
    """Compiled definitions in a folder, keyed by the digest of their inputs."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def key(self, roots: Iterable[Path], *, settings: Mapping[str, Any]) -> str:
        """Digest of every source file under ``roots`` and of the compile ``settings``."""
        digest = hashlib.sha256(CACHE_FORMAT.encode() + b"\n")
        for root in sorted(Path(r).resolve() for r in roots):
            digest.update(f"root\0{root}\n".encode())
            for path, data in sorted(read_tree(root).items()):
                digest.update(f"{path}\0{hashlib.sha256(data).hexdigest()}\n".encode())
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
        return digest.hexdigest()

    def load(self, key: str, s3_root: Path) -> dict[str, Any] | None:
        """Return the cached definition for ``key`` if its code objects are still in place."""
        entry = self.folder / f"{key}.json"
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for uri in record.get("artifacts", []):
            if not (Path(s3_root) / uri.removeprefix("s3://")).is_file():
                return None  # someone cleaned the workspace: compile again
        definition: dict[str, Any] = record["definition"]
        return definition

    def store(self, key: str, compiled: Compiled) -> dict[str, Any]:
        """Remember ``compiled`` under ``key`` (atomically) and return its definition."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"definition": compiled.definition, "artifacts": sorted(compiled.artifacts)}
        entry = self.folder / f"{key}.json"
        temporary = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        os.replace(temporary, entry)
        return compiled.definition
