"""Keep what the executor writes, copies and deletes inside the places it owns.

Jobs run arbitrary code, so the executor cannot stop a job from touching files; what it
guarantees is that its own actions never follow a job (or a definition) outside the
sandbox or the workspace: container paths map into the sandbox only, outputs are copied
only when they hold plain files and folders, and trees are removed only inside the folder
the current run created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from .validate import check_local_path


def _job_error(message: str) -> Exception:
    from .sandbox import JobError  # imported here: sandbox imports this module

    return JobError(" ".join(message.split()))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def sandbox_path(step_name: str, local_path: object, opt_ml: Path) -> Path:
    """The sandbox folder standing in for a container ``LocalPath`` (checked once resolved)."""
    why = check_local_path(local_path)  # type: ignore[arg-type]
    if why:
        raise _job_error(f"step {step_name}: LocalPath {local_path!r} {why}")
    rel = os.path.normpath(str(local_path))[len("/opt/ml/") :]
    target = Path(opt_ml, *rel.split("/"))
    if not _inside(target.resolve(), Path(opt_ml).resolve()):
        raise _job_error(f"step {step_name}: LocalPath {local_path!r} leaves the sandbox")
    return target


def check_output_tree(step_name: str, folder: Path, opt_ml: Path) -> None:
    """Refuse an output that is, or holds, a symlink, a hard link or a special file.

    Uploading such an output would copy (or move) files from outside the sandbox into the
    workspace's S3 tree, where later steps and the registry would read them.
    """
    folder = Path(folder)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return  # an output the job never wrote: an empty upload, as on SageMaker
    what = f"step {step_name}: output folder {folder}"
    if stat.S_ISLNK(info.st_mode):
        raise _job_error(f"{what} was replaced by a symbolic link; outputs must be plain folders")
    if not _inside(folder.resolve(), Path(opt_ml).resolve()):
        raise _job_error(f"{what} resolves outside the job's sandbox (a parent is a link)")
    if not stat.S_ISDIR(info.st_mode):
        raise _job_error(f"{what} is not a folder; write files inside it")
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root, name)
            entry = os.lstat(path)
            if stat.S_ISLNK(entry.st_mode):
                raise _job_error(
                    f"step {step_name}: output {path} is a symbolic link; copy the file "
                    "into the output folder instead of linking it"
                )
            if stat.S_ISDIR(entry.st_mode):
                continue
            if not stat.S_ISREG(entry.st_mode):
                raise _job_error(
                    f"step {step_name}: output {path} is not a regular file (a FIFO, socket "
                    "or device); outputs may only hold files and folders"
                )
            if entry.st_nlink > 1:
                raise _job_error(
                    f"step {step_name}: output {path} is a hard link ({entry.st_nlink} names "
                    "for one file); write a copy instead"
                )


TIMED_OUT = -1000  # wait_within's return code for a job stopped at its runtime limit


def runtime_limit(args: Mapping[str, Any]) -> float | None:
    """``StoppingCondition.MaxRuntimeInSeconds`` of resolved job arguments, if any."""
    stop = args.get("StoppingCondition")
    limit = stop.get("MaxRuntimeInSeconds") if isinstance(stop, Mapping) else None
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
        return None
    return float(limit)


class Waitable(Protocol):
    """What :func:`wait_within` needs of a job: ``Popen`` or a forked job."""

    pid: int

    def wait(self, timeout: float | None = None) -> int: ...


def wait_within(proc: Waitable, limit: float | None) -> int:
    """Wait for a job; past ``limit`` seconds kill its process group and return TIMED_OUT."""
    if limit is None:
        return proc.wait()
    try:
        return proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return TIMED_OUT


def remove_tree(path: Path, owned_root: Path) -> bool:
    """``rmtree(path)`` only when it is a real folder inside ``owned_root``; True if removed.

    ``owned_root`` is a folder the current run created (its execution folder). A path that
    is a link, or lies outside it once resolved, is left alone.
    """
    path, owned_root = Path(path), Path(owned_root)
    if path.is_symlink() or not path.is_dir():
        return False
    if not _inside(path.absolute(), owned_root.absolute()) or not _inside(
        path.resolve(), owned_root.resolve()
    ):
        return False
    if path.resolve() == owned_root.resolve():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True
