"""Where a project's workspace is: ``$SAGEPIPE_WORKSPACE``, else ``<project root>/.mlops``.

The workspace holds everything a local run writes (``s3/``, ``runs.db``, ``registry.db``,
``deployments.db``, sandboxes): one folder per project, git-ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SAGEPIPE_WORKSPACE"
FOLDER = ".mlops"


def default_workspace(project_root: Path | None = None) -> Path:
    """``$SAGEPIPE_WORKSPACE`` if set, else ``<project_root>/.mlops``.

    Without a ``project_root`` (the engine's own CLI, which does not know the project's
    layout) the folder is ``.mlops`` relative to the current directory.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    return Path(project_root) / FOLDER if project_root is not None else Path(FOLDER)
