"""The local stand-in for S3: ``s3://BUCKET/KEY`` is ``<workspace>/s3/BUCKET/KEY``.

Objects are plain files, "prefixes" are folders, so a user can inspect every artifact of
a run with ``ls``. Writes go through a temporary sibling and an atomic rename, so a
reader (or a run killed half-way) never sees a half-written object.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from pathlib import Path

S3_SCHEME = "s3://"
# S3's bucket naming rules (lowercase letters, digits, '.' and '-', starting and ending
# with a letter or digit, at most 63), except that short names such as "b" are accepted
# locally. The bucket becomes a folder name, so this keeps "s3://../x" or "s3://./x" from
# naming a folder outside <workspace>/s3.
BUCKET_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")


class S3UriError(ValueError):
    """An ``s3://`` URI that cannot name a local object."""


def split_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``; the key may be empty."""
    if not isinstance(uri, str) or not uri.startswith(S3_SCHEME):
        raise S3UriError(f"{uri!r} is not an S3 URI: it must start with 's3://' (s3://bucket/key)")
    rest = uri[len(S3_SCHEME) :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise S3UriError(f"{uri!r} has no bucket: write it as s3://bucket/key")
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise S3UriError(
            f"{uri!r} has bucket {bucket!r}, which is not a valid S3 bucket name: use up to 63 "
            "lowercase letters, digits, '.' or '-', starting and ending with a letter or digit"
        )
    parts = [p for p in key.split("/") if p]
    if "\0" in key:
        raise S3UriError(f"{uri!r} contains a NUL character: use a plain key")
    if any(p in (".", "..") for p in parts):
        raise S3UriError(f"{uri!r} contains '.' or '..' segments: use a plain key without them")
    return bucket, "/".join(parts)


def uri_to_path(s3_root: Path, uri: str) -> Path:
    """Map ``s3://bucket/key`` to ``<s3_root>/bucket/key`` (trailing slashes ignored)."""
    bucket, key = split_uri(uri)
    return Path(s3_root, bucket, *key.split("/")) if key else Path(s3_root, bucket)


def path_to_uri(s3_root: Path, path: Path) -> str:
    """Inverse of :func:`uri_to_path` for a path inside ``s3_root``."""
    rel = Path(path).resolve().relative_to(Path(s3_root).resolve())
    return S3_SCHEME + "/".join(rel.parts)


def join_uri(base: str, *parts: str) -> str:
    """Join URI segments with exactly one slash between them."""
    out = base.rstrip("/")
    for part in parts:
        out += "/" + part.strip("/")
    return out


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")


def put_file(s3_root: Path, uri: str, source: Path) -> Path:
    """Copy ``source`` to the object ``uri`` atomically; return the object's path."""
    dest = uri_to_path(s3_root, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(dest)
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)
    return dest


def put_bytes(s3_root: Path, uri: str, data: bytes) -> Path:
    """Write ``data`` to the object ``uri`` atomically; return the object's path."""
    dest = uri_to_path(s3_root, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(dest)
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def put_tree(s3_root: Path, uri: str, source: Path, *, move: bool = False) -> Path:
    """Replace the prefix ``uri`` by a copy of the folder ``source``, atomically.

    With ``move=True`` the folder itself is moved in (one rename, no copy, when it is on
    the same file system), which is how finished job outputs are uploaded.

    The new tree is built beside the destination and swapped in with renames, so readers
    see either the old or the new complete tree. Concurrent writers of the same prefix
    (two runs with a fixed output URI) both succeed; the last swap wins.
    """
    dest = uri_to_path(s3_root, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(dest)
    if move:
        try:
            os.replace(source, tmp)
        except OSError:  # another file system: fall back to a copy
            shutil.copytree(source, tmp, symlinks=False)
    else:
        shutil.copytree(source, tmp, symlinks=False)
    for _attempt in range(100):
        aside = _tmp_sibling(dest)
        old: Path | None = aside
        try:
            os.replace(dest, aside)
        except FileNotFoundError:
            old = None  # nothing there (or another writer just moved it away)
        try:
            os.replace(tmp, dest)
        except OSError as exc:  # another writer swapped its tree in between our renames
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
                raise
            _remove(old)
            continue
        _remove(old)
        return dest
    raise OSError(f"could not replace {dest}: other writers kept replacing it")


def _remove(path: Path | None) -> None:
    if path is None:
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def exists(s3_root: Path, uri: str) -> bool:
    """True when the object or prefix exists."""
    return uri_to_path(s3_root, uri).exists()


def download(s3_root: Path, uri: str, local_dir: Path) -> None:
    """Download an ``S3Prefix`` input into ``local_dir`` like SageMaker's File mode.

    A URI naming one object lands as ``local_dir/<basename>``; a prefix (folder) has its
    contents copied below ``local_dir``. Inputs are copied, never hard-linked, because a
    job may legitimately rewrite its input files (it owns a copy on SageMaker too).
    """
    src = uri_to_path(s3_root, uri)
    local_dir.mkdir(parents=True, exist_ok=True)
    if src.is_file():
        shutil.copyfile(src, local_dir / src.name)
        return
    if not src.is_dir():
        raise FileNotFoundError(
            f"input {uri} does not exist (looked at {src}): write the object there first"
        )
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not (d.startswith(".") and ".tmp-" in d))
        rel = Path(root).relative_to(src)
        target_dir = local_dir / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in files:
            if ".tmp-" in name and name.startswith("."):
                continue  # an upload in flight, not an object
            shutil.copyfile(Path(root, name), target_dir / name)


def move_in(s3_root: Path, uri: str, source: Path) -> Path:
    """Move a finished file into the object ``uri`` with one atomic rename."""
    dest = uri_to_path(s3_root, uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, dest)
    return dest
