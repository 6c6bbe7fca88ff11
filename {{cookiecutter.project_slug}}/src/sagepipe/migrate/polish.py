"""Format generated code with the project's own ruff, when it is installed.

The project's CI runs ruff; generated files should pass it without a manual pass. Ruff
reads the project's settings (line length, isort sections) because it runs in the
project root with the file's future name. Without ruff the code is left as generated.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def ruff_command() -> list[str] | None:
    """How to run ruff here: the ``ruff`` next to this interpreter, on PATH, or None."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("ruff")
    return [found] if found else None


def polish(content: str, relative: str, root: Path, package: str | None = None) -> str:
    """``content`` sorted (imports), cleaned of unused imports and formatted by ruff.

    ``package`` is named first-party explicitly: code read from stdin is classified
    differently from the same file on disk, and the project's CI checks the file.
    """
    command = ruff_command()
    if command is None or not relative.endswith(".py"):
        return content
    first_party = (
        ["--config", f"lint.isort.known-first-party=[{package!r}]"]
        if package and package.isidentifier()
        else []
    )
    steps = (
        [
            *command,
            "check",
            *first_party,
            "--fix",
            "--select",
            "I,F401",
            "--quiet",
            "--exit-zero",
            "--stdin-filename",
            relative,
            "-",
        ],
        [*command, "format", "--quiet", "--stdin-filename", relative, "-"],
    )
    for step in steps:
        try:
            done = subprocess.run(
                step,
                input=content,
                capture_output=True,
                text=True,
                cwd=root,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return content
        if done.returncode != 0 or not done.stdout:
            return content  # e.g. a syntax error: keep the text so the user sees it
        content = done.stdout
    return content
