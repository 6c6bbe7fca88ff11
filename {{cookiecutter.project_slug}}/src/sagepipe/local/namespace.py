"""Show a job its sandbox at ``/opt/ml``, as the container would, without touching the host.

On Linux each job starts in a private mount namespace (``unshare``): ``/opt`` gets an
overlay whose writable layer lives in the job's folder (so creating ``/opt/ml`` changes
nothing on the host), and the sandbox is bind-mounted at ``/opt/ml``. Scripts that build
``/opt/ml/...`` paths at run time then find their files. Where namespaces are not
available (macOS, containers without the capability, ``SAGEPIPE_MOUNT_NAMESPACE=0``) jobs
keep the path rewriting of ``sandbox.remap`` and the run says so once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# $0 = sandbox, $1 = scratch folder for the overlay's layers, "$@" = the job's command.
_SETUP = (
    "set -e; "
    'if [ -d /opt/ml ]; then mount --bind "$0" /opt/ml; '
    'else mkdir -p "$1/upper" "$1/work"; '
    'mount -t overlay overlay -o "lowerdir=/opt,upperdir=$1/upper,workdir=$1/work" /opt; '
    'mkdir -p /opt/ml; mount --bind "$0" /opt/ml; fi; '
    'shift; exec "$@"'
)

_lock = threading.Lock()
_probe: tuple[bool, str] | None = None
_told = False


def _prefix() -> list[str] | None:
    unshare = shutil.which("unshare")
    if sys.platform != "linux" or unshare is None or not Path("/opt").is_dir():
        return None
    cmd = [unshare, "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        cmd.append("--map-root-user")  # an unprivileged user namespace owns the mounts
    return [*cmd, "/bin/sh", "-c", _SETUP]


def available() -> tuple[bool, str]:
    """Whether jobs can get a private ``/opt/ml`` here, and why not (probed once)."""
    global _probe
    with _lock:
        if _probe is not None:
            return _probe
        if os.environ.get("SAGEPIPE_MOUNT_NAMESPACE") == "0":
            _probe = (False, "SAGEPIPE_MOUNT_NAMESPACE=0")
            return _probe
        prefix = _prefix()
        if prefix is None:
            _probe = (False, "no Linux mount namespaces (unshare) on this machine")
            return _probe
        with tempfile.TemporaryDirectory(prefix="sagepipe-ns-") as scratch:
            sandbox = Path(scratch) / "opt_ml"
            (sandbox / "probe").mkdir(parents=True)
            try:
                done = subprocess.run(
                    [
                        *prefix,
                        str(sandbox),
                        str(Path(scratch) / "ns"),
                        "test",
                        "-d",
                        "/opt/ml/probe",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                ok, why = done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]
            except (OSError, subprocess.SubprocessError) as exc:
                ok, why = False, str(exc)
        _probe = (ok, "" if ok else f"unshare failed: {why or 'no reason given'}")
        return _probe


def mount_for(opt_ml: Path, job_dir: Path) -> tuple[tuple[Path, Path] | None, str | None]:
    """``(sandbox, scratch)`` for a job's private ``/opt/ml``; else None plus a notice.

    The notice is returned once per process (the first job that cannot get a namespace).
    """
    global _told
    ok, why = available()
    if ok:
        return (opt_ml, job_dir / ".mountns"), None
    with _lock:
        if _told:
            return None, None
        _told = True
    return None, (
        f"jobs see /opt/ml through path rewriting only ({why}); scripts that build "
        "/opt/ml paths at run time will not find their files"
    )


def command_in(command: list[str], mount: tuple[Path, Path] | None) -> list[str]:
    """The job's command run with ``mount``'s sandbox at ``/opt/ml`` (as is without one)."""
    if mount is None:
        return command
    prefix = _prefix()
    assert prefix is not None
    return [*prefix, str(mount[0]), str(mount[1]), *command]
