"""Runtimes: one environment per image, locally and on AWS (DESIGN section 8).

``table`` says what each image contains, ``resolve`` maps a step's image to a runtime and
``build`` makes its environment with uv (cached, offline first); ``overlay`` adds a source
directory's ``requirements.txt`` on top of one. Nothing here runs at
import time.
"""

from __future__ import annotations

from .build import BuildError, Environment, build_environment, cache_root
from .interpreters import Interpreter, find_interpreter
from .overlay import overlay_packages, requirements_overlay
from .resolve import RuntimeResolver, UnknownImage, describe
from .table import (
    AWS_RUNTIMES,
    FRAMEWORK_ACCOUNTS,
    Runtime,
    framework_image_uri,
    framework_runtime,
    lock_tag,
    parse_image,
    project_image_uri,
)

__all__ = [
    "AWS_RUNTIMES",
    "FRAMEWORK_ACCOUNTS",
    "BuildError",
    "Environment",
    "Interpreter",
    "Runtime",
    "RuntimeResolver",
    "UnknownImage",
    "build_environment",
    "cache_root",
    "describe",
    "find_interpreter",
    "framework_image_uri",
    "framework_runtime",
    "lock_tag",
    "overlay_packages",
    "parse_image",
    "project_image_uri",
    "requirements_overlay",
]
