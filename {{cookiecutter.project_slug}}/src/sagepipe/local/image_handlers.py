"""Which AWS images' models are served here by the image's own handler (light: no numpy).

The executor imports this for every run, so it must not pull in the serving stack that
:mod:`.model_child` needs.
"""

from __future__ import annotations

from ..runtimes.table import parse_image

# Image repositories whose models the image's own handler serves here, by child script.
IMAGE_HANDLERS = {"sagemaker-xgboost": "xgboost", "sagemaker-scikit-learn": "sklearn"}


def image_handler(image: str) -> str | None:
    """``"xgboost"`` or ``"sklearn"`` for a model on that AWS image, else None."""
    ref = parse_image(image)
    return IMAGE_HANDLERS.get(ref.repository) if ref is not None else None
