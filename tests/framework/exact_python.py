"""Skip a test whose image runtime needs an exact Python that this machine lacks.

The framework images' environments pin packages that only have wheels for the image's own
Python (pandas 1.1.3 on 3.9, numpy 1.19.2 on 3.8): on the nearest other minor the build
fails offline, and a job's reported version could not match anyway. Such tests skip with
one line naming the missing interpreter and how to get it; where it is installed they run.
The check is the engine's own lookup, so "present" means what the executor would use.
"""

from __future__ import annotations

import functools

import pytest

from sagepipe import runtimes


@functools.cache
def _missing(minor: str) -> str | None:
    return runtimes.find_interpreter(minor).notice


def require_python(*minors: str) -> None:
    """Skip the calling test unless every Python ``minor`` (``"3.9"``) is installed here."""
    for minor in minors:
        notice = _missing(minor)
        if notice is not None:
            pytest.skip(
                f"needs Python {minor} for its image's runtime, not installed here "
                f"(install it with `uv python install {minor}` or pyenv)"
            )
