"""Cookiecutter local extension: validate every answer before anything is written.

Cookiecutter renders the project folder's name (``{{cookiecutter.project_slug}}``) and
creates that folder *before* the pre-generation hook runs, so a slug such as ``a/../b``
would leave folders behind however the hook ends. ``cookiecutter.json`` lists this module in
``_extensions``: Jinja hands every template source to :meth:`ValidateAnswers.preprocess`, and
the folder-name template gets a call to the hook's own validator in front, which runs
with the final answers before the folder exists.

A bad answer prints one line on stderr (value, rule, fix), plus for interactive users one
line on how to re-run with the other answers kept, and exits with status 1: no traceback.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from jinja2 import Environment
from jinja2.ext import Extension

HOOK = Path(__file__).resolve().parent / "hooks" / "pre_gen_project.py"
FOLDER_TEMPLATE = "{{cookiecutter.project_slug}}"
VALIDATOR = "_validate_answers_before_the_project_folder"


def _hook() -> ModuleType:
    """hooks/pre_gen_project.py as a module: one set of rules for both checks."""
    spec = importlib.util.spec_from_file_location("_pre_gen_project_rules", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AnswersRejected(click.exceptions.Exit):
    """Stops cookiecutter with exit status 1 after the message was printed (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(1)
        self.message = message

    def __str__(self) -> str:
        return self.message


def rerun_hint(answers: dict[str, Any], key: str) -> str:
    """How an interactive user re-runs with every other answer kept."""
    template = str(answers.get("_template") or answers.get("_repo_dir") or "<template>")
    kept = [
        f"{name}={shlex.quote(str(value))}"
        for name, value in answers.items()
        if not name.startswith("_") and name != key and isinstance(value, str)
    ]
    return (
        f"to keep your other answers, change only {key}: cookiecutter --no-input "
        f"{shlex.quote(template)} {' '.join(kept)} {key}=... "
        "(or fix it in cookiecutter's replay file and run `cookiecutter --replay "
        f"{shlex.quote(template)}`)"
    )


def check(answers: Any) -> str:
    """Validate the answers; print and stop on the first bad one. Renders as nothing."""
    rules = _hook()
    values = dict(answers)
    try:
        rules.validate(values)
    except rules.InvalidAnswer as error:
        message = f"error: {error}"
        print(message, file=sys.stderr)
        key = getattr(error, "key", None)
        if key and sys.stdin.isatty() and not os.environ.get("CI"):
            print(rerun_hint(values, key), file=sys.stderr)
        raise AnswersRejected(message) from None
    return ""


class ValidateAnswers(Extension):
    """Put the answer check in front of the project folder's name template."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals[VALIDATOR] = check

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if source == FOLDER_TEMPLATE:
            return "{{ " + VALIDATOR + "(cookiecutter) }}" + source
        return source
