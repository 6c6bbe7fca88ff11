"""Files only their owner may read: databases, logs and capture files (raw request payloads).

Folders are created 0700 and files 0600 whatever the umask, because capture files hold
what clients sent and databases and logs hold parameters, paths and errors.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; tighten it if it exists."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid():
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 in a 0700 folder unless it exists (then tighten it).

    An existing file is never opened here: closing any descriptor of a file drops every
    POSIX lock this process holds on it, and SQLite's locks on a database are exactly such
    locks (opening a second connection would then corrupt concurrent writers' view).
    """
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if not path.is_symlink() and path.stat().st_uid == os.getuid():
            os.chmod(path, FILE_MODE)
        return path
    try:
        os.fchmod(fd, FILE_MODE)  # os.open's mode is filtered by the umask
    finally:
        os.close(fd)
    return path


def append_line(fd: int, line: bytes) -> None:
    """Append one whole line to an ``O_APPEND`` file, or nothing at all.

    A short write (a full disk) is undone by truncating the file back to where the line
    began, so a reader never meets half a record; the error is then raised.
    """
    start = os.lseek(fd, 0, os.SEEK_END)
    written = 0
    try:
        while written < len(line):
            count = os.write(fd, line[written:])
            if count <= 0:
                raise OSError("short write")
            written += count
    except OSError:
        if written:
            os.ftruncate(fd, start)
        raise
