"""Write a reviewed plan into the project, safely when run again.

A manifest next to the plan stores the SHA-256 of every file apply wrote. On the next
apply a file is rewritten only if nobody edited it since; an edited file is kept when
the plan still generates what it generated before (the edit wins), and otherwise the
apply stops before writing anything, naming the file and the way out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..storage.digests import text_sha256
from . import MigrationError
from .build import Migration, build
from .generate import Layout, generate
from .notebook import read_notebook
from .planfile import assignments, parameter_values, read_plan
from .polish import polish
from .project import Project


@dataclass
class ApplyResult:
    """What apply did to each file, and the dependencies it added."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)
    dependencies_added: list[str] = field(default_factory=list)
    manifest: Path | None = None


def manifest_path(plan: Path) -> Path:
    """``migrations/churn.yaml`` -> ``migrations/churn.manifest.json``."""
    return plan.with_name(plan.stem + ".manifest.json")


def load_migration(project: Project, plan: Path) -> tuple[Migration, Layout]:
    """Rebuild the migration a plan describes, with the plan's edits applied."""
    document = read_plan(plan, project.package)
    notebook_path = project.resolve(document["notebook"])
    notebook = read_notebook(notebook_path)
    if notebook.sha256 != document["notebook_sha256"]:
        raise MigrationError(
            f"{document['notebook']}: the notebook changed since {plan.name} was written; run "
            f"`migrate plan {document['notebook']} -o {project.relative(plan)}` again "
            "(redo your plan edits)"
        )
    migration = build(
        notebook,
        assignments=assignments(document),
        parameter_values=parameter_values(document),
        name=document["name"],
    )
    layout = Layout(
        package=project.package,  # recomputed, never taken from the plan
        name=migration.name,
        notebook=project.relative(notebook.path),
        data_dirs={d.name: project.relative(d.folder) for d in migration.data_inputs},
    )
    return migration, layout


def inside(project: Project, relative: str) -> Path:
    """``project.root / relative``, refused unless it stays inside the project (after
    resolving ``..`` and symbolic links) and is a plain relative path."""
    root = project.root.resolve()
    target = (root / relative).resolve()
    if Path(relative).is_absolute() or "\n" in relative or not target.is_relative_to(root):
        raise MigrationError(
            f"{relative!r}: apply writes only inside the project ({root}); this path leaves "
            "it, so nothing was written; fix the plan's name and step values"
        )
    return root / relative


def apply_plan(project: Project, plan: Path) -> ApplyResult:
    """Generate the plan's files into the project; raise MigrationError on any conflict."""
    if not Path(plan).resolve().is_relative_to(project.root.resolve()):
        raise MigrationError(
            f"{plan}: the plan must be inside the project {project.root} (apply writes its "
            "manifest next to it); move it to migrations/ and apply again"
        )
    migration, layout = load_migration(project, plan)
    if not migration.steps:
        raise MigrationError(
            f"{plan.name}: no cell has a step role (preprocess, train, evaluate, register), so "
            "there is nothing to migrate; set a cell's role in the plan and apply again"
        )
    files = {
        path: polish(text, path, project.root, project.package)
        for path, text in generate(migration, layout).items()
    }
    manifest_file = manifest_path(plan)
    previous: dict[str, str] = {}
    if manifest_file.is_file():
        previous = json.loads(manifest_file.read_text(encoding="utf-8")).get("files", {})

    result = ApplyResult(manifest=manifest_file)
    to_write: dict[str, str] = {}
    conflicts: list[str] = []
    recorded: dict[str, str] = {}
    for relative, content in files.items():
        target = inside(project, relative)
        new = text_sha256(content)
        if not target.exists():
            to_write[relative] = content
            recorded[relative] = new
            continue
        current = text_sha256(target.read_text(encoding="utf-8"))
        if current == new:
            result.unchanged.append(relative)
            recorded[relative] = new
            continue
        generated_before = previous.get(relative)
        if generated_before is None:
            conflicts.append(f"{relative} exists and was not written by migrate apply")
        elif current == generated_before:  # untouched since last apply: safe to refresh
            to_write[relative] = content
            recorded[relative] = new
        elif generated_before == new:  # the user edited it and the plan made no new code
            result.kept_edits.append(relative)
            recorded[relative] = generated_before
        else:
            conflicts.append(
                f"{relative} was edited since the last apply and the plan now "
                "generates different code"
            )
    if conflicts:
        raise MigrationError(
            "conflict, nothing written: " + "; ".join(conflicts) + ". Move your edits out "
            "(or delete the file) and apply again, or rename the migration in the plan"
        )

    for relative, content in to_write.items():
        _write(inside(project, relative), content)
        result.written.append(relative)
    result.dependencies_added = add_dependencies(
        project.root / "pyproject.toml", migration.requirements
    )
    manifest = {
        "plan": project.relative(plan),
        "notebook": layout.notebook,
        "files": dict(sorted(recorded.items())),
    }
    _write(manifest_file, json.dumps(manifest, indent=2) + "\n")
    return result


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".migrate-tmp")
    temporary.write_text(content, encoding="utf-8")
    temporary.replace(path)


def _normalise(requirement: str) -> str:
    name = re.split(r"[<>=!~\[;@ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def add_dependencies(pyproject: Path, requirements: list[str]) -> list[str]:
    """Add ``requirements`` to ``[project] dependencies`` unless present; return those added."""
    if not requirements or not pyproject.is_file():
        return []
    text = pyproject.read_text(encoding="utf-8")
    match = re.search(r"(?ms)^dependencies\s*=\s*\[(?P<body>.*?)^\]", text)
    if match is None:
        raise MigrationError(
            f"{pyproject}: no multi-line 'dependencies = [' list under [project]; add "
            f"{', '.join(requirements)} to the dependencies by hand"
        )
    present = {_normalise(item) for item in re.findall(r"\"([^\"]+)\"", match.group("body"))}
    added = [r for r in requirements if _normalise(r) not in present]
    added = list(dict.fromkeys(added))
    if not added:
        return []
    insertion = "".join(f'    "{r}",  # from the notebook\'s pip install\n' for r in added)
    end = match.end("body")
    pyproject.write_text(text[:end] + insertion + text[end:], encoding="utf-8")
    return added
