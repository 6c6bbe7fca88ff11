"""Find the project a migration writes into: its root folder and its package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import MigrationError


@dataclass(frozen=True)
class Project:
    """The generated project: root folder (with pyproject.toml and src/) and package name."""

    root: Path
    package: str

    @property
    def migrations(self) -> Path:
        """Where plans and manifests live."""
        return self.root / "migrations"

    def relative(self, path: Path) -> str:
        """``path`` relative to the root when inside it, else absolute (posix style)."""
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def resolve(self, text: str) -> Path:
        """Inverse of :meth:`relative`."""
        path = Path(text)
        return path if path.is_absolute() else self.root / path


def find_project(start: Path | None = None, package: str | None = None) -> Project:
    """The nearest folder at or above ``start`` with pyproject.toml and src/; raise if none."""
    start = Path(start or Path.cwd()).resolve()
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file() and (folder / "src").is_dir():
            return Project(folder, package or _package(folder))
    raise MigrationError(
        f"{start}: not inside a project (no pyproject.toml with a src/ folder above it); "
        "run the command from the project, or pass --project DIR"
    )


def _package(root: Path) -> str:
    candidates = sorted(
        p.name
        for p in (root / "src").iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name != "sagepipe"
    )
    if len(candidates) != 1:
        raise MigrationError(
            f"{root / 'src'}: found packages {candidates or '(none)'}, need exactly one besides "
            "sagepipe; pass --package NAME"
        )
    return candidates[0]
