"""sha256, the engine's one content digest: of bytes, text and files, and the artifact check.

Domain digests (a code tree's manifest, a cache key, a data set's digest) are built on
these helpers where they live; this module only knows how to hash and how to compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

_CHUNK = 1 << 20  # 1 MiB: large model archives are hashed without being read whole


class DigestError(ValueError):
    """An artifact whose digest is missing or differs from the recorded one (one line)."""


def bytes_sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """Hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """Hex sha256 of one file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_sha256(entries: Iterable[tuple[str, str]], *, header: bytes = b"") -> str:
    """sha256 of ``header`` then one ``name\\0digest\\n`` line per entry, in the given order.

    The digest of a set of files (a code tree, a data set, a folder): it changes exactly
    when a name or a file's digest changes. Callers pass the entries sorted.
    """
    digest = hashlib.sha256(header)
    for name, content_digest in entries:
        digest.update(f"{name}\0{content_digest}\n".encode())
    return digest.hexdigest()


def verify_artifact(
    path: Path | str | None,
    expected_sha256: str | None,
    *,
    artifact: str,
    error: Callable[[str], Exception] = DigestError,
) -> str:
    """Return ``path``'s sha256 when it equals the recorded ``expected_sha256``.

    The one artifact check, and strict: an artifact without a recorded digest is refused
    too, because nothing then ties the bytes about to be served or deployed to what was
    registered. ``artifact`` names it in the message (``"model data of churn-model
    version 3"``); a missing file, a missing digest or a different one raises ``error``
    (the caller's own error type, :class:`DigestError` by default).
    """
    if path is None or not Path(path).is_file():
        raise error(f"{artifact} is missing at {path}: re-run the pipeline to rebuild it")
    path = Path(path)
    if not expected_sha256:
        raise error(
            f"{artifact}: no SHA-256 recorded for {path}; register the model with "
            "model_data_sha256 (the pipeline's register step records it) so it can be checked"
        )
    actual = file_sha256(path)
    if actual != expected_sha256.lower():
        raise error(
            f"{artifact}: {path} has SHA-256 {actual[:12]}..., the registry recorded "
            f"{expected_sha256[:12]}...; it changed after registration: re-run the pipeline "
            "to register a new version instead of editing artifacts"
        )
    return actual
