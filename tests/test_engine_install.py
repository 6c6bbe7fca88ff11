"""Two generated projects in one environment: neither's engine is overwritten unnoticed.

Each project vendors the engine as the top-level package ``sagepipe`` (docs/architecture.md,
"Vendored engine"). These tests install two real bakes into one venv with uv, from its cache
when it can (the offline promise), and check what each install mode does: editable
installs leave both engines' files alone and share one only when the versions agree;
wheel installs, which write the same files, are refused by the engine with the fix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baking import Baker

UV = shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed (tests/requirements.txt)")


def uv(*args: str) -> None:
    """Run uv from its cache only, or with the index when the cache lacks a package."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    offline = subprocess.run([str(UV), *args, "--offline"], env=env, capture_output=True, text=True)
    if offline.returncode != 0:
        subprocess.run([str(UV), *args], env=env, check=True, capture_output=True, text=True)


def make_venv(folder: Path, *install_args: str) -> Path:
    """A venv at ``folder`` with the projects installed (no dependencies: the engine's
    import-time check needs none); returns its python."""
    uv("venv", "-q", "--python", sys.executable, str(folder))
    python = folder / "bin" / "python"
    uv("pip", "install", "-q", "--no-deps", "--python", str(python), *install_args)
    return python


def tree_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (bytecode caches left out)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def import_sagepipe(python: Path) -> subprocess.CompletedProcess[str]:
    code = "import sagepipe; print(sagepipe.__version__, sagepipe.__file__)"
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True)


def set_engine_version(project: Path, version: str) -> None:
    # What `cruft update` to a later template release does to _version.py.
    (project / "src" / "sagepipe" / "_version.py").write_text(f'__version__ = "{version}"\n')


@pytest.fixture(scope="module")
def two_projects(bake_project: Baker) -> tuple[Path, Path]:
    return bake_project(), bake_project(project_name="Fraud Model")


def test_editable_installs_keep_both_engines_and_refuse_two_versions(
    two_projects: tuple[Path, Path], tmp_path: Path
) -> None:
    churn, fraud = two_projects
    engines = [churn / "src" / "sagepipe", fraud / "src" / "sagepipe"]
    before = [tree_digest(engine) for engine in engines]

    python = make_venv(tmp_path / "venv", "-e", str(churn), "-e", str(fraud))
    same_version = import_sagepipe(python)
    baked = (engines[1] / "_version.py").read_text()
    set_engine_version(fraud, "0.6.0")
    try:
        two_versions = import_sagepipe(python)
    finally:
        (engines[1] / "_version.py").write_text(baked)

    # Neither install touched the other's engine files.
    assert [tree_digest(engine) for engine in engines] == before
    # One version: the first engine on sys.path serves both, and says which it is.
    assert same_version.returncode == 0, same_version.stderr
    assert same_version.stdout.startswith("0.5.0 ")
    # Two versions: refused on import, naming both engines and the fix.
    assert two_versions.returncode == 1
    message = two_versions.stderr.strip().splitlines()[-1]
    assert message.startswith("sagepipe._one_engine.EngineConflict: two sagepipe engines")
    assert f"{engines[0]} (0.5.0, in use)" in message
    assert f"{engines[1]} (0.6.0)" in message
    assert "give each project its own virtual environment" in message


def test_wheel_installs_that_overwrite_an_engine_are_refused(
    two_projects: tuple[Path, Path], tmp_path: Path
) -> None:
    churn, fraud = two_projects

    python = make_venv(tmp_path / "venv", str(churn), str(fraud))
    result = import_sagepipe(python)

    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "was installed by churn-model-0.1.0 and fraud-model-0.1.0" in message
    assert "the last install overwrote the others' engine" in message


def test_one_project_per_venv_imports_its_own_engine(
    two_projects: tuple[Path, Path], tmp_path: Path
) -> None:
    churn, _ = two_projects

    python = make_venv(tmp_path / "venv", str(churn))
    result = import_sagepipe(python)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0.5.0 ")
