"""Prepare a run: compile a project's pipeline, write its code objects, stage its data.

One implementation for every way a pipeline starts: ``run`` and ``run --pipeline NAME``
(then the local executor), ``compile``, ``run --target sagemaker`` (then the upload) and
``migrate verify``. The project is reached only through its adapter
(:mod:`sagepipe.project`); the local executor reads ``s3://bucket/key`` from
``<workspace>/s3/bucket/key``, so this is what a CI job's upload is for SageMaker.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from .compile import Compiled, compile_pipeline
from .project import ProjectAdapter, ProjectError, RegisteredPipeline


@dataclass(frozen=True)
class PreparedRun:
    """A pipeline ready to execute from ``workspace``."""

    name: str  # the project's name for it (`pipelines`)
    definition: dict[str, Any]
    compiled: Compiled | None  # None when the definition came from the compile cache
    staged: list[Path]


def compile_registered(entry: RegisteredPipeline, settings: Any) -> Compiled:
    """Compile ``entry`` for ``settings``: its ``compile_definition`` if it has one, else its
    ``build_pipeline(settings)`` with the settings' bucket, prefix, role, region and image."""
    module = entry.load()
    custom = getattr(module, "compile_definition", None)
    if custom is not None:
        compiled: Compiled = custom(settings)
        return compiled
    return compile_pipeline(
        module.build_pipeline(settings),
        bucket=settings.bucket,
        prefix=settings.prefix,
        role=settings.role_arn,
        region=settings.region,
        image_uri=settings.image_uri,
    )


#: Called once before a definition is compiled (not when the compile cache has it): the
#: CLI starts the last run's warm interpreters there, to import while the pipeline compiles.
_BEFORE_COMPILE: contextvars.ContextVar[Callable[[], object] | None] = contextvars.ContextVar(
    "sagepipe_before_compile", default=None
)


@contextlib.contextmanager
def before_compiling(hook: Callable[[], object]) -> Iterator[None]:
    """Call ``hook`` when :func:`prepare_run` compiles inside the block (a cache miss)."""
    token = _BEFORE_COMPILE.set(hook)
    try:
        yield
    finally:
        _BEFORE_COMPILE.reset(token)


def prepare_run(
    project: ProjectAdapter,
    workspace: Path,
    *,
    pipeline: str | None = None,
    settings: Any = None,
    data: Path | None = None,
    stage: bool = True,
    reuse: bool = True,
) -> PreparedRun:
    """Compile the chosen pipeline (``pipeline`` or the default), write its code objects
    under ``workspace / "s3"`` and, with ``stage``, copy its data there.

    With ``reuse`` the definition comes from the workspace's compile cache when no source
    file (the project's package, the engine) nor setting changed: a cached re-run then
    imports no step module. Without it the pipeline is compiled (and the cache refreshed),
    and :attr:`PreparedRun.compiled` holds the result.
    """
    from .compile_cache import CompileCache

    settings = settings if settings is not None else project.load_settings()
    entry = project.pipeline(pipeline, settings)
    if data is not None and entry.migrated:  # locally and on SageMaker alike
        raise ProjectError(
            f"--data {data}: pipeline {entry.name!r} reads the notebook's data (DATA in "
            f"{entry.path.name}); drop --data or edit DATA"
        )
    workspace = Path(workspace)
    s3_root = workspace / "s3"
    cache = CompileCache(workspace / "compiled")
    key = cache.key(
        [project.package_dir(), Path(__file__).resolve().parent],
        settings={"pipeline": entry.name, **_settings_dict(settings)},
    )
    definition = cache.load(key, s3_root) if reuse else None
    compiled = None
    if definition is None:
        hook = _BEFORE_COMPILE.get()
        if hook is not None:
            hook()
        compiled = compile_registered(entry, settings)
        compiled.write_artifacts(s3_root)
        definition = cache.store(key, compiled)
    staged = stage_pipeline_data(project, entry, workspace, settings, data) if stage else []
    return PreparedRun(entry.name, dict(definition), compiled, staged)


