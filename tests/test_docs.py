"""The docs' options table is generated from cookiecutter.json and must not drift."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
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


def nav_pages() -> list[str]:
    """The page files mkdocs.yml's nav lists, in order (one `- Title: page.md` per line)."""
    lines = (TEMPLATE_DIR / "mkdocs.yml").read_text().splitlines()
    start = lines.index("nav:")
    pages = []
    for line in lines[start + 1 :]:
        if not line.startswith("  - "):
            break
        pages.append(line.rsplit(":", 1)[1].strip())
    return pages


def test_docs_nav_lists_every_page_once() -> None:
    pages = nav_pages()
    assert len(pages) == len(set(pages)), pages
    on_disk = {path.name for path in (TEMPLATE_DIR / "docs").glob("*.md")}
    assert set(pages) == on_disk


def test_docs_point_only_at_files_in_the_repository() -> None:
    # Markdown links and backticked `*.md` paths must resolve inside the template repo.
    pattern = re.compile(r"\]\(([^)#\s]+\.md)[^)]*\)|`([^`\s]+\.md)`")
    pages = [TEMPLATE_DIR / "README.md", *sorted((TEMPLATE_DIR / "docs").glob("*.md"))]
    missing = []
    for page in pages:
        for match in pattern.finditer(page.read_text()):
            target = match.group(1) or match.group(2)
            if "://" in target or "{{" in target:
                continue
            resolved = (page.parent / target).resolve()
            inside = resolved.is_relative_to(TEMPLATE_DIR.resolve())
            if not (inside and resolved.exists()) and not (TEMPLATE_DIR / target).exists():
                missing.append(f"{page.name}: {target}")
    assert not missing, missing


def test_deploy_page_sends_the_request_the_generated_readme_tests(default_project) -> None:
    # The generated README's examples are run by its tests/deploy/test_readme_lifecycle.py;
    # the deploy page must show the same request and an answer of the same shape.
    readme = (default_project / "README.md").read_text()
    page = (TEMPLATE_DIR / "docs" / "deploy.md").read_text()
    body = re.search(r"--data-binary '([^']+)'", readme)
    assert body and f"--data-binary '{body.group(1)}'" in page
    answer = re.compile(r"^[01],0\.\d+$", re.MULTILINE)
    assert answer.search(page), "the deploy page shows no <label>,<probability> answer"
    assert "0,0.003678\n" not in page  # the old, rounded output no real server gives
