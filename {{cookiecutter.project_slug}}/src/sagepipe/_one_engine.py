"""One engine version per environment: refuse to run where another project's engine clashes.

Every generated project vendors the engine as the top-level package ``sagepipe``
(docs/architecture.md, "Vendored engine"), which no installer arbitrates. Two projects in
one environment clash in one of two ways, both silent without this check:

- editable installs (``pip install -e .``, the documented way) put both projects' ``src``
  on ``sys.path``; no file is overwritten, but the first ``sagepipe`` serves both projects.
  That is harmless only when both engines are the same version, so a different version
  anywhere on ``sys.path`` is refused.
- wheel installs (``pip install .``) write both projects' ``sagepipe/`` files into the same
  site-packages folder, so the second overwrote the first (and uninstalling either deletes
  the other's engine). More than one distribution owning the engine's files is refused.

The check costs a few ``stat`` calls (and, inside a site-packages folder only, reading its
``RECORD`` files). It uses nothing but ``os`` and ``sys``, so importing ``sagepipe`` still
loads none of the engine.
"""

from __future__ import annotations

import os
import sys

from ._version import __version__

_FIX = (
    "give each project its own virtual environment (python -m venv .venv && "
    "pip install -e . in each project)"
)


class EngineConflict(ImportError):
    """Another project's sagepipe engine is installed beside this one (one-line message)."""


def version_in(engine: str) -> str | None:
    """The ``__version__`` written in ``engine``/_version.py (None when it cannot be read)."""
    try:
        with open(os.path.join(engine, "_version.py"), encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return None
    for line in lines:
        name, equals, value = line.partition("=")
        if equals and name.strip() == "__version__":
            return value.strip().strip("\"'")
    return None


def engines_on_path(path: list[str]) -> list[str]:
    """Every engine folder (``sagepipe/`` with a ``_version.py``) on ``path``, in order.

    A job's code tree carries a ``sagepipe/`` with only the contract: not an engine.
    """
    found: list[str] = []
    for entry in path:
        folder = os.path.realpath(os.path.join(entry or os.getcwd(), "sagepipe"))
        if folder not in found and os.path.isfile(os.path.join(folder, "_version.py")):
            found.append(folder)
    return found


def owners_of(engine: str) -> list[str]:
    """The distributions installed next to ``engine`` whose RECORD lists its files."""
    site = os.path.dirname(engine)
    owners: list[str] = []
    try:
        entries = sorted(e.name for e in os.scandir(site) if e.name.endswith(".dist-info"))
    except OSError:
        return owners
    for name in entries:
        try:
            with open(os.path.join(site, name, "RECORD"), encoding="utf-8") as file:
                owns = any(line.startswith("sagepipe/_version.py,") for line in file)
        except OSError:
            continue
        if owns:
            owners.append(name[: -len(".dist-info")].replace("_", "-"))
    return owners


def check_environment(engine: str, path: list[str] | None = None) -> None:
    """Raise :class:`EngineConflict` if ``engine`` shares its environment with a clash."""
    engine = os.path.realpath(engine)
    for other in engines_on_path(sys.path if path is None else path):
        version = version_in(other)
        if other != engine and version != __version__:
            raise EngineConflict(
                f"two sagepipe engines in one environment: {engine} ({__version__}, in use) "
                f"and {other} ({version or 'unknown version'}); a project runs only with "
                f"its own engine version: {_FIX}"
            )
    owners = owners_of(engine)
    if len(owners) > 1:
        raise EngineConflict(
            f"the sagepipe engine in {os.path.dirname(engine)} was installed by "
            f"{' and '.join(owners)}: the last install overwrote the others' engine; {_FIX}"
        )
