"""`migrate apply` writes only inside the project, whatever the plan says (issue 13, item 2).

Each hostile edit must be refused with one line that names the plan line, and nothing may
appear outside the project (nor inside it: the refusal comes before any write).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagepipe.migrate.cli import migrate


def invoke(root: Path, *args: str):
    return CliRunner().invoke(migrate, [*args, "--project", str(root)])


def planned(make_project) -> tuple[Path, Path]:
    root = make_project("churn_messy.ipynb")
    result = invoke(root, "plan", str(root / "notebooks" / "churn_messy.ipynb"))
    assert result.exit_code == 0, result.output
    return root, Path(result.stdout.strip().splitlines()[-1])


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


HOSTILE = [
    # (what the reviewer's edit replaces, with what, the rule the error must name)
    ("name: churn_messy", "name: ../../escaped", "name '../../escaped'"),
    ("name: churn_messy", 'name: "churn_messy\\n"', "name 'churn_messy\\n'"),
    ("name: churn_messy", "name: /tmp/abs", "name '/tmp/abs'"),
    ("name: churn_messy", "name: class", "name 'class'"),
    ("name: churn_messy", "name: [a, b]", "name ['a', 'b']"),
    ("  step: train\n", "  step: ../../../outside\n", "step '../../../outside'"),
    ("  step: train\n", '  step: "train\\n"\n', "step 'train\\n'"),
    ("  step: train\n", "  step: Train/x\n", "step 'Train/x'"),
    ("  step: train\n", "  step: 7\n", "step 7"),
    ("  role: train\n", "  role: ../train\n", "role '../train'"),
    ("package: ", "package: ../../evil #", "package '../../evil'"),
    ("package: ", "package: other_pkg #", "package 'other_pkg'"),
    ("- cell: 8\n", "- cell: eight\n", "cell 'eight'"),
    ("version: 1", "version: 2", "not a version 1 migration plan"),
]


@pytest.mark.parametrize(("old", "new", "named"), HOSTILE, ids=[h[1][:24] for h in HOSTILE])
def test_hostile_plan_edits_are_refused_before_anything_is_written(
    make_project, tmp_path: Path, old: str, new: str, named: str
) -> None:
    root, plan = planned(make_project)
    text = plan.read_text()
    assert old in text
    plan.write_text(text.replace(old, new, 1))
    outside_before = files_under(tmp_path)
    result = invoke(root, "apply", str(plan))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert named in result.output
    if named.startswith("not a version"):
        return
    # the error names the plan file and the line of the bad entry
    line = int(re.search(r"churn_messy\.yaml:(\d+):", result.output).group(1))
    assert new.strip().split(":")[0].lstrip("- ") in plan.read_text().splitlines()[line - 1]
    assert files_under(tmp_path) == outside_before  # nothing written anywhere
    assert not (root / "tests").exists() and not (root / "src" / "escaped").exists()


def test_parameter_entries_are_type_checked_with_their_line(make_project) -> None:
    root, plan = planned(make_project)
    text = plan.read_text()
    plan.write_text(text.replace("value: 60", "value: {x: 1}", 1))
    result = invoke(root, "apply", str(plan))
    assert result.exit_code == 1
    assert "parameter 'N_TREES' has value {'x': 1}; use a number, a string or true/false" in (
        result.output
    )
    number = int(re.search(r"\.yaml:(\d+):", result.output).group(1))
    assert "value: {x: 1}" in plan.read_text().splitlines()[number - 1]


def test_a_notebook_path_that_could_break_out_of_generated_code_is_refused(
    make_project,
) -> None:
    root, plan = planned(make_project)
    text = plan.read_text()
    plan.write_text(
        text.replace(
            "notebook: notebooks/churn_messy.ipynb",
            'notebook: \'notebooks/"""; import os""".ipynb\'',
            1,
        )
    )
    result = invoke(root, "apply", str(plan))
    assert result.exit_code == 1
    assert "no quotes, backslashes or line breaks" in result.output


def test_a_plan_outside_the_project_is_refused(make_project, tmp_path: Path) -> None:
    root, plan = planned(make_project)
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(plan.read_text())
    result = invoke(root, "apply", str(elsewhere))
    assert result.exit_code == 1
    assert "the plan must be inside the project" in result.output
    assert not (tmp_path / "elsewhere.manifest.json").exists()


def test_a_symlinked_folder_that_leads_outside_is_not_written_through(
    make_project, tmp_path: Path
) -> None:
    root, plan = planned(make_project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "tests").symlink_to(outside, target_is_directory=True)
    result = invoke(root, "apply", str(plan))
    assert result.exit_code == 1
    assert "apply writes only inside the project" in result.output
    assert list(outside.iterdir()) == []
    assert not list((root / "src").glob("*/steps/churn_messy"))


def test_the_plan_package_is_recomputed_not_trusted(make_project) -> None:
    root, plan = planned(make_project)
    result = invoke(root, "apply", str(plan))
    assert result.exit_code == 0, result.output
    package = next(p.name for p in (root / "src").iterdir())
    assert all(
        line.split(": ", 1)[1].startswith(("src/" + package, "tests/"))
        for line in (result.output.strip().splitlines())
        if line.startswith("wrote: ")
    )
