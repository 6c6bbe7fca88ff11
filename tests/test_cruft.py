"""cruft compatibility: a project baked with plain cookiecutter links to the template with
the answers the post-generation hook recorded, and then shows no difference to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baking import TEMPLATE_DIR, bake

pytest.importorskip("cruft", reason="cruft is installed by tests/requirements.txt")
CRUFT = Path(sys.executable).parent / "cruft"
GIT_IDENTITY = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.com"]


def git(folder: Path, *args: str) -> None:
    """Run git quietly in folder; fail the test on error."""
    subprocess.run(["git", *GIT_IDENTITY, *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as a git repository of its own, as cruft needs one to record a commit."""
    target = tmp_path_factory.mktemp("template") / "repo"
    shutil.copytree(
        TEMPLATE_DIR,
        target,
        ignore=shutil.ignore_patterns(
            ".git", ".nox", "site", "__pycache__", ".*_cache", "*.egg-info", ".mlops"
        ),
    )
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "template")
    return target


def test_plain_cookiecutter_project_links_to_cruft_with_recorded_answers(
    template_repo: Path, tmp_path: Path, cookiecutter_config: Path
) -> None:
    answers = {"project_name": "Linked Model", "ci_provider": "gitlab", "python_version": "3.12"}
    project = bake(tmp_path, cookiecutter_config, template=template_repo, **answers)
    recorded = (project / ".cookiecutter.json").read_text()

    link = subprocess.run(
        [str(CRUFT), "link", str(template_repo), "--no-input", "--extra-context", recorded],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert link.returncode == 0, link.stderr
    state = json.loads((project / ".cruft.json").read_text())
    assert state["context"]["cookiecutter"]["ci_provider"] == "gitlab"

    same = subprocess.run(
        [str(CRUFT), "diff", "--exit-code"], cwd=project, capture_output=True, text=True
    )
    assert same.returncode == 0, same.stdout + same.stderr

    # The comparison is real: a local edit shows up as a difference to the template.
    (project / "README.md").write_text("changed\n")
    changed = subprocess.run(
        [str(CRUFT), "diff", "--exit-code"], cwd=project, capture_output=True, text=True
    )
    assert changed.returncode != 0
