"""Timing and memory measurement shared by every benchmark.

Wall time comes from ``time.perf_counter`` around a whole child process, so Python start-up,
imports and the framework's own work are all inside the number, as a user would feel them.
Peak memory is the largest sum of PSS (proportional set size: a page shared by N processes
counts 1/N in each) over the child's whole process tree, sampled by polling, because the
pipeline runs each step as its own subprocess and ``ru_maxrss`` would only report the
largest single process. A sum of RSS would count every page a forked job shares with its
warm interpreter once per process; where the kernel has no ``smaps_rollup``, RSS it is.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# 20 ms is short enough to catch a step's peak (steps run for seconds) and cheap enough
# not to steal a measurable share of one of the two cores.
_POLL_SECONDS = 0.02


class BenchError(RuntimeError):
    """A benchmarked command failed; the message names the command and its log file."""


@dataclass(frozen=True)
class Timed:
    """One measured child process: wall seconds and peak memory (PSS) of its process tree."""

    seconds: float
    peak_rss_bytes: int
    peak_single_rss_bytes: int


class _TreeMemoryPoller:
    """Poll the memory (PSS) of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_tree = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _TreeMemoryPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    rss = _proportional_bytes(process.pid) or process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_tree = max(self.peak_tree, total)
            self._stop.wait(_POLL_SECONDS)


def _proportional_bytes(pid: int) -> int:
    """The process's PSS from ``/proc/PID/smaps_rollup`` (0 where there is none)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def run_timed(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 1800.0,
) -> Timed:
    """Run ``argv`` to completion; return its wall time and peak memory.

    Output goes to ``log`` (appended) so that the console stays readable and a failure can
    be diagnosed; a non-zero exit raises ``BenchError`` naming the log.
    """
    log_handle = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        if log:
            log_handle.write(f"\n$ {' '.join(map(str, argv))}\n".encode())  # type: ignore[union-attr]
            log_handle.flush()  # type: ignore[union-attr]
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(part) for part in argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        with _TreeMemoryPoller(process.pid) as poller:
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise BenchError(
                    f"{' '.join(map(str, argv))}: timed out after {timeout:.0f} s"
                ) from None
        seconds = time.perf_counter() - start
    finally:
        if log:
            log_handle.close()  # type: ignore[union-attr]
    if code != 0:
        where = f"; see {log}" if log else ""
        raise BenchError(f"{' '.join(map(str, argv))}: exit status {code}{where}")
    return Timed(seconds, poller.peak_tree, poller.peak_single)


def median(values: Sequence[float]) -> float:
    """Median of the repetitions (robust to one noisy run on a shared machine)."""
    return statistics.median(values)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment every benchmarked command gets: offline, no telemetry, no colour."""
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    env.update(
        GX_ANALYTICS_ENABLED="false",
        UV_PYTHON_DOWNLOADS="never",
        PYTHONDONTWRITEBYTECODE="0",
        NO_COLOR="1",
        GIT_PYTHON_REFRESH="quiet",
    )
    env.update(extra)
    return env


def mib(value: int) -> str:
    """Format bytes as MiB for the report."""
    return f"{value / 2**20:,.0f} MiB"
