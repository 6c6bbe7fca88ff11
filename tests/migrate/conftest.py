"""Migration tests import sagepipe from the template's generated-project source tree.

``make_project`` builds a small project (pyproject.toml naming the package's adapter,
src/<package>/, notebooks/ with a fixture notebook and its data), the shape ``migrate plan``
and ``apply`` work in (they read the declaration, never import it); the full baked project
is used where a run needs the adapter itself.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK_SRC = TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / "src"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

if str(FRAMEWORK_SRC) not in sys.path:
    sys.path.insert(0, str(FRAMEWORK_SRC))

PYPROJECT = """\
[project]
name = "demo"
version = "0.1.0"
dependencies = [
    "pandas>=2.2",
    "scikit-learn>=1.5",
]

[tool.sagepipe]
adapter = "{package}.adapter:project"
"""

MakeProject = Callable[..., Path]
_counter = {"n": 0}


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Return a factory: a project with the given fixture notebooks (and their data)."""

    def make(*notebooks: str) -> Path:
        _counter["n"] += 1
        # A unique package per project: verify imports the generated steps in-process.
        package = f"demo{_counter['n']}"
        root = tmp_path / "project"
        (root / "src" / package / "steps").mkdir(parents=True)
        (root / "src" / package / "__init__.py").write_text("")
        (root / "src" / package / "steps" / "__init__.py").write_text("")
        (root / "pyproject.toml").write_text(PYPROJECT.format(package=package))
        shutil.copytree(FIXTURES / "data", root / "notebooks" / "data")
        for name in notebooks:
            shutil.copy(FIXTURES / name, root / "notebooks" / Path(name).name)
        return root

    return make
