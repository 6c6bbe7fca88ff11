"""Build a runtime's environment once with uv, cached in a folder shared by all projects.

``<cache>/<key>/`` is a relocatable venv plus ``runtime.json``; the key is the digest of
the interpreter's version and the exact requirements, so equal runtimes share one
environment and a changed pin gets a new one. A build goes into a temporary sibling
folder and is renamed into place only when complete, so a half-built environment is
never reused; a file lock keeps parallel jobs from building the same one twice. uv
installs offline from its cache first and goes to the index only when that fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .interpreters import Interpreter

FORMAT = "sagepipe-runtime-env-v1"


class BuildError(Exception):
    """An environment that cannot be built; ``str()`` is one line naming the fix."""


@dataclass(frozen=True)
class Environment:
    """A ready environment: its interpreter and the versions installed in it."""

    python: Path
    python_version: str
    packages: dict[str, str]
    folder: Path | None = None
    notice: str | None = None


def cache_root() -> Path:
    """``$SAGEPIPE_RUNTIME_CACHE``, else ``$XDG_CACHE_HOME/sagepipe/runtimes``."""
    explicit = os.environ.get("SAGEPIPE_RUNTIME_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagepipe" / "runtimes"


def environment_key(interpreter: Interpreter, requirements: Sequence[str]) -> str:
    """Digest of what makes two environments equal: Python version and exact pins."""
    text = json.dumps([FORMAT, interpreter.version, sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        raise BuildError(
            "uv is not installed, and runtime environments are built with it; "
            "install it with `python3 -m pip install uv`"
        )
    return uv


def _load_ready(folder: Path) -> Environment | None:
    marker = folder / "runtime.json"
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    python = folder / "bin" / "python"
    if data.get("format") != FORMAT or not python.exists():
        return None
    return Environment(python, data["python_version"], dict(data["packages"]), folder)


_MISSING = (
    re.compile(
        r"Because (?:there is no version of |only the following versions of )?"
        r"(?P<pkg>[A-Za-z0-9_.\-]+(?:==[^\s,]+)?)"
    ),
    re.compile(
        r"No solution found when resolving dependencies.*?(?P<pkg>[A-Za-z0-9_.\-]+==[^\s,]+)"
    ),
    re.compile(r"Failed to (?:build|download|fetch) `?(?P<pkg>[A-Za-z0-9_.\-]+(?:==[^\s`]+)?)"),
)


def _culprit(stderr: str, requirements: Sequence[str]) -> str:
    """The package uv could not get, from its error text (else the whole pin list)."""
    flat = " ".join(stderr.split())
    for pattern in _MISSING:
        match = pattern.search(flat)
        if match:
            return match.group("pkg").rstrip(".:")
    return " ".join(requirements)


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)


def build_environment(
    interpreter: Interpreter,
    requirements: Sequence[str],
    *,
    what: str,
    root: Path | None = None,
    offline_only: bool | None = None,
) -> Environment:
    """Return the environment of ``requirements`` on ``interpreter``, building it if needed.

    ``what`` names the image in error messages. ``offline_only`` (default:
    ``$SAGEPIPE_RUNTIME_OFFLINE == "1"``) forbids going to the package index.
    """
    root = root or cache_root()
    key = environment_key(interpreter, requirements)
    folder = root / key
    ready = _load_ready(folder)
    if ready is not None:
        return Environment(**{**ready.__dict__, "notice": interpreter.notice})
    if offline_only is None:
        offline_only = os.environ.get("SAGEPIPE_RUNTIME_OFFLINE") == "1"
    with _locked(root / f".{key}.lock"):
        ready = _load_ready(folder)  # another job may have built it while we waited
        if ready is not None:
            return Environment(**{**ready.__dict__, "notice": interpreter.notice})
        uv = _uv()
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            made = _run(
                [
                    uv,
                    "venv",
                    "--quiet",
                    "--relocatable",
                    "--python",
                    str(interpreter.path),
                    str(tmp / "env"),
                ],
                env,
            )
            if made.returncode != 0:
                raise BuildError(
                    f"image {what}: cannot create a Python {interpreter.version} environment "
                    f"({_first_line(made.stderr)}); check {interpreter.path}"
                )
            python = tmp / "env" / "bin" / "python"
            install = [uv, "pip", "install", "--quiet", "--python", str(python), *requirements]
            done = _run([*install, "--offline"], env)
            if done.returncode != 0 and not offline_only:
                done = _run(install, env)
            if done.returncode != 0:
                culprit = _culprit(done.stderr, requirements)
                fetch = " ".join(
                    [
                        "uv pip install",
                        "--python",
                        str(interpreter.path),
                        "--dry-run",
                        *(f"'{r}'" for r in requirements),
                    ]
                )
                raise BuildError(
                    f"image {what}: cannot build its Python {interpreter.minor} environment "
                    f"offline: {culprit} is not in uv's cache; fetch it with network access: "
                    f"{fetch}"
                )
            packages = _installed(uv, python, env)
            (tmp / "env" / "runtime.json").write_text(
                json.dumps(
                    {
                        "format": FORMAT,
                        "python_version": interpreter.version,
                        "requirements": sorted(requirements),
                        "packages": packages,
                        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    indent=2,
                    sort_keys=True,
                )
            )
            os.replace(tmp / "env", folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    ready = _load_ready(folder)
    if ready is None:
        raise BuildError(f"image {what}: the environment at {folder} is unusable; delete it")
    return Environment(**{**ready.__dict__, "notice": interpreter.notice})


def _installed(uv: str, python: Path, env: dict[str, str]) -> dict[str, str]:
    out = _run([uv, "pip", "list", "--python", str(python), "--format", "json"], env)
    if out.returncode != 0:
        return {}
    return {item["name"].lower(): item["version"] for item in json.loads(out.stdout or "[]")}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no output"
