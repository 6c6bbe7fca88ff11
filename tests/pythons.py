"""Which Pythons the slow tier can bake for on this machine (no third-party imports).

The root noxfile resolves them once (fetching missing ones with uv unless
``UV_PYTHON_DOWNLOADS=never``), prints one line naming what it skips and why, and passes
the rest to pytest in ``TEMPLATE_TEST_PYTHONS``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

# The python_version answers tests/test_generated_project_slow.py bakes for.
SLOW_TIER_PYTHONS = ("3.11", "3.12")
ENV_VAR = "TEMPLATE_TEST_PYTHONS"


def _succeeds(command: list[str], timeout: float) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, check=False, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _uv() -> str | None:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def installed(version: str) -> bool:
    """A working ``pythonX.Y`` on PATH, or one uv finds (a pyenv shim of an inactive one fails)."""
    on_path = shutil.which(f"python{version}")
    if on_path and _succeeds([on_path, "-c", "pass"], 30):
        return True
    uv = _uv()
    return bool(uv) and _succeeds([uv, "python", "find", version], 30)


def downloads_allowed() -> bool:
    """uv may download interpreters unless the user said never."""
    return os.environ.get("UV_PYTHON_DOWNLOADS", "automatic") != "never"


def fetch(version: str) -> bool:
    """Ask uv to download ``version``; False offline or without uv."""
    uv = _uv()
    return bool(uv) and _succeeds([uv, "python", "install", version], 600)


def resolve(versions: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """(usable versions, {skipped version: why}), fetching missing ones when allowed."""
    usable: list[str] = []
    skipped: dict[str, str] = {}
    for version in versions:
        if installed(version):
            usable.append(version)
        elif not downloads_allowed():
            skipped[version] = "not installed and UV_PYTHON_DOWNLOADS=never"
        elif fetch(version):
            usable.append(version)
        else:
            skipped[version] = "not installed and uv could not download it"
    return usable, skipped


def skip_line(skipped: dict[str, str]) -> str:
    """The one line that says which generated-project runs are skipped and why."""
    reasons = "; ".join(f"Python {version}: {why}" for version, why in skipped.items())
    return f"skipping the slow tier's generated-project runs for {reasons}"


def usable_from_environment() -> list[str]:
    """The versions the root noxfile resolved, or (outside nox) resolve them here."""
    if ENV_VAR in os.environ:
        return [v for v in os.environ[ENV_VAR].split(",") if v]
    return resolve(SLOW_TIER_PYTHONS)[0]
