"""A command's process ends as the interpreter would end it, without the module teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from framework_paths import FRAMEWORK_SRC

# Each check runs exit_after in a fresh interpreter: it ends the process it runs in.
PROGRAM = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path
    from sagepipe.quick_exit import exit_after

    out = Path(sys.argv[1])
    atexit.register(lambda: (out / "atexit").write_text("ran"))

    def late():
        time.sleep(0.3)
        (out / "thread").write_text("finished")

    def command():
        threading.Thread(target=late).start()  # not a daemon: the exit waits for it
        sys.stdout.write("x" * 100_000)  # buffered, no newline: flushed at the end
        sys.exit(CODE)

    exit_after(command)
    """
)


def _run(tmp_path, program):
    env = {**os.environ, "PYTHONPATH": str(FRAMEWORK_SRC)}
    return subprocess.run(
        [sys.executable, "-c", program, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("2", 2, ""), ("'no such run'", 1, "no such run\n")],
)
def test_the_exit_joins_threads_runs_atexit_flushes_and_keeps_the_status(
    tmp_path, code, status, stderr
):
    done = _run(tmp_path, PROGRAM.replace("CODE", code))

    assert done.returncode == status
    assert done.stderr == stderr
    assert done.stdout == "x" * 100_000
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "atexit").read_text() == "ran"


def test_an_exception_takes_the_interpreters_own_way_out(tmp_path):
    done = _run(tmp_path, PROGRAM.replace("sys.exit(CODE)", "raise RuntimeError('broken')"))

    assert done.returncode == 1
    assert "RuntimeError: broken" in done.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
