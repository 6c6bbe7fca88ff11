"""Reading notebooks: .ipynb and jupytext percent scripts, and clear errors for the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FIXTURES
from sagepipe.migrate import MigrationError
from sagepipe.migrate.notebook import read_notebook


def test_ipynb_cells_keep_tags_and_execution_counts() -> None:
    notebook = read_notebook(FIXTURES / "churn_messy.ipynb")
    code = notebook.code_cells
    assert code[1].tags == ["parameters"]
    assert [c.execution_count for c in code[3:6]] == [4, 7, 6]  # ran out of order
    assert code[2].source.startswith("df = pd.read_csv(DATA)")


def test_percent_script_reads_markdown_code_and_uncommented_magics() -> None:
    notebook = read_notebook(FIXTURES / "houses_percent.py")
    kinds = [c.kind for c in notebook.cells]
    assert kinds[:3] == ["markdown", "code", "markdown"]
    assert notebook.cells[0].source.splitlines()[0] == "# House prices"
    explore = next(c for c in notebook.code_cells if "describe" in c.source)
    # jupytext writes magics as "# %config ..."; they are magics again once read.
    assert explore.source.splitlines()[0].startswith("%config")


def test_percent_tags_are_read(tmp_path: Path) -> None:
    script = tmp_path / "nb.py"
    script.write_text('# %% tags=["parameters"]\nN = 3\n\n# %%\nprint(N)\n')
    cells = read_notebook(script).cells
    assert cells[0].tags == ["parameters"]
    assert cells[1].source == "print(N)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nb.txt", "x", "unsupported notebook type '.txt'"),
        ("nb.ipynb", "{not json", "not valid notebook JSON"),
        ("nb.ipynb", json.dumps({"nbformat": 3, "worksheets": []}), "nbformat 3"),
        ("nb.py", "x = 1\n", "no '# %%' cell markers"),
    ],
)
def test_bad_notebooks_fail_with_one_line_reason(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MigrationError, match=message) as caught:
        read_notebook(path)
    assert "\n" not in str(caught.value)


def test_missing_notebook_is_named(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no such notebook"):
        read_notebook(tmp_path / "absent.ipynb")
