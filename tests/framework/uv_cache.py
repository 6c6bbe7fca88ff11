"""Test setup: make sure uv's cache holds a package, so that the engine's offline install
of a source directory's ``requirements.txt`` can find it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sagepipe import runtimes


def ensure_cached(requirement: str, minor: str, scratch: Path) -> None:
    """Put ``requirement`` for Python ``minor`` into uv's cache (offline when it is there).

    Otherwise uv fetches it once from the machine's package index; the install goes into a
    throwaway ``--target`` folder under ``scratch``, never into an environment.
    """
    python = str(runtimes.find_interpreter(minor).path)
    cmd = ["uv", "pip", "install", "--quiet", "--python", python, "--target", str(scratch)]
    if subprocess.run([*cmd, "--offline", requirement], capture_output=True).returncode:
        subprocess.run([*cmd, requirement], check=True, capture_output=True)
