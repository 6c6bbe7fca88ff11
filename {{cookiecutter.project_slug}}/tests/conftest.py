"""Shared fixtures: the shipped sample and the step outputs built from it, once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.steps.preprocess import preprocess
from {{ cookiecutter.package_name }}.steps.train import train_model

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "data" / "raw" / "churn.csv"


@pytest.fixture(scope="session")
def sample_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw folder holding a copy of the shipped sample CSV (tests must not touch data/)."""
    folder = tmp_path_factory.mktemp("raw")
    shutil.copyfile(SAMPLE, folder / SAMPLE.name)
    return folder


@pytest.fixture(scope="session")
def processed(sample_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The preprocess step's train and test folders for the sample."""
    root = tmp_path_factory.mktemp("processed")
    preprocess(sample_raw, root / "train", root / "test")
    return {"raw": sample_raw, "train": root / "train", "test": root / "test"}


@pytest.fixture(scope="session")
def model_dir(processed: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory trained on the sample with small, fast hyperparameters."""
    folder = tmp_path_factory.mktemp("model")
    train_model(processed["train"], folder, max_iter=50)
    return folder


def project_env() -> dict[str, str]:
    """Environment for subprocesses: the project's src on the path, GX offline."""
    env = dict(os.environ)
    src = str(PROJECT_ROOT / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    env["GX_ANALYTICS_ENABLED"] = "false"
    env.pop("SAGEPIPE_WORKSPACE", None)
    env.pop("MLOPS_STAGE", None)
    return env


def cli_command(*args: str | Path) -> list[str]:
    """The argv that runs the project CLI in a fresh interpreter."""
    return [sys.executable, "-m", "{{ cookiecutter.package_name }}", *map(str, args)]


def run_cli(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the project CLI as a user would, from the project root; never raises on failure."""
    return subprocess.run(
        cli_command(*args),
        cwd=PROJECT_ROOT,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_pipeline(workspace: Path, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    """``run --json`` in ``workspace``: return the exit code, the execution and stderr."""
    done = run_cli("run", "--json", "--workspace", workspace, *args)
    execution = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, execution, done.stderr


def registered_versions(workspace: Path) -> list[dict[str, Any]]:
    """Every registered version in the workspace, as ``registry list --json`` shows it."""
    done = run_cli("registry", "list", "--json", "--workspace", workspace)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


@pytest.fixture(scope="session")
def warm_workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace where the whole pipeline ran once on the sample (cold), shared by the
    end-to-end tests so that later runs reuse its step cache."""
    workspace = tmp_path_factory.mktemp("workspace")
    code, execution, stderr = run_pipeline(workspace)
    assert code == 0, stderr
    return {"workspace": workspace, "execution": execution}


@pytest.fixture(scope="session")
def aws_servers() -> Any:
    """moto's server and a recording proxy on loopback (tests/aws_loopback.py)."""
    from aws_loopback import AwsOnLoopback

    started = AwsOnLoopback()
    yield started
    started.close()


@pytest.fixture
def aws(aws_servers: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A clean moto, boto3 pointed at it, and the stage settings an AWS account needs."""
    aws_servers.reset()
    for key, value in aws_servers.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("MLOPS_STAGE", raising=False)
    monkeypatch.setenv("MLOPS_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerExecutionRole")
    monkeypatch.setenv("MLOPS_REGION", "us-east-1")
    return aws_servers
