"""Dependency analysis: mutation counts as a change, so the next step gets the new value."""

from __future__ import annotations

import ast

import pytest

from sagepipe.migrate.analysis import effects, function_free_names


def run(source: str):
    return effects(ast.parse(source).body)


@pytest.mark.parametrize(
    ("source", "changed"),
    [
        ("df.dropna(inplace=True)", "df"),
        ("df['x'] = df['a'] * 2", "df"),
        ("df.loc[df.a > 1, 'b'] = 0", "df"),
        ("model.fit(X, y)", "model"),
        ("obj.attr = 3", "obj"),
        ("del df['x']", "df"),
        ("items.append(4)", "items"),
        ("counts += 1", "counts"),
        ("np.random.shuffle(rows)", "rows"),
        ("for name, m in models.items():\n    m.fit(X, y)", "models"),
    ],
)
def test_mutation_is_a_change_of_the_variable(source: str, changed: str) -> None:
    found = run(source)
    assert changed in found.mutates
    assert changed in found.uses  # a change needs the value that came before


def test_del_removes_the_name() -> None:
    found = run("tmp = df.head()\ndel tmp")
    assert found.deletes == ["tmp"]


def test_names_defined_before_use_in_the_block_are_not_inputs() -> None:
    found = run("a = load()\nb = a + c")
    assert "a" not in found.uses and "c" in found.uses


def test_comprehension_and_lambda_variables_are_local() -> None:
    found = run("ys = [x * k for x in xs]\nf = lambda v: v + w")
    assert set(found.uses) >= {"xs", "k", "w"}
    assert not {"x", "v"} & set(found.uses)


def test_function_reading_globals_is_detected() -> None:
    node = ast.parse(
        "def scale(frame, factor=2):\n"
        "    total = frame.sum() * factor\n"
        "    return total / THRESHOLD + offset\n"
    ).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert function_free_names(node) == ["THRESHOLD", "offset"]
