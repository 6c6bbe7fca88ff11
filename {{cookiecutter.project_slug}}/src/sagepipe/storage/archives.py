"""The one reproducible ``tar.gz`` writer and the one safe extractor.

Written archives (``sourcedir.tar.gz`` code objects, ``model.tar.gz`` and
``output.tar.gz`` job results) are reproducible: entries sorted, mtime 0, owner 0 with
no names, fixed modes and a gzip header without name or time, so equal trees give equal
bytes and therefore equal digests and cache keys.

Archives read back come from jobs, registries and buckets, i.e. from someone else, so
:func:`extract` checks every member before writing anything: only regular files and
folders, relative paths that stay inside the destination, and a bounded total size.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

# PAX (POSIX.1-2001), not GNU: it is the standard format and Python's default, and it
# stores long or non-ASCII names and sizes over 8 GiB in standard extended headers that
# every tar reader understands (SageMaker's containers unpack these archives). Names and
# numbers that fit the ustar fields, as ours usually do, get no extended header at all.
FORMAT = tarfile.PAX_FORMAT
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
DIR_MODE = 0o755

# Refuse archives that would unpack to more than this (a "tar bomb" filling the disk).
# Generous: model archives of several GiB are normal; a bomb declares far more.
MAX_UNPACKED_BYTES = 64 * 2**30
MAX_MEMBERS = 200_000

ErrorFactory = Callable[[str], Exception]


class ArchiveError(ValueError):
    """An archive that cannot be written or is unsafe to unpack; ``str()`` is one line."""


def _normalise(info: tarfile.TarInfo, mode: int) -> tarfile.TarInfo:
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = mode
    return info


@contextmanager
def _writer(stream: IO[bytes]) -> Iterator[tarfile.TarFile]:
    """A tar writer into ``stream`` through gzip with no file name and mtime 0."""
    with (
        gzip.GzipFile(filename="", fileobj=stream, mode="wb", mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=FORMAT) as tar,
    ):
        yield tar


def tar_gz_bytes(files: Mapping[str, bytes]) -> bytes:
    """Pack ``{posix path: bytes}`` into a reproducible ``tar.gz`` (files 0644, no folders)."""
    buffer = io.BytesIO()
    with _writer(buffer) as tar:
        for path in sorted(files):
            data = files[path]
            info = _normalise(tarfile.TarInfo(path), FILE_MODE)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def pack_folder(folder: Path, archive: Path, *, error: ErrorFactory = ArchiveError) -> None:
    """Pack ``folder``'s tree into ``archive`` reproducibly (equal trees, equal bytes).

    Folders get 0755, files 0755 when executable and 0644 otherwise; anything else (a
    link, a FIFO, a device) is refused with ``error``, since a model directory may only
    hold regular files.
    """
    folder, archive = Path(folder), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as raw, _writer(raw) as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            if info.isfile():
                executable = os.access(path, os.X_OK)
                _normalise(info, EXECUTABLE_MODE if executable else FILE_MODE)
                with open(path, "rb") as stream:
                    tar.addfile(info, stream)
            elif info.isdir():
                tar.addfile(_normalise(info, DIR_MODE))
            else:
                raise error(
                    f"{path} is neither a file nor a folder; model directories may only hold "
                    "regular files"
                )


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.isdev():
        return "a device or FIFO"
    return "not a regular file or folder"


def check_members(
    members: list[tarfile.TarInfo],
    archive: Path,
    dest: Path,
    *,
    max_bytes: int = MAX_UNPACKED_BYTES,
    error: ErrorFactory = ArchiveError,
) -> None:
    """Raise ``error`` unless every member is safe to unpack below ``dest``.

    Refused: absolute paths, ``..`` segments, paths that resolve outside ``dest``,
    symbolic and hard links, devices and FIFOs, more than :data:`MAX_MEMBERS` members,
    and a total size over ``max_bytes``.
    """
    fix = "rebuild the archive from plain files and folders with relative paths"
    if len(members) > MAX_MEMBERS:
        raise error(f"{archive} has {len(members)} members (at most {MAX_MEMBERS}); {fix}")
    root = Path(dest).resolve()
    total = 0
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or "\0" in member.name:
            raise error(
                f"{archive} contains the unsafe path {member.name!r}; refusing to unpack it"
            )
        if not (member.isfile() or member.isdir()):
            raise error(
                f"{archive} contains {member.name!r}, which is {_kind(member)}; refusing to "
                f"unpack it: {fix}"
            )
        target = (root / member.name).resolve()
        if target != root and root not in target.parents:
            raise error(
                f"{archive}: member {member.name!r} points outside {dest}; refusing to unpack it"
            )
        total += max(member.size, 0)
        if total > max_bytes:
            raise error(
                f"{archive} would unpack to more than {max_bytes} bytes (an archive bomb?); "
                "refusing to unpack it"
            )


def extract(
    archive: Path,
    dest: Path,
    *,
    max_bytes: int = MAX_UNPACKED_BYTES,
    error: ErrorFactory = ArchiveError,
) -> None:
    """Unpack ``archive`` (tar, optionally compressed) into ``dest`` after checking it whole.

    Nothing is written unless every member passes :func:`check_members`; an unreadable or
    truncated archive raises ``error`` too (callers pass their own error type so the
    message reaches the user as theirs, e.g. a failed step's reason).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            check_members(members, archive, dest, max_bytes=max_bytes, error=error)
            if hasattr(tarfile, "data_filter"):  # Python 3.12+ (and patched 3.10/3.11)
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)  # checked above
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise error(f"{archive} is not a readable tar archive ({err}); rebuild it") from None
