"""Read ``requirements.lock`` (``uv pip compile --universal`` output) and check it.

A universal lock holds one pin per package and environment marker, so the same file
serves every supported Python; :func:`pins_for` picks the lines that apply to one.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from .table import normalise


@dataclass(frozen=True)
class LockLine:
    """``name==version ; marker`` from the lock."""

    name: str
    version: str
    marker: str


def read_lock(path: Path) -> list[LockLine]:
    """Parse the pins of a lock file; raises ``ValueError`` (one line) on a bad line."""
    lines: list[LockLine] = []
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        text = raw.split(" #", 1)[0].strip()
        if not text or text.startswith(("#", "-")):
            continue
        requirement, _, marker = text.partition(";")
        name, sep, version = requirement.strip().partition("==")
        if not sep or not name or not version:
            raise ValueError(
                f"{path}:{number}: {raw.strip()!r} is not a 'name==version' pin; "
                "regenerate the lock with `uv pip compile --universal`"
            )
        base = name.split("[", 1)[0].strip()
        lines.append(LockLine(normalise(base), version.strip(), marker.strip()))
    return lines


def _environment(python_version: str) -> dict[str, str]:
    full = python_version if python_version.count(".") >= 2 else python_version + ".0"
    return {
        "python_version": ".".join(python_version.split(".")[:2]),
        "python_full_version": full,
        "implementation_name": sys.implementation.name,
        "platform_python_implementation": platform.python_implementation(),
        "sys_platform": sys.platform,
        "platform_system": platform.system(),
        "platform_machine": platform.machine(),
        "os_name": "posix" if sys.platform != "win32" else "nt",
    }


def pins_for(lines: list[LockLine], python_version: str) -> list[str]:
    """``name==version`` of every lock line whose marker holds on ``python_version`` here."""
    from packaging.markers import Marker  # dependency of pytest, GX and the SDKs alike

    env = _environment(python_version)
    pins = []
    for line in lines:
        if line.marker and not Marker(line.marker).evaluate(env):
            continue
        pins.append(f"{line.name}=={line.version}")
    return pins


def mismatches(pins: list[str]) -> list[str]:
    """Pins the running interpreter does not satisfy: ``"pandas: 2.2.3 locked, 2.3.1 here"``."""
    from importlib import metadata

    wrong = []
    for pin in pins:
        name, _, version = pin.partition("==")
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: {version} locked, not installed here")
            continue
        if have != version:
            wrong.append(f"{name}: {version} locked, {have} here")
    return wrong
