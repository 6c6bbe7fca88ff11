"""Bake the template and install the generated project, the way a user does.

The benchmarks measure the generated project from the outside: its own venv (made by uv
with the shared, warm package cache) and its own CLI, run as subprocesses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from measure import BenchError, Timed, clean_env, run_timed

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE = "churn_model"
DEFAULT_SLUG = "churn-model"


@dataclass(frozen=True)
class Project:
    """A baked project with its own venv."""

    root: Path
    package: str = DEFAULT_PACKAGE
    slug: str = DEFAULT_SLUG

    @property
    def venv(self) -> Path:
        return self.root / ".venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def cli(self, *args: str) -> list[str]:
        """argv for ``python -m <package> ARGS`` in the project's venv."""
        return [str(self.python), "-m", self.package, *args]

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for the project's commands: its venv first on PATH."""
        base = clean_env(**extra)
        base["PATH"] = f"{self.venv / 'bin'}:{base.get('PATH', '')}"
        base["VIRTUAL_ENV"] = str(self.venv)
        return base

    def run(self, *args: str, log: Path, env: Mapping[str, str] | None = None) -> Timed:
        """Run the project's CLI in its root; raise ``BenchError`` on failure."""
        return run_timed(self.cli(*args), cwd=self.root, env=self.env(**(env or {})), log=log)

    def output(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run the project's CLI and return its stdout (for ``--json`` listings)."""
        done = subprocess.run(
            self.cli(*args),
            cwd=self.root,
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise BenchError(
                f"{self.slug} {' '.join(args)}: exit {done.returncode}: "
                f"{done.stderr.strip().splitlines()[-1:] or ''}"
            )
        return done.stdout


def cookiecutter_argv(out_dir: Path, extra: Mapping[str, str] | None = None) -> list[str]:
    """argv that bakes the template with default answers into ``out_dir``."""
    exe = Path(sys.executable).parent / "cookiecutter"
    command = [
        str(exe) if exe.exists() else "cookiecutter",
        "--no-input",
        "-o",
        str(out_dir),
        str(TEMPLATE),
    ]
    command += [f"{key}={value}" for key, value in (extra or {}).items()]
    return command


def install_argvs(project: Project, python: str) -> list[list[str]]:
    """The two uv commands that make the project's venv and install it (editable).

    Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as on our
    CI machines) every import would otherwise parse pandas, scikit-learn and GX from source,
    about 3x slower, which no user machine with a normal .pyc cache pays after its first run.
    """
    return [
        ["uv", "venv", "-q", "--python", python, str(project.venv)],
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--compile-bytecode",
            "--python",
            str(project.python),
            "-e",
            str(project.root),
        ],
    ]


def bake(out_dir: Path, log: Path) -> tuple[Project, Timed]:
    """Bake a fresh project into ``out_dir`` (emptied first)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    timed = run_timed(cookiecutter_argv(out_dir), env=clean_env(), log=log)
    return Project(out_dir / DEFAULT_SLUG), timed


def install(project: Project, python: str, log: Path, *extra_packages: str) -> float:
    """Create the project's venv and install it; return the seconds it took."""
    seconds = 0.0
    for argv in install_argvs(project, python):
        seconds += run_timed(argv, cwd=project.root, env=clean_env(), log=log).seconds
    if extra_packages:
        seconds += run_timed(
            ["uv", "pip", "install", "-q", "--python", str(project.python), *extra_packages],
            cwd=project.root,
            env=clean_env(),
            log=log,
        ).seconds
    return seconds
