"""The docs' options table is generated from cookiecutter.json and must not drift."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from types import ModuleType

from baking import DEFAULTS, TEMPLATE_DIR


def load_generator() -> ModuleType:
    """Import docs/gen_options.py."""
    path = TEMPLATE_DIR / "docs" / "gen_options.py"
    spec = importlib.util.spec_from_file_location("gen_options", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_options"] = module
    spec.loader.exec_module(module)
    return module


gen_options = load_generator()


def test_committed_options_table_is_current() -> None:
    page = gen_options.OPTIONS_PAGE.read_text()
    assert gen_options.render_page(page, gen_options.options_table(DEFAULTS)) == page


def test_check_mode_passes_on_the_committed_page() -> None:
    assert gen_options.main(["--check"]) == 0


def test_table_has_a_row_per_question_with_its_default() -> None:
    table = gen_options.options_table(DEFAULTS)
    for key, value in DEFAULTS.items():
        if key.startswith("_"):
            continue
        row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
        first = value[0] if isinstance(value, list) else value
        if "{{" not in str(first):
            assert f"`{first}`" in row


def test_a_new_option_changes_the_table() -> None:
    changed = json.loads(json.dumps(DEFAULTS))
    changed["use_gpu"] = ["no", "yes"]
    page = gen_options.OPTIONS_PAGE.read_text()
    assert gen_options.render_page(page, gen_options.options_table(changed)) != page
    assert "| `use_gpu` |" in gen_options.options_table(changed)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = (TEMPLATE_DIR / ".ci" / "run").read_text().splitlines()
    commands = [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    readme = (TEMPLATE_DIR / "README.md").read_text()
    assert commands[-1] in readme
    assert "nox -s tests" in commands[-1]


def test_root_noxfile_has_documented_sessions_on_uv() -> None:
    source = (TEMPLATE_DIR / "noxfile.py").read_text()
    tree = ast.parse(source)
    sessions = {
        node.name: ast.get_docstring(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(decorator) for decorator in node.decorator_list)
    }
    assert {"tests", "lint", "demo", "docs"} <= set(sessions)
    assert all(doc and "\n" not in doc for doc in sessions.values())
    assert 'nox.options.default_venv_backend = "uv"' in source
