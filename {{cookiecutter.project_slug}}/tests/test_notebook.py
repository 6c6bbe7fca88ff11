"""The exploration notebook: committed without outputs, and it runs top to bottom."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


def test_exploration_notebook_imports_the_package_instead_of_copying_it() -> None:
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "01-exploration.ipynb", as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    for step in ("preprocess(", "check_data_quality(", "train_model(", "evaluate_model("):
        assert step in source
    assert "def " not in source


@pytest.mark.slow
def test_exploration_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient", reason="install nbclient to execute notebooks")
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "01-exploration.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT / "notebooks")}},
    )
    client.execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "\n".join(
        str(output.get("text", "")) + str(output.get("data", {}).get("text/plain", ""))
        for output in outputs
    )
    assert "Data quality passed" in text
    assert "'accuracy'" in text
