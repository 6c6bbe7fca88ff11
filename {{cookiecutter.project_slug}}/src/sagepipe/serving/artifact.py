"""Verify a ``model.tar.gz`` against the digest the registry recorded, then unpack it once."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

from ..storage import archives
from ..storage.digests import bytes_sha256, file_sha256, verify_artifact
from .errors import ModelLoadError


def unpack(path: Path, expected_sha256: str | None, cache_root: Path) -> Path:
    """Verify ``model.tar.gz`` and unpack it to ``cache_root/<sha256>/`` (reused when present).

    The archive must have a recorded digest and match it (the strict check every caller
    uses); its members are checked by the one safe extractor before anything is written.
    """
    digest = verify_artifact(path, expected_sha256, artifact="model artifact", error=ModelLoadError)
    target = cache_root / digest
    if target.is_dir():
        if _unpacked_matches(path, target):
            return target
        # Edited, added or removed files under the cache: never serve them. Move the
        # folder aside (kept for inspection) and unpack the verified archive again.
        aside = cache_root / f".{digest[:12]}-modified-{os.getpid()}-{int(time.time())}"
        os.replace(target, aside)
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=cache_root))
    try:
        archives.extract(path, staging, error=ModelLoadError)
        try:
            os.replace(staging, target)  # atomic: a half-unpacked model is never visible
        except OSError:
            if not target.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _unpacked_matches(archive_path: Path, target: Path) -> bool:
    """True when ``target`` holds exactly the archive's files with the archive's bytes.

    The archive itself was just verified against the registered digest, so this ties the
    unpacked copy to the registry too. ``__pycache__`` folders (written when the handler is
    imported) are removed rather than trusted.
    """
    expected: dict[str, str] = {}
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                if member.isfile():
                    stream = archive.extractfile(member)
                    assert stream is not None
                    expected[str(PurePosixPath(member.name))] = bytes_sha256(stream.read())
    except tarfile.TarError:
        return False
    found: dict[str, str] = {}
    for root, dirs, files in os.walk(target):
        if "__pycache__" in dirs:
            shutil.rmtree(Path(root, "__pycache__"), ignore_errors=True)
            dirs.remove("__pycache__")
        for name in files:
            path = Path(root, name)
            if path.is_symlink():
                return False
            found[path.relative_to(target).as_posix()] = file_sha256(path)
    return found == expected
