"""Run a command in-process and record every subprocess it launches (argv, cwd, env).

Usage: ``python record_jobs.py OUT.json -m MODULE [ARGS...]``

The framework-overhead benchmark needs the exact command lines and environments the local
executor gives each job, so that its baseline runs the *same* step scripts with the *same*
arguments as plain processes, one after another (what a Makefile would do). A Python
audit hook sees every ``subprocess.Popen`` with its arguments, without any cooperation
from, or change to, the executor. The recording is written when the command exits.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_launches: list[dict[str, Any]] = []


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event != "subprocess.Popen":
        return
    executable, argv, cwd, env = args
    argv_list = [os.fsdecode(part) for part in (argv if isinstance(argv, list | tuple) else [argv])]
    environment = (
        dict(os.environ)
        if env is None
        else {os.fsdecode(key): os.fsdecode(value) for key, value in dict(env).items()}
    )
    with _lock:
        _launches.append(
            {
                "executable": os.fsdecode(executable) if executable else None,
                "argv": argv_list,
                "cwd": os.fsdecode(cwd) if cwd else os.getcwd(),
                "env": environment,
                "started": time.time(),
            }
        )


def main() -> None:
    """Install the hook, run ``-m MODULE ARGS`` as ``__main__``, save the launches."""
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: record_jobs.py OUT.json -m MODULE [ARGS...]")
    out = Path(sys.argv[1])
    module = sys.argv[3]

    def save() -> None:
        with _lock:
            out.write_text(json.dumps(_launches, indent=1) + "\n")

    atexit.register(save)
    sys.addaudithook(_hook)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
