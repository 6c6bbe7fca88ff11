"""Verify a ``model.tar.gz`` against the digest the registry recorded, then unpack it once."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

from .errors import ModelLoadError


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str | None) -> str:
    """Return the artifact's digest; refuse it when it differs from the registered one."""
    if not path.is_file():
        raise ModelLoadError(
            f"model artifact {path} does not exist; was the training run cleaned up?"
        )
    actual = sha256_file(path)
    if not expected_sha256:
        raise ModelLoadError(
            f"no SHA-256 recorded for {path}; "
            "register the model with model_data_sha256 so it can be checked"
        )
    if actual != expected_sha256.lower():
        raise ModelLoadError(
            f"model artifact {path} has SHA-256 {actual[:12]}..., the registry recorded "
            f"{expected_sha256[:12]}...; the file changed after registration, re-run the pipeline"
        )
    return actual


def unpack(path: Path, expected_sha256: str | None, cache_root: Path) -> Path:
    """Verify ``model.tar.gz`` and unpack it to ``cache_root/<sha256>/`` (reused when present)."""
    digest = verify(path, expected_sha256)
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
        with tarfile.open(path, "r:*") as archive:
            for member in archive.getmembers():
                _check_member(member, path)
            archive.extractall(staging)
        try:
            os.replace(staging, target)  # atomic: a half-unpacked model is never visible
        except OSError:
            if not target.is_dir():
                raise
    except tarfile.TarError as err:
        raise ModelLoadError(
            f"{path} is not a readable tar.gz ({err}); re-run the training step"
        ) from err
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
                    expected[str(PurePosixPath(member.name))] = hashlib.sha256(
                        stream.read()
                    ).hexdigest()
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
            found[path.relative_to(target).as_posix()] = sha256_file(path)
    return found == expected


def _check_member(member: tarfile.TarInfo, path: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ModelLoadError(
            f"{path} contains the unsafe path {member.name!r}; refusing to unpack it"
        )
    if not (member.isfile() or member.isdir()):
        raise ModelLoadError(
            f"{path} contains {member.name!r}, which is not a regular file or folder; "
            "refusing to unpack it"
        )
