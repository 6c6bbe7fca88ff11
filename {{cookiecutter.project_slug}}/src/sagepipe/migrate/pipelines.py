"""Migrated pipelines as the project's own: list them, compile one, stage its data, run it.

``migrate apply`` writes ``src/<package>/pipelines/<name>.py`` with ``NAME``,
``build_pipeline(settings)`` and ``DATA`` (each data parameter's folder in the project and
the files the notebook read). The project CLI's ``run --pipeline NAME``, ``compile
--pipeline NAME`` and ``pipelines`` call the functions here; the setting
``default_pipeline`` (``MLOPS_DEFAULT_PIPELINE``) makes a migrated pipeline the default.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import MigrationError

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class MigratedPipeline:
    """One migrated pipeline module of the project."""

    name: str
    module: str  # dotted module name
    path: Path


def migrated_pipelines(root: Path, package: str) -> list[MigratedPipeline]:
    """Every migrated pipeline module under ``src/<package>/pipelines/``, by name."""
    folder = Path(root) / "src" / package / "pipelines"
    found = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        if path.stem != "__init__" and _NAME.fullmatch(path.stem):
            text = path.read_text(encoding="utf-8")
            if "def build_pipeline(" in text and "NAME = " in text:
                found.append(MigratedPipeline(path.stem, f"{package}.pipelines.{path.stem}", path))
    return found


def find(root: Path, package: str, name: str) -> MigratedPipeline:
    """The migrated pipeline ``name``; a one-line error listing the choices otherwise."""
    pipelines = {p.name: p for p in migrated_pipelines(root, package)}
    if name not in pipelines:
        known = ", ".join(sorted(pipelines)) or "none yet"
        raise MigrationError(
            f"pipeline {name!r}: no migrated pipeline of that name (known: {known}); migrate a "
            "notebook with `migrate plan` and `migrate apply`, or list them with `pipelines`"
        )
    return pipelines[name]


def _module(root: Path, pipeline: MigratedPipeline) -> Any:
    src = str(Path(root) / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return importlib.import_module(pipeline.module)


def compile_migrated(root: Path, package: str, name: str, settings: Any) -> tuple[Any, Any]:
    """(pipeline, compiled) for the migrated pipeline ``name`` and the project ``settings``."""
    from sagepipe.compile import compile_pipeline

    module = _module(root, find(root, package, name))
    pipeline = module.build_pipeline(settings)
    compiled = compile_pipeline(
        pipeline,
        bucket=settings.bucket,
        prefix=settings.prefix,
        role=settings.role_arn,
        region=settings.region,
        image_uri=settings.image_uri,
    )
    return pipeline, compiled


def stage_data(workspace: Path, root: Path, module: Any, pipeline: Any) -> list[Path]:
    """Copy the notebook's data files to the local S3 prefixes the data parameters name."""
    from sagepipe.storage.objects import put_file, put_tree

    s3_root = Path(workspace) / "s3"
    parameters = {p.name: p for p in pipeline.parameters}
    staged: list[Path] = []
    for parameter, (folder, files) in getattr(module, "DATA", {}).items():
        uri = parameters[parameter].default
        source = (Path(root) / folder).resolve()
        if not source.is_dir():
            raise MigrationError(
                f"{folder}: the notebook's data folder is missing; put the files the notebook "
                f"read there ({', '.join(files) or 'the whole folder'}) and run again"
            )
        if not files:
            staged.append(put_tree(s3_root, uri, source))
            continue
        for file in files:
            staged.append(put_file(s3_root, f"{uri}/{file}", source / file))
    return staged


def prepare_migrated(
    workspace: Path, root: Path, package: str, name: str, settings: Any
) -> dict[str, Any]:
    """Compile ``name``, write its code objects and stage its data; return the definition."""
    pipeline, compiled = compile_migrated(root, package, name, settings)
    compiled.write_artifacts(Path(workspace) / "s3")
    stage_data(workspace, root, _module(root, find(root, package, name)), pipeline)
    return dict(compiled.definition)


# -- the project CLI's hooks: one-line errors, exit status 2 for bad input -----------------
def chosen_pipeline(name: str | None, settings: Any) -> str | None:
    """The migrated pipeline a command runs: ``--pipeline`` or the ``default_pipeline``
    setting; None means the project's own pipeline."""
    return name or getattr(settings, "default_pipeline", "") or None


def _fail(message: str) -> None:
    import click

    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(2)


def _root(package: str) -> Path:
    from .project import find_project

    return find_project(None, package).root


def prepare_for_cli(
    workspace: Path, package: str, name: str | None, settings: Any, data: Path | None = None
) -> dict[str, Any]:
    """``run --pipeline NAME``: the definition of the chosen migrated pipeline, staged."""
    chosen = chosen_pipeline(name, settings)
    assert chosen is not None
    try:
        if data is not None:
            raise MigrationError(
                f"--data {data}: a migrated pipeline reads the notebook's data (DATA in "
                f"pipelines/{chosen}.py); drop --data or edit DATA"
            )
        return prepare_migrated(workspace, _root(package), package, chosen, settings)
    except MigrationError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def compile_for_cli(workspace: Path, package: str, name: str | None, settings: Any) -> Any:
    """``compile --pipeline NAME``: the compiled migrated pipeline, code and data staged."""
    chosen = chosen_pipeline(name, settings)
    assert chosen is not None
    try:
        root = _root(package)
        pipeline, compiled = compile_migrated(root, package, chosen, settings)
        compiled.write_artifacts(Path(workspace) / "s3")
        stage_data(workspace, root, _module(root, find(root, package, chosen)), pipeline)
    except MigrationError as exc:
        _fail(str(exc))
    return compiled
