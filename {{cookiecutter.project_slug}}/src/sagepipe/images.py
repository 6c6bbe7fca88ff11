"""Offline URIs of SageMaker's framework images (no AWS call), from the one image table.

The registry accounts and versions live in :mod:`sagepipe.runtimes.table`, next to what
each image contains, so a URI the compiler writes always has a local runtime.
"""

from __future__ import annotations

from .errors import GraphError
from .runtimes.table import DEFAULT_SKLEARN_VERSION, SKLEARN_VERSIONS, framework_image_uri

__all__ = ["DEFAULT_SKLEARN_VERSION", "SKLEARN_VERSIONS", "sklearn_image_uri"]


def sklearn_image_uri(region: str, version: str = DEFAULT_SKLEARN_VERSION) -> str:
    """Return the scikit-learn framework image URI for ``region`` and ``version``."""
    try:
        return framework_image_uri("sklearn", region, version)
    except ValueError as exc:
        raise GraphError(str(exc)) from None