def stage_pipeline_data(
    project: ProjectAdapter,
    entry: RegisteredPipeline,
    workspace: Path,
    settings: Any,
    data: Path | None = None,
) -> list[Path]:
    """Put the data ``entry`` reads where its parameters point in local S3: the adapter's
    ``stage_data`` for the project pipeline, the folders its ``DATA`` names for a migrated
    one (:func:`prepare_run` refuses ``--data`` for those: the data is part of the migration)."""
    if not entry.migrated:
        return project.stage_data(Path(workspace), settings, data)
    module = entry.load()
    return stage_declared(
        Path(workspace),
        project.root(),
        getattr(module, "DATA", {}),
        _parameter_defaults(module, settings),
    )


def stage_declared(
    workspace: Path,
    root: Path,
    declared: dict[str, tuple[str, list[str]]],
    defaults: dict[str, Any],
) -> list[Path]:
    """Copy each ``parameter -> (folder, files)`` of ``declared`` (a folder relative to
    ``root``; no files: the whole folder) to the S3 prefix the parameter's default names."""
    from .storage.objects import put_file, put_tree

    s3_root = Path(workspace) / "s3"
    staged: list[Path] = []
    for parameter, (folder, files) in declared.items():
        uri = defaults[parameter]
        source = (Path(root) / folder).resolve()
        if not source.is_dir():
            raise ProjectError(
                f"{folder}: the notebook's data folder is missing; put the files the notebook "
                f"read there ({', '.join(files) or 'the whole folder'}) and run again"
            )
        if not files:
            staged.append(put_tree(s3_root, uri, source))
            continue
        for file in files:
            staged.append(put_file(s3_root, f"{uri}/{file}", source / file))
    return staged


@dataclass(frozen=True)
class MigratedOnAws:
    """What ``run --target sagemaker`` needs beyond the definition for a migrated pipeline."""

    pipeline_name: str  # its own SageMaker pipeline, never the project pipeline's
    data: list[tuple[Path, str]]  # (a file DATA names, the S3 prefix it is uploaded under)


def remote_name(entry: RegisteredPipeline, settings: Any) -> str:
    """The name ``entry`` has on SageMaker: the project pipeline's from the settings, a
    migrated one's own (its ``build_pipeline(settings).name``, so its steps are imported)."""
    if not entry.migrated:
        return str(settings.pipeline_name)
    return str(entry.load().build_pipeline(settings).name)


def migrated_on_aws(entry: RegisteredPipeline, root: Path, settings: Any) -> MigratedOnAws:
    """The migrated pipeline's name and the notebook data its parameters' defaults read:
    the files ``run --pipeline NAME`` stages locally, uploaded to the same keys on S3."""
    module = entry.load()
    built = module.build_pipeline(settings)
    defaults = {p.name: p.default for p in built.parameters}
    files: list[tuple[Path, str]] = []
    for parameter, (folder, names) in getattr(module, "DATA", {}).items():
        source = (Path(root) / folder).resolve()
        if not source.is_dir():
            raise ProjectError(
                f"{folder}: the notebook's data folder is missing; put the files the notebook "
                f"read there ({', '.join(names) or 'the whole folder'}) and run again"
            )
        uri = str(defaults[parameter]).rstrip("/")
        chosen = [source / n for n in names] or sorted(f for f in source.rglob("*") if f.is_file())
        for file in chosen:
            parent = file.parent.relative_to(source).as_posix()  # sub-folders keep their place
            files.append((file, uri if parent == "." else f"{uri}/{parent}"))
    return MigratedOnAws(str(built.name), files)


def _parameter_defaults(module: Any, settings: Any) -> dict[str, Any]:
    if not getattr(module, "DATA", None):
        return {}  # nothing to stage: no need to build the graph
    return {p.name: p.default for p in module.build_pipeline(settings).parameters}


def _settings_dict(settings: Any) -> dict[str, Any]:
    if is_dataclass(settings) and not isinstance(settings, type):
        return asdict(settings)
    return dict(vars(settings))
