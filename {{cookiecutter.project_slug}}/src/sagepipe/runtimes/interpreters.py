"""Find a Python interpreter of a given minor version (pyenv, PATH, uv), never silently.

When the exact minor is missing the nearest installed one is used and the choice is
reported, so a run on 3.10 instead of 3.9 is never mistaken for the image's environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Interpreter:
    """A Python found on this machine; ``notice`` explains a non-exact match."""

    path: Path
    version: str  # "3.9.18"
    notice: str | None = None

    @property
    def minor(self) -> str:
        """``"3.9"``."""
        return ".".join(self.version.split(".")[:2])


def _version_of(path: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(path), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def _candidates() -> list[Path]:
    """Interpreters this machine offers: pyenv's versions, then python3.X on PATH."""
    found: list[Path] = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = pyenv_root / "versions"
    if versions.is_dir():
        for folder in sorted(versions.iterdir()):
            if re.fullmatch(r"3\.\d+\.\d+", folder.name):
                exe = folder / "bin" / "python3"
                if exe.is_file():
                    found.append(exe)
    for minor in range(8, 15):
        on_path = shutil.which(f"python3.{minor}")
        if on_path and ".pyenv/shims" not in on_path:  # a shim may point at another version
            found.append(Path(on_path))
    return found


def _uv_find(minor: str) -> Path | None:
    uv = shutil.which("uv")
    if uv is None:
        return None
    try:
        out = subprocess.run(
            [uv, "python", "find", "--no-project", minor],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out.stdout.strip())
    return path if out.returncode == 0 and path.is_file() else None


def _minor_tuple(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest.split(".")[0])


def _full_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def find_interpreter(minor: str) -> Interpreter:
    """An interpreter of Python ``minor`` (``"3.9"``), else the nearest with a notice.

    Looks at the running interpreter, pyenv's versions, ``python3.X`` on PATH and
    ``uv python find``. Raises ``LookupError`` (one line) when no Python 3 is found.
    """
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if current == minor:
        base = Path(getattr(sys, "_base_executable", "") or sys.executable)
        return Interpreter(base, _full_version())
    seen: dict[str, Interpreter] = {}
    for path in _candidates():
        version = _version_of(path)
        if version:
            found = Interpreter(path, version)
            if found.minor == minor:
                return found
            seen.setdefault(found.minor, found)
    uv_path = _uv_find(minor)
    if uv_path is not None:
        version = _version_of(uv_path)
        if version and version.startswith(minor + "."):
            return Interpreter(uv_path, version)
    seen.setdefault(current, Interpreter(Path(sys.executable), _full_version()))
    want = _minor_tuple(minor)
    # Nearest minor; on a tie the newer one (packages tend to support newer, not older).
    nearest = min(
        seen.values(),
        key=lambda i: (abs(_minor_tuple(i.minor)[1] - want[1]), -_minor_tuple(i.minor)[1]),
    )
    return Interpreter(
        nearest.path,
        nearest.version,
        notice=(
            f"Python {minor} is not installed here; using the nearest, Python {nearest.version} "
            f"({nearest.path}); install the exact one with `uv python install {minor}`"
        ),
    )
