"""Fixtures for the template's tests: an isolated cookiecutter config and baked projects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baking import Baker, bake


def pytest_configure(config: pytest.Config) -> None:
    """Register the tier marker so `-m "not slow"` selects the fast tier."""
    config.addinivalue_line("markers", "slow: bakes and runs a generated project's own nox")


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cookiecutter user config with replay and clones in a temporary folder.

    Without it every bake writes the shared ~/.cookiecutter_replay, which parallel test
    workers would race on, and the user's own config could change the defaults.
    """
    home = tmp_path_factory.mktemp("cookiecutter-home")
    config = home / "config.yaml"
    config.write_text(
        f"cookiecutters_dir: {home / 'cookiecutters'}\nreplay_dir: {home / 'replay'}\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="session")
def bake_project(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Baker:
    """Bake a project with the given answers into a fresh folder and return its path."""

    def _bake(**answers: str) -> Path:
        return bake(tmp_path_factory.mktemp("bake"), cookiecutter_config, **answers)

    return _bake


@pytest.fixture(scope="session")
def default_project(bake_project: Baker) -> Path:
    """The project `cookiecutter --no-input` generates."""
    return bake_project()


@pytest.fixture(autouse=True, scope="session")
def _quiet_great_expectations() -> None:
    # GX phones home unless told not to; generated projects' code may import it.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
