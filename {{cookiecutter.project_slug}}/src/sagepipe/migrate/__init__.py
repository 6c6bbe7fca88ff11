"""Move notebook code into the project's standard structure: plan, apply, verify.

``migrate plan`` reads a notebook (``.ipynb`` or jupytext percent ``.py``) and writes a
reviewable YAML plan; ``migrate apply`` turns the plan into step modules, a pipeline
module and tests; ``migrate verify`` runs the notebook and the migrated steps and
compares metrics and the shapes of the data passed between steps.

Nothing here runs at import time; the CLI lives in :mod:`sagepipe.migrate.cli`.
"""

from __future__ import annotations


class MigrationError(Exception):
    """A one-line problem with the user's input: names the value, the rule and the fix."""


def require(module: str, purpose: str) -> None:
    """Fail with the install command when an optional dependency of migrate is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MigrationError(
            f"{purpose} needs the Python package {module!r}, which is not installed; install "
            "the project's 'migrate' extra (pip install -e '.[migrate]')"
        )
