"""The engine's view of a project: the small adapter a project package provides.

The engine knows no project layout. A project says what it is in ``pyproject.toml``::

    [tool.sagepipe]
    adapter = "churn_model.adapter:project"

and that object (a :class:`ProjectAdapter`) gives its package name, how to load the
settings of the current stage and where its workspace is. ``migrate`` and "prepare a run"
(:mod:`sagepipe.prepare`) reach the project only through it, found by :func:`load_adapter`;
the project's own CLI passes its adapter directly.

A project's pipelines are the modules ``pipeline.py`` (the project pipeline, named
``project``) and ``pipeline_<name>.py`` (``migrate apply`` writes these) of its package,
registered alike, by file name. Each defines ``build_pipeline(settings)`` and may define
``compile_definition(settings)`` (default: compile with the settings' bucket, prefix, role,
region and image). The project pipeline's data is staged by the adapter's ``stage_data``
(it comes from the settings or ``--data``); a migrated one's by its ``DATA``
(parameter -> the notebook's folder and files), so staging never imports a step module.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

PROJECT_PIPELINE = "project"  # the name of pipeline.py in `pipelines` and `--pipeline`
_MODULE = re.compile(r"pipeline(?:_(?P<name>[a-z_][a-z0-9_]{0,63}))?")
_DECLARATION = re.compile(r"(?P<module>[A-Za-z_][\w.]*):(?P<attribute>[A-Za-z_]\w*)")


class ProjectError(ValueError):
    """A one-line problem finding or using the project: names the value, the rule, the fix."""


class PipelineSettings(Protocol):
    """The settings fields the engine and generated pipelines read (a project has more)."""

    @property
    def stage(self) -> str: ...
    @property
    def pipeline_name(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def role_arn(self) -> str: ...
    @property
    def image_uri(self) -> str: ...
    @property
    def model_package_group(self) -> str: ...
    @property
    def inference_instance_type(self) -> str: ...
    @property
    def default_pipeline(self) -> str: ...


@dataclass(frozen=True)
class ProjectAdapter:
    """What the engine needs from a project, and nothing more."""

    package: str  # the import name of the project's package
    load_settings: Callable[[], Any]  # the current stage's settings (a PipelineSettings)
    root: Callable[[], Path]  # the project folder (pyproject.toml); relative paths start here
    workspace: Callable[[], Path]  # where local runs, the registry and local S3 live
    # Copies what pipeline.py reads to local S3: (workspace, settings, --data or None).
    stage_data: Callable[[Path, Any, Path | None], list[Path]]

    def package_dir(self) -> Path:
        """The folder of the project's package (imported, so it is the code that runs)."""
        module = importlib.import_module(self.package)
        return Path(next(iter(module.__path__))).resolve()

    def pipelines(self) -> dict[str, RegisteredPipeline]:
        """Every pipeline of the project by name: ``project`` first, then migrated ones."""
        return discover_pipelines(self.package_dir(), self.package)

    def default_pipeline(self, settings: Any) -> str:
        """The pipeline ``run`` and ``compile`` use without ``--pipeline``."""
        return getattr(settings, "default_pipeline", "") or PROJECT_PIPELINE

    def pipeline(self, name: str | None, settings: Any) -> RegisteredPipeline:
        """The pipeline ``name`` (default: :meth:`default_pipeline`); one-line error if none."""
        chosen = name or self.default_pipeline(settings)
        found = self.pipelines()
        if chosen not in found:
            known = ", ".join(n for n in found if n != PROJECT_PIPELINE) or "none yet"
            raise ProjectError(
                f"pipeline {chosen!r}: no migrated pipeline of that name (known: {known}); "
                "migrate a notebook with `migrate plan` and `migrate apply`, or list them "
                "with `pipelines`"
            )
        return found[chosen]


@dataclass(frozen=True)
class RegisteredPipeline:
    """One pipeline module of the project; imported only when it is built."""

    name: str
    module: str  # dotted module name
    path: Path

    def load(self) -> Any:
        """The imported pipeline module."""
        return importlib.import_module(self.module)

    @property
    def migrated(self) -> bool:
        """True for ``pipeline_<name>.py`` modules (the ones ``migrate apply`` writes)."""
        return self.name != PROJECT_PIPELINE


def discover_pipelines(folder: Path, package: str) -> dict[str, RegisteredPipeline]:
    """The pipeline modules in the package ``folder``: ``pipeline.py`` as ``project``, and
    each ``pipeline_<name>.py`` that defines ``build_pipeline`` as ``<name>``.

    Files are read, not imported: listing pipelines must not import every step module.
    """
    found: dict[str, RegisteredPipeline] = {}
    for path in sorted(Path(folder).glob("pipeline*.py")):
        match = _MODULE.fullmatch(path.stem)
        if match is None or "def build_pipeline(" not in path.read_text(encoding="utf-8"):
            continue
        name = match.group("name") or PROJECT_PIPELINE
        found[name] = RegisteredPipeline(name, f"{package}.{path.stem}", path)
    # The project pipeline first, as `pipelines` lists it.
    return dict(sorted(found.items(), key=lambda item: (item[0] != PROJECT_PIPELINE, item[0])))


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) with pyproject.toml and src/."""
    start = Path(start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "src").is_dir():
            return folder
    raise ProjectError(
        f"{start}: not inside a project (no pyproject.toml with a src/ folder above it); "
        "run the command from the project, or pass --project DIR"
    )


def declared_adapter(root: Path) -> str:
    """The ``module:attribute`` that ``[tool.sagepipe] adapter`` names in pyproject.toml."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    pyproject = Path(root) / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"{pyproject}: cannot be read ({error}); fix the file") from None
    value = document.get("tool", {}).get("sagepipe", {}).get("adapter")
    if not isinstance(value, str) or not _DECLARATION.fullmatch(value):
        raise ProjectError(
            f"{pyproject}: [tool.sagepipe] adapter is {value!r}, not 'package.module:object'; "
            'add adapter = "<package>.adapter:project" under [tool.sagepipe]'
        )
    return value


def declared_package(root: Path) -> str:
    """The project's package: the first part of the declared adapter (nothing imported)."""
    return declared_adapter(root).split(":")[0].split(".")[0]


def load_adapter(start: Path | None = None) -> ProjectAdapter:
    """The adapter of the project at or above ``start``, imported from its ``src/``.

    The returned adapter's root is the folder it was found in, so a command given
    ``--project DIR`` reads the project's data from there whatever the current folder.
    """
    root = find_root(start)
    module_name, _, attribute = declared_adapter(root).partition(":")
    src = str(root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    try:
        adapter = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ProjectError(
            f"[tool.sagepipe] adapter {module_name}:{attribute}: cannot be loaded ({error}); "
            f"define {attribute} = ProjectAdapter(...) in src/{module_name.replace('.', '/')}.py"
        ) from None
    if not isinstance(adapter, ProjectAdapter):
        raise ProjectError(
            f"{module_name}:{attribute} is a {type(adapter).__name__}, not a "
            "sagepipe.project.ProjectAdapter; build it with ProjectAdapter(...)"
        )
    return replace(adapter, root=lambda: root)
