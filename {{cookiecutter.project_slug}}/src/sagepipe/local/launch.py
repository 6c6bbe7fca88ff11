"""Start job processes so that a stop (or the executor's death) ends them all.

Each job runs in its own process group, so stopping it signals everything it started;
on Linux the child also asks for SIGKILL when the executor dies, even by SIGKILL.
SIGINT/SIGTERM to the executor become a :class:`~sagepipe.local.scheduler.StopRequest`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..private import private_file
from . import namespace
from .containment import wait_within
from .sandbox import JobPlan
from .scheduler import StopRequest
from .warm import ForkedJob, Prestarted, WarmLaunchers

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


# Loaded in the parent: the child, between fork and exec, must not import anything.
_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the executor dies (even by SIGKILL)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


_DEATH_SIGNAL = _die_with_parent if _PRCTL is not None else None


def prestart_warm(label: str, workspace: Path) -> int:
    """Start the warm interpreters ``label``'s last run used; return how many started.

    Call it before building the definition: they import what the jobs will need while
    the pipeline compiles. The run adopts them; unused ones stop when this process ends.
    """
    return Prestarted.start(label, Path(workspace) / ".prestart" / str(os.getpid()), _DEATH_SIGNAL)


@contextlib.contextmanager
def prestarted_warm(label: str, workspace: Path) -> Iterator[Callable[[], int]]:
    """A function that runs :func:`prestart_warm` (once) for the block, called when the
    definition is about to be compiled; servers no run adopted stop when the block ends."""
    started: list[int] = []

    def start() -> int:
        if not started:
            started.append(prestart_warm(label, workspace))
        return started[0]

    try:
        yield start
    finally:
        Prestarted.close_all()


class Launcher:
    """Runs job commands and signals the running ones when a stop is requested."""

    def __init__(
        self, stop: StopRequest, scratch: Path | None = None, label: str | None = None
    ) -> None:
        self.stop = stop
        self.procs: dict[str, subprocess.Popen[bytes] | ForkedJob] = {}
        self.lock = threading.RLock()  # re-entered by a second signal
        self.scratch = scratch
        self.warm = WarmLaunchers(scratch, _DEATH_SIGNAL, label) if scratch is not None else None
        stop.listen(lambda force: self.signal_all(signal.SIGKILL if force else signal.SIGTERM))

    def spawn(self, plan: JobPlan, limit: float | None = None) -> int:
        """Run ``plan.command`` with its output in ``job.log``; return its exit code.

        A Python job forks from a warm interpreter of its runtime when it can
        (:mod:`~sagepipe.local.warm`), else it starts as a new process. Returns
        ``-SIGTERM`` without starting anything once a stop was requested, and
        :data:`~sagepipe.local.containment.TIMED_OUT` after ``limit`` seconds.
        """
        with open(private_file(plan.log_path), "ab") as log:
            log.write(f"$ {' '.join(plan.command)}\n".encode())
            log.flush()
            if self.stop.is_set():
                return -int(signal.SIGTERM)
            forked = self.warm.launch(plan, log.fileno()) if self.warm is not None else None
            if forked is not None:
                return self._wait_forked(plan, forked, limit)
            with self.lock:
                if self.stop.is_set():
                    return -int(signal.SIGTERM)
                proc = subprocess.Popen(
                    namespace.command_in(plan.command, plan.mount),
                    cwd=plan.cwd,
                    env=plan.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group: stop kills the whole job
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
                self.procs[plan.step_name] = proc
            try:
                return wait_within(proc, limit)
            finally:
                with self.lock:
                    self.procs.pop(plan.step_name, None)

    def _wait_forked(self, plan: JobPlan, job: ForkedJob, limit: float | None) -> int:
        with self.lock:
            self.procs[plan.step_name] = job
            if self.stop.is_set():  # asked while the job was being forked
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job.pid, signal.SIGTERM)
        try:
            return wait_within(job, limit)
        finally:
            with self.lock:
                self.procs.pop(plan.step_name, None)
            assert self.warm is not None
            self.warm.learn(plan)

    def close(self) -> None:
        """Stop the warm interpreters (between runs nothing of a job stays running)."""
        if self.warm is not None and self.scratch is not None:
            self.warm.close(self.scratch.parent)

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to the process group of every running job."""
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)


def handle_stop_signals(stop: StopRequest) -> dict[int, Any]:
    """Turn SIGINT/SIGTERM into stop requests (main thread only); return the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        stop.request(f"stopped by {signal.Signals(signum).name}")

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def restore_signal_handlers(previous: Mapping[int, Any]) -> None:
    """Put back the handlers :func:`handle_stop_signals` replaced."""
    for sig, old in previous.items():
        signal.signal(sig, old)
