"""How long each step of a pipeline took when it last ran, for the scheduler's order.

With more ready steps than cores, the order they start in decides the run's length: a
long step started last ends last. The scheduler starts the step with the longest way to
the end first (:func:`sagepipe.local.scheduler.remaining_seconds`), and these are the
durations it weighs. They are kept per pipeline in the runtime cache, next to what the
warm launcher learned, so a fresh workspace's first run, and a new project's, is ordered
by the last run anywhere (a step never seen counts as the scheduler's ``UNKNOWN_SECONDS``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

from ..private import private_file
from ..runtimes.build import cache_root
from .warm import LEARNED_FORMAT, RECENT_LIMIT, newest_of_another_cli, recent_key

STEPS_LIMIT = 500  # steps kept per pipeline


def times_file() -> Path:
    """``{pipeline: {step: seconds}}`` of the newest :data:`RECENT_LIMIT` pipelines."""
    return cache_root() / ".warm" / f"step-seconds.{LEARNED_FORMAT}.json"


def _read(path: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads(path.read_text())
        return {
            str(label): {
                str(step): float(seconds)
                for step, seconds in dict(steps).items()
                if math.isfinite(float(seconds)) and float(seconds) >= 0
            }
            for label, steps in dict(data).items()
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # no file, or not one of ours: the run is only ordered less well


def last_seconds(pipeline: str) -> dict[str, float]:
    """The seconds each step of ``pipeline`` took when it last ran (empty if never).

    A pipeline this CLI never ran (a new project's first run) takes the durations of the
    newest pipeline of the same name run from another CLI, when there is one.
    """
    known = _read(times_file())
    own = known.get(recent_key(pipeline))
    if own is not None:
        return own
    borrowed = newest_of_another_cli(pipeline, known)
    return known[borrowed] if borrowed is not None else {}


def remember_seconds(pipeline: str, seconds: Mapping[str, float]) -> None:
    """Keep ``seconds`` (step: duration) as ``pipeline``'s, over its older ones."""
    if not seconds:
        return
    path = times_file()
    key = recent_key(pipeline)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            known = _read(path)
            steps = {**known.pop(key, {}), **{str(k): float(v) for k, v in seconds.items()}}
            known[key] = dict(list(steps.items())[-STEPS_LIMIT:])  # last: the newest
            kept = dict(list(known.items())[-RECENT_LIMIT:])
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(private_file(tmp), "w") as out:
                json.dump(kept, out)
            os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            path.with_suffix(f".{os.getpid()}.tmp").unlink()
        # a read-only cache costs only the order of the next run's steps
