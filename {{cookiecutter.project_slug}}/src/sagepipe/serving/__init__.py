"""Serve registered models with SageMaker's inference contract, on this machine.

The names below are the public API: project code (``deploy/``) imports them from
``sagepipe.serving`` and nothing deeper, so the modules behind them can change.

Models
    ``LATEST_APPROVED``, ``resolve_model(registry, group, version)``,
    ``require_approved(package)``, ``package_id(package)``,
    ``prepare_variant(package, workspace, name=...)`` (verify, unpack, describe a variant).
Endpoint specification
    ``EndpointSpec``, ``VariantSpec``, ``CaptureSpec``.
Background endpoints (``.mlops/endpoints/<name>/``)
    ``deploy_endpoint(workspace, spec, ...)``, ``stop_endpoint(workspace, name)``,
    ``read_endpoint(workspace, name)``, ``list_endpoints(workspace)``, ``EndpointState``,
    ``EndpointError``.
Foreground server (gunicorn)
    ``ServerOptions``, ``run_server(spec_path, options)``, ``default_port()``,
    ``default_timeout()``, ``build_app(spec)`` (load every variant once, to fail early).
Handlers and batch transform
    ``load_handler(model_dir)``, ``unpack_model(archive, sha256, cache_root)``,
    ``ModelHandler``, ``ModelLoadError``,
    ``batch_transform(handler, source, output, config)``, ``TransformConfig``,
    ``TransformResult``, ``TransformError``.
Single-row fast path
    ``compile_pipeline(pipeline, features)`` (see :mod:`sagepipe.serving.fastpath`).
Shadow tests and history
    ``compare_shadow(capture_root, endpoint, production, shadow)``, ``ShadowReport``,
    ``shadow_table(report)``, ``shadow_html(report)``, ``DeploymentHistory``,
    ``Deployment``.

Names load on first use (PEP 562): the CLI imports this package for ``--help`` and must
not pay for numpy or gunicorn until a command serves something. Nothing here does I/O at
import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> (module, attribute). Modules are named by their one job; the public
# names say what they do when read without the module in front (``deploy_endpoint``,
# not ``deploy``).
_EXPORTS: dict[str, tuple[str, str]] = {
    "LATEST_APPROVED": ("models", "LATEST_APPROVED"),
    "resolve_model": ("models", "resolve"),
    "require_approved": ("models", "require_approved"),
    "package_id": ("models", "package_id"),
    "prepare_variant": ("models", "prepare"),
    "EndpointSpec": ("spec", "EndpointSpec"),
    "VariantSpec": ("spec", "VariantSpec"),
    "CaptureSpec": ("spec", "CaptureSpec"),
    "EndpointState": ("endpoints", "EndpointState"),
    "EndpointError": ("errors", "EndpointError"),
    "deploy_endpoint": ("endpoints", "deploy"),
    "stop_endpoint": ("endpoints", "stop"),
    "read_endpoint": ("endpoints", "read_state"),
    "list_endpoints": ("endpoints", "list_endpoints"),
    "ServerOptions": ("server", "ServerOptions"),
    "run_server": ("server", "run"),
    "default_port": ("server", "default_port"),
    "default_timeout": ("server", "default_timeout"),
    "build_app": ("app", "build_app"),
    "load_handler": ("handler", "load_handler"),
    "unpack_model": ("artifact", "unpack"),
    "ModelHandler": ("handler", "ModelHandler"),
    "ModelLoadError": ("errors", "ModelLoadError"),
    "batch_transform": ("batch", "transform"),
    "TransformConfig": ("batch", "TransformConfig"),
    "TransformResult": ("batch", "TransformResult"),
    "TransformError": ("errors", "TransformError"),
    "compile_pipeline": ("fastpath", "compile_pipeline"),
    "compare_shadow": ("shadow", "compare"),
    "ShadowReport": ("shadow", "ShadowReport"),
    "shadow_table": ("shadow", "render_table"),
    "shadow_html": ("shadow", "render_html"),
    "DeploymentHistory": ("history", "DeploymentHistory"),
    "Deployment": ("history", "Deployment"),
}

__all__ = [
    "LATEST_APPROVED",
    "CaptureSpec",
    "Deployment",
    "DeploymentHistory",
    "EndpointError",
    "EndpointSpec",
    "EndpointState",
    "ModelHandler",
    "ModelLoadError",
    "ServerOptions",
    "ShadowReport",
    "TransformConfig",
    "TransformError",
    "TransformResult",
    "VariantSpec",
    "batch_transform",
    "build_app",
    "compare_shadow",
    "compile_pipeline",
    "default_port",
    "default_timeout",
    "deploy_endpoint",
    "list_endpoints",
    "load_handler",
    "package_id",
    "prepare_variant",
    "read_endpoint",
    "require_approved",
    "resolve_model",
    "run_server",
    "shadow_html",
    "shadow_table",
    "stop_endpoint",
    "unpack_model",
]


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and editors see; runtime loads lazily above
    from .app import build_app
    from .artifact import unpack as unpack_model
    from .batch import TransformConfig, TransformResult
    from .batch import transform as batch_transform
    from .endpoints import EndpointState, list_endpoints
    from .endpoints import deploy as deploy_endpoint
    from .endpoints import read_state as read_endpoint
    from .endpoints import stop as stop_endpoint
    from .errors import EndpointError, ModelLoadError, TransformError
    from .fastpath import compile_pipeline
    from .handler import ModelHandler, load_handler
    from .history import Deployment, DeploymentHistory
    from .models import LATEST_APPROVED, package_id, require_approved
    from .models import prepare as prepare_variant
    from .models import resolve as resolve_model
    from .server import ServerOptions, default_port, default_timeout
    from .server import run as run_server
    from .shadow import ShadowReport
    from .shadow import compare as compare_shadow
    from .shadow import render_html as shadow_html
    from .shadow import render_table as shadow_table
    from .spec import CaptureSpec, EndpointSpec, VariantSpec
