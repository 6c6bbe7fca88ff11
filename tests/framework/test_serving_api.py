"""sagepipe.serving's public API: one table of names, loaded lazily, seen by type checkers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sagepipe.serving
from framework_paths import FRAMEWORK_SRC

INIT = Path(sagepipe.serving.__file__)


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """Public name -> (module, attribute) as the ``if TYPE_CHECKING:`` block imports it."""
    tree = ast.parse(INIT.read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    seen: dict[str, tuple[str, str]] = {}
    for statement in block.body:
        assert isinstance(statement, ast.ImportFrom) and statement.level == 1
        for alias in statement.names:
            seen[alias.asname or alias.name] = (str(statement.module), alias.name)
    return seen


def test_the_export_table_all_and_the_type_checking_imports_name_the_same_things() -> None:
    exports = sagepipe.serving._EXPORTS
    assert sorted(sagepipe.serving.__all__) == sorted(exports)
    assert _type_checking_imports() == exports


def test_every_public_name_resolves_to_the_object_its_module_defines() -> None:
    for name, (module, attribute) in sagepipe.serving._EXPORTS.items():
        loaded = __import__(f"sagepipe.serving.{module}", fromlist=[attribute])
        assert getattr(sagepipe.serving, name) is getattr(loaded, attribute), name


def test_importing_the_package_and_its_light_names_loads_neither_numpy_nor_gunicorn() -> None:
    # The project CLI imports serving names for --help; numpy and gunicorn wait for a
    # command that serves something.
    code = (
        "import sys; from sagepipe.serving import (CaptureSpec, DeploymentHistory,"
        " EndpointError, EndpointSpec, ModelLoadError, TransformError); "
        "heavy = sorted({'numpy', 'gunicorn', 'pandas'} & set(sys.modules)); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(FRAMEWORK_SRC)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'deploy'"):
        _ = sagepipe.serving.deploy  # endpoints.deploy is public as deploy_endpoint
