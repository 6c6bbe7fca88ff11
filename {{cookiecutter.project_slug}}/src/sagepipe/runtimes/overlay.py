"""A source directory's ``requirements.txt`` on top of a runtime's environment.

The framework containers ``pip install -r requirements.txt`` from the submitted source
directory before they run the entry point, into the image's own Python: what is already
installed and satisfies a requirement stays, the rest is added or upgraded. Locally the
runtime's environment is shared by every job and project, so it is never changed:
the overlay is a copy of it (hard links, so it costs no disk and a fraction of a second),
into which uv installs the requirements, offline from its cache. It is cached under
``<cache>/overlays/<digest>`` of the base environment and the file's text, built into a
temporary folder and renamed into place when complete, under a file lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from .build import (
    BuildError,
    Environment,
    _culprit,
    _installed,
    _load_ready,
    _locked,
    _run,
    _uv,
    cache_root,
)
from .table import normalise

OVERLAY_FORMAT = "sagepipe-requirements-overlay-v1"


def overlay_key(base: Environment, text: bytes) -> str:
    """Digest of what makes two overlays equal: the base environment and the file's text."""
    digest = hashlib.sha256()
    for part in (OVERLAY_FORMAT, str(base.folder or base.python), base.python_version):
        digest.update(part.encode() + b"\0")
    digest.update(text)
    return digest.hexdigest()[:20]


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed: a real copy
        shutil.copy2(src, dst)


def requirements_overlay(
    base: Environment,
    requirements: Path,
    *,
    what: str,
    root: Path | None = None,
) -> Environment:
    """The environment of ``base`` plus ``requirements`` installed with uv, offline only.

    ``base`` must be a built environment (``base.folder`` set). ``what`` names the step and
    file in error messages. Raises :class:`BuildError` with one line naming the package
    that is not in uv's cache and the command that would fetch it.
    """
    if base.folder is None:
        raise BuildError(f"{what}: the runtime has no environment folder to overlay")
    text = requirements.read_bytes()
    root = (root or cache_root()) / "overlays"
    key = overlay_key(base, text)
    folder = root / key
    ready = _load_ready(folder)
    if ready is not None:
        return Environment(**{**ready.__dict__, "notice": base.notice})
    with _locked(root / f".{key}.lock"):
        ready = _load_ready(folder)  # another job may have built it while we waited
        if ready is None:
            _build(base, requirements, folder, key, what)
    ready = _load_ready(folder)
    if ready is None:
        raise BuildError(f"{what}: the environment at {folder} is unusable; delete it")
    return Environment(**{**ready.__dict__, "notice": base.notice})


def _build(base: Environment, requirements: Path, folder: Path, key: str, what: str) -> None:
    assert base.folder is not None
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        # The base venv is relocatable and uv only ever replaces files (never writes into
        # one), so hard links are safe: the base environment cannot change.
        shutil.copytree(base.folder, tmp / "env", symlinks=True, copy_function=_link_or_copy)
        python = tmp / "env" / "bin" / "python"
        done = _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--offline",
                "--python",
                str(python),
                "-r",
                str(requirements),
            ],
            env,
        )
        if done.returncode != 0:
            raise BuildError(_offline_error(what, done.stderr, requirements, base))
        packages = _installed(uv, python, env)
        marker = tmp / "env" / "runtime.json"
        data = json.loads(marker.read_text())
        data.update(
            requirements_file=requirements.read_text(errors="replace"),
            base=str(base.folder),
            packages=packages,
            built=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        # runtime.json is a hard link to the base's: replace it, never write into it.
        fresh = marker.with_suffix(".tmp")
        fresh.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(fresh, marker)
        os.replace(tmp / "env", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _name(requirement: str) -> str:
    return normalise(re.split(r"[\s<>=!~;\[@]", requirement, maxsplit=1)[0])


def _offline_error(what: str, stderr: str, requirements: Path, base: Environment) -> str:
    lines = [
        line.split("#")[0].strip()
        for line in requirements.read_text(errors="replace").splitlines()
        if line.split("#")[0].strip()
    ]
    culprit = _culprit(stderr, lines)
    name = _name(culprit)
    # The requirement as the file states it fetches exactly what the install needs.
    wanted = [line for line in lines if _name(line) == name]
    what_to_fetch = shlex.quote(wanted[0]) if wanted else f"-r {shlex.quote(str(requirements))}"
    # Into a throwaway folder with the runtime's own interpreter (a bare "3.8" may find a
    # pyenv shim that refuses to run): it fills uv's cache and changes no environment.
    target = Path(tempfile.gettempdir()) / "sagepipe-fetch"
    return (
        f"{what}: cannot install it offline: {wanted[0] if wanted else culprit} is not in "
        f"uv's cache; fetch it with network access: "
        f"uv pip install --python {shlex.quote(str(base.python))} --target {target} "
        f"{what_to_fetch}"
    )


def overlay_packages(base: Environment, overlay: Environment) -> dict[str, str]:
    """What the requirements added or changed: ``{name: version}``."""
    return {k: v for k, v in sorted(overlay.packages.items()) if base.packages.get(k) != v}
