"""Helpers shared by the template's tests: bake real projects and look at what came out."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
EXPECTED_FILES_LIST = Path(__file__).with_name("expected_project_files.txt")
DEFAULTS: dict[str, object] = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())

# A fixture that bakes a project with the given answers (see conftest.bake_project).
Baker = Callable[..., Path]

# Tool caches that appear in a working copy (git ignores them) but never in a fresh clone.
CACHE_PARTS = {
    "__pycache__",
    ".ruff_cache",
    ".mypy_cache",
    ".pytest_cache",
    ".ipynb_checkpoints",
}

# The CI config each provider owns; every other provider's config must be gone after baking.
CI_FILES = {
    "github": {".github/workflows/ci.yml", ".github/workflows/deploy.yml", "infra/ci-github.yml"},
    "gitlab": {".gitlab-ci.yml", "infra/ci-gitlab.yml"},
    "codebuild": {
        "buildspec.yml",
        "buildspec-deploy.yml",
        "buildspec-promote.yml",
        "infra/ci-codebuild.yml",
    },
    "none": set(),
}
ALL_CI_FILES = set().union(*CI_FILES.values())
# Written by the post-generation hook, not present in the template folder.
HOOK_WRITTEN = {".cookiecutter.json"}

# Jinja that survived rendering: `{{` and `{%` anywhere; `}}` and `%}` only in Jinja's
# spacing (`{{ x }}`, `{% if %}`), because Python dict literals legitimately end in `}}`
# and format specs like `{x:.1%}` in `%}`.
LEFTOVER_JINJA = re.compile(r"\{\{|\{%|\s\}\}|\s%\}")


def is_cache(relative: Path) -> bool:
    """Whether a path lies in a tool cache folder or is compiled bytecode."""
    return bool(CACHE_PARTS.intersection(relative.parts)) or relative.suffix == ".pyc"


def files_under(root: Path) -> set[str]:
    """Relative POSIX paths of every file under root, tool caches left out."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not is_cache(path.relative_to(root))
    }


def listed_files() -> set[str]:
    """The committed list of the default project's files (one path a line, # comments)."""
    lines = EXPECTED_FILES_LIST.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def expected_files(answers: Mapping[str, object]) -> set[str]:
    """The exact file set a bake with these answers must produce.

    Start from the committed list (the default project with every CI config), swap in the
    package name, drop the CI configs of other providers and add what the hook writes.
    """
    package = str(answers["package_name"])
    default_package = "churn_model"
    base = {
        path.replace(f"src/{default_package}/", f"src/{package}/", 1) for path in listed_files()
    }
    chosen = CI_FILES[str(answers["ci_provider"])]
    return (base - (ALL_CI_FILES - chosen)) | HOOK_WRITTEN


def bake(
    output_dir: Path, config_file: Path, template: Path = TEMPLATE_DIR, **answers: str
) -> Path:
    """Generate a project with cookiecutter's API (hooks included); return its folder."""
    project = cookiecutter(
        str(template),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        config_file=str(config_file),
    )
    return Path(project)


def text_files(project: Path) -> Iterator[Path]:
    """Every generated file that decodes as UTF-8 text."""
    for relative in sorted(files_under(project)):
        path = project / relative
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        yield path


def template_file_list() -> list[str]:
    """The template folder's files as the default bake names them, sorted."""
    return sorted(
        path.replace("{{cookiecutter.package_name}}", "churn_model")
        for path in files_under(PROJECT_TEMPLATE)
    )


def write_listed_files() -> None:
    """Rewrite tests/expected_project_files.txt from the template folder (review the diff)."""
    header = EXPECTED_FILES_LIST.read_text(encoding="utf-8").splitlines()
    comments = [line for line in header if line.startswith("#")]
    EXPECTED_FILES_LIST.write_text("\n".join([*comments, *template_file_list()]) + "\n")


if __name__ == "__main__":
    # `python tests/baking.py` refreshes the committed list after template files change.
    write_listed_files()
