"""Magics and shell lines leave the code, and each one is recorded: never a silent drop."""

from __future__ import annotations

import ast

from sagepipe.migrate.magics import strip_magics


def test_pip_install_becomes_requirements_without_flags() -> None:
    clean = strip_magics("!pip install -q xgboost==2.0 'lightgbm>=4'\n%pip install -U shap\nx = 1")
    assert clean.requirements == ["xgboost==2.0", "lightgbm>=4", "shap"]
    assert clean.source.strip() == "x = 1"
    assert len(clean.notes) == 2


def test_every_other_magic_and_shell_line_is_a_todo() -> None:
    source = "%matplotlib inline\n!ls -la\nfiles = !ls\n%load_ext autoreload\ny = 2"
    clean = strip_magics(source)
    assert [n.line for n in clean.notes] == [
        "%matplotlib inline",
        "!ls -la",
        "files = !ls",
        "%load_ext autoreload",
    ]
    assert all(n.action for n in clean.notes)
    assert ast.parse(clean.source)  # what is left is Python


def test_timing_cell_magic_keeps_its_body() -> None:
    clean = strip_magics("%%time\nz = sum(range(3))")
    assert clean.source == "z = sum(range(3))"
    assert clean.notes[0].line == "%%time"


def test_foreign_cell_magic_is_left_out_whole() -> None:
    clean = strip_magics("%%bash\necho hi")
    assert clean.foreign and clean.source == ""
    assert "not Python" in clean.notes[0].action


def test_indented_magic_leaves_a_valid_block() -> None:
    clean = strip_magics("if True:\n    !echo hi\nq = 1")
    ast.parse(clean.source)
    assert "TODO(migrate)" in clean.source
