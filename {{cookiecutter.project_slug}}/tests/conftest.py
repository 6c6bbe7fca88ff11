"""Shared fixtures: the shipped sample and the step outputs built from it, once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
