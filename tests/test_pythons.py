"""Any one supported Python runs the test command; missing versions are named, not fatal."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pythons
from baking import TEMPLATE_DIR

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_a_missing_python_is_skipped_with_its_reason_when_downloads_are_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    usable, skipped = pythons.resolve((RUNNING, "3.99"))
    assert usable == [RUNNING]
    assert skipped == {"3.99": "not installed and UV_PYTHON_DOWNLOADS=never"}
    line = pythons.skip_line(skipped)
    assert "\n" not in line and "Python 3.99" in line and "UV_PYTHON_DOWNLOADS=never" in line


def test_a_missing_python_is_fetched_with_uv_when_downloads_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS", raising=False)
    fetched: list[str] = []
    monkeypatch.setattr(pythons, "fetch", lambda version: fetched.append(version) or True)
    usable, skipped = pythons.resolve(("3.99",))
    assert (usable, skipped, fetched) == (["3.99"], {}, ["3.99"])


def test_the_root_noxfile_leaves_interpreter_downloads_to_the_user() -> None:
    source = (TEMPLATE_DIR / "noxfile.py").read_text()
    assert '"UV_PYTHON_DOWNLOADS": "never"' not in source
    assert "pythons.resolve(pythons.SLOW_TIER_PYTHONS)" in source


def test_the_slow_tier_bakes_the_versions_the_noxfile_resolves() -> None:
    import test_generated_project_slow as slow

    assert {slow.case_python(case) for case in slow.CASES} == set(pythons.SLOW_TIER_PYTHONS)


def _generated_noxfile(project: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("generated_noxfile_py", project / "noxfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_nox_runs_on_the_present_python_when_the_chosen_one_is_missing(
    default_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    noxfile = _generated_noxfile(default_project)
    other = "3.10" if RUNNING != "3.10" else "3.11"
    monkeypatch.setattr(noxfile, "CHOSEN_PYTHON", other)
    monkeypatch.setattr(noxfile, "uv_provides", lambda version, install: False)
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    capsys.readouterr()

    assert noxfile.session_python() == RUNNING

    line = capsys.readouterr().err.strip()
    assert line == (
        f"nox: Python {other} is not installed (UV_PYTHON_DOWNLOADS=never); sessions run on "
        f"Python {RUNNING} instead (CI runs {other})"
    )


def test_generated_nox_uses_the_chosen_python_when_uv_can_provide_it(
    default_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noxfile = _generated_noxfile(default_project)
    other = "3.10" if RUNNING != "3.10" else "3.11"
    monkeypatch.setattr(noxfile, "CHOSEN_PYTHON", other)
    monkeypatch.setattr(noxfile, "uv_provides", lambda version, install: install)
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS", raising=False)
    assert noxfile.session_python() == other
