"""Finish a freshly generated project: drop what was not chosen, record the answers.

Cookiecutter runs this file (after rendering it with Jinja) inside the new project
folder. It only removes the CI configs of the providers that were not chosen and writes
``.cookiecutter.json``: the answers, so the project can later be linked to newer
template versions (``cruft link <template> --extra-context "$(cat .cookiecutter.json)"``).
Standard library only; the template's tests import it and call the functions directly.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

# Rendered by Cookiecutter: see pre_gen_project.py for why quotes are escaped.
ANSWERS_JSON = """{{ cookiecutter | jsonify | replace('\\', '\\\\') | replace('"', '\\"') }}"""

ANSWERS_FILE = ".cookiecutter.json"

# Every CI config the template ships, by provider; "none" keeps none of them.
# Each provider's CI stack in infra/ goes with its configs; infra/project.yml always stays.
CI_FILES: dict[str, tuple[str, ...]] = {
    "github": (".github/workflows/ci.yml", ".github/workflows/deploy.yml", "infra/ci-github.yml"),
    "gitlab": (".gitlab-ci.yml", "infra/ci-gitlab.yml"),
    "codebuild": (
        "buildspec.yml",
        "buildspec-deploy.yml",
        "buildspec-promote.yml",
        "infra/ci-codebuild.yml",
    ),
}


def unchosen_ci_files(ci_provider: str) -> list[str]:
    """Relative paths of the CI configs that belong to providers other than the chosen one."""
    if ci_provider != "none" and ci_provider not in CI_FILES:
        raise ValueError(f"ci_provider={ci_provider!r} is unknown; pick one of {sorted(CI_FILES)}")
    return sorted(
        path for provider, paths in CI_FILES.items() if provider != ci_provider for path in paths
    )


def remove_unchosen_ci(project_dir: Path, ci_provider: str) -> list[str]:
    """Delete the other providers' configs (and folders left empty); return what was removed."""
    removed = []
    for relative in unchosen_ci_files(ci_provider):
        path = project_dir / relative
        if path.exists():
            path.unlink()
            removed.append(relative)
        _remove_empty_parents(path.parent, stop=project_dir)
    return removed


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    # .github/workflows/ci.yml leaves .github/workflows and .github behind when unchosen.
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        shutil.rmtree(folder)
        folder = folder.parent


def user_answers(context: Mapping[str, object]) -> dict[str, object]:
    """The answers a user gave: Cookiecutter's private keys (leading underscore) left out."""
    return {key: context[key] for key in sorted(context) if not key.startswith("_")}


def write_answers(project_dir: Path, context: Mapping[str, object]) -> Path:
    """Write the answers as sorted JSON, identical for identical answers (no paths, no time)."""
    target = project_dir / ANSWERS_FILE
    target.write_text(json.dumps(user_answers(context), indent=2) + "\n", encoding="utf-8")
    return target


def main() -> int:
    """Apply the chosen options to the project in the current folder."""
    context = json.loads(ANSWERS_JSON)
    project_dir = Path.cwd()
    remove_unchosen_ci(project_dir, str(context["ci_provider"]))
    write_answers(project_dir, context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
