"""The layer rules of tests/import-layers.ini hold in a freshly baked project.

import-linter, not a hand-written AST walk: its contracts are declarative (a newcomer reads
the layers top to bottom), it follows indirect chains (a -> b -> c), counts imports inside
functions and under TYPE_CHECKING, and every exception is a named line in the contract
file that fails once it no longer matches. The rules need a real project package beside
the engine (deploy/ is one of the importers they govern), hence the bake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from baking import Baker

CONTRACTS = Path(__file__).with_name("import-layers.ini")


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """Run `lint-imports` on the contracts with ``src`` as the import root."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
            str(CONTRACTS),
        ],
        cwd=src,
        env={**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def baked_src(bake_project: Baker) -> Path:
    return bake_project() / "src"


def test_the_engine_and_the_project_import_downward_only(baked_src: Path) -> None:
    result = lint_imports(baked_src)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_cycle_only_type_checkers_see_breaks_the_authoring_layers(baked_src: Path) -> None:
    # The cycle this issue removed: expressions.py reading the step classes for its hints.
    expressions = baked_src / "sagepipe" / "expressions.py"
    original = expressions.read_text()
    hint = "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .steps import Step\n"
    expressions.write_text(original + hint)
    try:
        result = lint_imports(baked_src)
    finally:
        expressions.write_text(original)

    assert result.returncode == 1
    assert "Authoring: values < steps < step types < graph < compile BROKEN" in result.stdout
    assert "sagepipe.expressions -> sagepipe.steps" in result.stdout
