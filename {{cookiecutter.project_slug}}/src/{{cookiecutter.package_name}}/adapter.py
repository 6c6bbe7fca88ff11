"""What the engine (``sagepipe``) knows about this project, in one place.

``pyproject.toml`` names this object (``[tool.sagepipe] adapter``), so ``migrate`` and
every run find the package, its settings, its workspace and how its pipeline's data is
staged without guessing at the layout. The pipelines themselves are ``pipeline.py`` and
the ``pipeline_<name>.py`` modules ``migrate apply`` writes beside it.
"""

from __future__ import annotations

from sagepipe.project import ProjectAdapter

from . import settings, workspace

project = ProjectAdapter(
    package=__name__.rpartition(".")[0],
    load_settings=settings.load,
    root=settings.project_root,
    workspace=workspace.default_workspace,
    stage_data=workspace.stage_input,
)
