"""``sagepipe``'s public names: one list, loaded lazily, each from the module that defines it."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import sagepipe
from framework_paths import FRAMEWORK_SRC

INIT = FRAMEWORK_SRC / "sagepipe" / "__init__.py"


def _listed() -> dict[str, str]:
    """The TYPE_CHECKING block of sagepipe/__init__.py, read the way a type checker does."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If))
    names: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.unparse(node)
        for alias in node.names:
            # `X as X` is what makes a type checker treat the import as a re-export.
            assert alias.asname == alias.name, f"write `{alias.name} as {alias.name}`"
            names[alias.name] = f"sagepipe.{node.module}"
    return names


def test_all_is_the_listed_names_and_each_resolves_to_its_defining_module() -> None:
    listed = _listed()

    assert sagepipe.__all__ == sorted(n for n in listed if not n.startswith("__"))
    for name, module in listed.items():
        value = getattr(sagepipe, name)
        if name == "__version__":
            assert value == sys.modules[module].__version__
        else:
            assert value.__module__ == module, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Procesing'"):
        _ = sagepipe.Procesing  # type: ignore[attr-defined]


def test_a_name_loads_only_the_modules_it_needs_and_submodules_still_import() -> None:
    code = (
        "import sys, sagepipe\n"
        "before = sorted(m for m in sys.modules if m.startswith('sagepipe'))\n"
        "sagepipe.Join, sagepipe.__version__\n"
        "from sagepipe import contract\n"
        "after = sorted(m for m in sys.modules if m.startswith('sagepipe'))\n"
        "print(before, after)\n"
    )
    result = _fresh_python(code)
    before, after = result.stdout.strip().split("] [")
    assert before == "['sagepipe', 'sagepipe._one_engine', 'sagepipe._version'"
    # Join is defined beside the expression base: the steps, graph and compiler stay unloaded.
    assert after == (
        "'sagepipe', 'sagepipe._one_engine', 'sagepipe._version', 'sagepipe.contract', "
        "'sagepipe.errors', 'sagepipe.expressions']"
    )


def test_the_local_executor_loads_no_data_library() -> None:
    # Every run imports the executor; numpy & co. belong in the jobs (and the warm
    # interpreter), not in the process that schedules them. A cached re-run pays for them.
    code = (
        "import sys\n"
        "import sagepipe.local.executor, sagepipe.local.runners.transform\n"
        "print([m for m in ('numpy', 'pandas', 'sklearn', 'great_expectations', 'boto3')"
        " if m in sys.modules])\n"
    )
    result = _fresh_python(code)
    assert result.stdout.strip() == "[]"


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter that sees only the framework's sources."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(FRAMEWORK_SRC), "PATH": "/usr/bin:/bin"},
    )
