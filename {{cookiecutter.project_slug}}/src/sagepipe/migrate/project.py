"""The project a migration writes into: its root folder and its package."""

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
    """The project at or above ``start``: its root and the package its pyproject.toml's
    ``[tool.sagepipe] adapter`` names (or ``package``); raise MigrationError if none.

    Nothing of the project is imported: plan and apply only write files.
    """
    from ..project import ProjectError, declared_package, find_root

    try:
        root = find_root(start)
        return Project(root, package or declared_package(root))
    except ProjectError as error:
        raise MigrationError(f"{error} (or pass --package NAME)") from None
