"""Cell roles: tags or '# step:' first, then headings by meaning, then what the code calls."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sagepipe.migrate.build import build
from sagepipe.migrate.classify import role_from_words
from sagepipe.migrate.notebook import read_notebook


def roles(tmp_path: Path, cells: list) -> dict[int, tuple[str, str | None]]:  # type: ignore[type-arg]
    notebook = new_notebook()
    notebook.cells = cells
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    migration = build(read_notebook(path))
    return {c.index: (c.role, c.step) for c in migration.cells}


def test_code_decides_when_nothing_else_does(tmp_path: Path) -> None:
    found = roles(
        tmp_path,
        [
            new_code_cell("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})"),
            new_code_cell("model = Thing()\nmodel.fit(df)"),
            new_code_cell("acc = accuracy_score(df.a, model.predict(df))"),
            new_code_cell("df.head()"),
        ],
    )
    assert [found[i][0] for i in range(4)] == ["preprocess", "train", "evaluate", "skip"]


def test_headings_at_any_level_are_matched_by_meaning(tmp_path: Path) -> None:
    found = roles(
        tmp_path,
        [
            new_markdown_cell("#### Model evaluation"),
            new_code_cell("model = Thing()\nmodel.fit(df)"),  # the heading wins over fit
            new_markdown_cell("# Fitting the candidates"),
            new_code_cell("x = df + 1"),
        ],
    )
    assert found[1][0] == "evaluate"
    assert found[3][0] == "train"


def test_tags_and_step_comments_win_over_headings(tmp_path: Path) -> None:
    tagged = new_code_cell("x = df + 1")
    tagged.metadata["tags"] = ["step:features"]
    found = roles(
        tmp_path,
        [
            new_markdown_cell("## Evaluation"),
            tagged,
            new_code_cell("# step: train\ny = x * 2"),
        ],
    )
    assert found[1] == ("preprocess", "features")  # 'features' means preprocessing
    assert found[2] == ("train", "train")


def test_skip_heading_does_not_drop_a_cell_that_changes_data(tmp_path: Path) -> None:
    found = roles(tmp_path, [new_markdown_cell("## Explore"), new_code_cell("df['z'] = 1")])
    assert found[1][0] == "preprocess"


def test_role_words() -> None:
    assert role_from_words("Train/test split") == "preprocess"
    assert role_from_words("Save the model") == "register"
    assert role_from_words("EDA and plots") == "skip"
    assert role_from_words("Appendix") is None


def test_ipython_only_display_inside_a_loop_is_a_warning(tmp_path: Path) -> None:
    notebook = new_notebook()
    notebook.cells = [new_code_cell("frames = [df, df]\nfor f in frames:\n    display(f)")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    warnings = build(read_notebook(path)).warnings
    assert any("calls display(), which exists only in IPython" in w for w in warnings)


def test_a_step_name_seen_again_later_becomes_a_new_step(tmp_path: Path) -> None:
    notebook = new_notebook()
    notebook.cells = [
        new_code_cell("# step: clean\na = 1 + 1"),
        new_code_cell("# step: clean\nb = a * 2"),
        new_code_cell("# step: fit\nm = Model()\nm.fit(b)"),
        new_code_cell("# step: clean\nc = b + 1"),
        new_code_cell("# step: class\nd = c"),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    migration = build(read_notebook(path))
    assert [(s.name, s.cells) for s in migration.steps] == [
        ("clean", [0, 1]),
        ("fit", [2]),
        ("clean_2", [3]),
        ("class_step", [4]),
    ]
    assert any("step 'clean' appears again" in w for w in migration.warnings)
