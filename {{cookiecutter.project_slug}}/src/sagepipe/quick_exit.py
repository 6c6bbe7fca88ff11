"""End a command-line process the way the interpreter would, minus its module teardown.

After a ``run`` the process holds pandas, the pipeline's modules and the engine, and the
interpreter's exit frees them one by one: 0.25 s of a 6 s cold run of the sample
pipeline, after the work is done. :func:`exit_after` does what that exit must do, in the
interpreter's order (wait for non-daemon threads, run ``atexit`` handlers, flush the
standard streams, the exit status ``sys.exit`` would give) and then ends the process.
The warm launcher's forked jobs end the same way (``local/forkserver.py``, which keeps its
own copy of :func:`exit_status`: it is a standard-library-only script that every image's
Python runs, with no ``sagepipe`` to import).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

# Python's own status when flushing stdout fails at exit (e.g. a closed pipe).
FLUSH_FAILED = 120


def exit_status(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)`` (a message is printed)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def exit_after(command: Callable[[], object]) -> NoReturn:
    """Run ``command`` (a click command in standalone mode) and end the process.

    An exception other than ``SystemExit`` takes the interpreter's usual way out (its
    traceback printed, every module torn down), as does an exit while a non-daemon thread
    still runs: nothing is cut short.
    """
    try:
        command()
        code: object = 0
    except SystemExit as done:
        code = done.code
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    status = exit_status(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or FLUSH_FAILED
    os._exit(status)
