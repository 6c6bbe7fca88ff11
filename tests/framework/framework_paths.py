"""Where the framework under test lives (importable by tests, unlike conftest.py)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK_SRC = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "src"
HERE = Path(__file__).resolve().parent
