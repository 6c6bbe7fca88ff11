"""Load a model directory and its ``code/inference.py`` the way SageMaker framework containers do.

A model directory is an unpacked ``model.tar.gz``. Its ``code/inference.py`` may define
``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn`` (each optional, with the
defaults below), or ``transform_fn`` alone. ``code/`` goes on ``sys.path`` so the handler
can import its sibling modules.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import content_types
from .errors import (
    BadRequest,
    ModelLoadError,
    NotAcceptable,
    ServingError,
    UnsupportedContentType,
)

HANDLER_FUNCTIONS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
# Exceptions a model raises for input it cannot use (wrong width, NaN, unknown category):
# the client's fault, so 400 rather than 500.
CLIENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, EOFError, zipfile.BadZipFile)
# Handlers run in SageMaker's container without this framework, so they cannot raise our
# classes; errors named like the toolkit's "unsupported format" errors map to 415/406.
UNSUPPORTED_NAMES = {"UnsupportedContentType", "UnsupportedFormatError", "UnsupportedMediaType"}


def default_model_fn(model_dir: str) -> Any:
    """Load ``model.joblib`` from the model directory (scikit-learn container default)."""
    import joblib  # installed with scikit-learn

    path = Path(model_dir) / "model.joblib"
    if not path.is_file():
        raise ModelLoadError(
            f"{path} does not exist and code/inference.py defines no model_fn; "
            "save the model as model.joblib or define model_fn(model_dir)"
        )
    return joblib.load(path)


def default_input_fn(body: bytes, content_type: str) -> Any:
    """Decode CSV, JSON or .npy into model input."""
    return content_types.decode(body, content_type)


def default_predict_fn(data: Any, model: Any) -> Any:
    """Call ``model.predict``."""
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> bytes:
    """Encode the prediction as ``accept``."""
    return content_types.encode(prediction, accept)


@dataclass(slots=True)
class Invocation:
    """The outcome of one inference: body, its content type, and how long it took."""

    body: bytes
    content_type: str
    seconds: float


@dataclass
class ModelHandler:
    """A loaded model plus the handler functions that serve it."""

    model_dir: Path
    model: Any
    input_fn: Callable[..., Any] = default_input_fn
    predict_fn: Callable[..., Any] = default_predict_fn
    output_fn: Callable[..., Any] = default_output_fn
    transform_fn: Callable[..., Any] | None = None
    default_accept: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Invocation:
        """Run one request through the handler; raises ServingError subclasses for 4xx."""
        started = time.perf_counter()
        response_type = content_types.negotiate(accept, content_type, self.default_accept)
        # One try block with the stage in a local, not a guarded lambda per stage: this
        # runs once per request, and three closures and calls cost more than the parsing.
        stage = "transform_fn"
        try:
            if self.transform_fn is not None:
                result = self.transform_fn(self.model, body, content_type, response_type)
            else:
                stage = "input_fn"
                data = self.input_fn(body, content_type)
                stage = "predict_fn"
                prediction = self.predict_fn(data, self.model)
                stage = "output_fn"
                result = self.output_fn(prediction, response_type)
        except ServingError:
            raise
        except Exception as err:
            client_error = _client_error(err, stage)
            if client_error is None:
                raise
            raise client_error from err
        if type(result) is not bytes:
            if isinstance(result, tuple):
                result, response_type = result[0], result[1]
            if isinstance(result, str):
                result = result.encode()
            if not isinstance(result, (bytes, bytearray)):
                raise TypeError(
                    f"handler returned {type(result).__name__}; output_fn must return bytes"
                )
            result = bytes(result)
        return Invocation(result, response_type, time.perf_counter() - started)


def _client_error(err: Exception, stage: str) -> ServingError | None:
    """The 4xx a handler's exception in ``stage`` stands for, or None (a server error)."""
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    if type(err).__name__ in UNSUPPORTED_NAMES:
        unsupported = NotAcceptable if stage == "output_fn" else UnsupportedContentType
        return unsupported(message)
    if isinstance(err, CLIENT_ERRORS):
        return BadRequest(f"{stage} rejected the input: {message}")
    return None


def load_handler(model_dir: Path | str, *, module_name: str | None = None) -> ModelHandler:
    """Import ``code/inference.py`` of an unpacked model and call its ``model_fn``."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(
            f"model directory {model_dir} does not exist; unpack model.tar.gz first"
        )
    functions: dict[str, Callable[..., Any]] = {}
    script = model_dir / "code" / "inference.py"
    if script.is_file():
        functions = _import_handler(
            script, module_name or f"_sagepipe_handler_{abs(hash(str(model_dir)))}"
        )
    if "transform_fn" in functions and {"input_fn", "predict_fn", "output_fn"} & functions.keys():
        raise ModelLoadError(
            f"{script} defines transform_fn together with input_fn/predict_fn/output_fn; "
            "define transform_fn alone or the other three"
        )
    model_fn = functions.get("model_fn", default_model_fn)
    try:
        model = model_fn(str(model_dir))
    except ModelLoadError:
        raise
    except Exception as err:
        raise ModelLoadError(
            f"model_fn failed for {model_dir}: {type(err).__name__}: {err}"
        ) from err
    info_path = model_dir / "sagepipe-model.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return ModelHandler(
        model_dir=model_dir,
        model=model,
        input_fn=functions.get("input_fn", default_input_fn),
        predict_fn=functions.get("predict_fn", default_predict_fn),
        output_fn=functions.get("output_fn", default_output_fn),
        transform_fn=functions.get("transform_fn"),
        info=info,
    )


def _import_handler(script: Path, module_name: str) -> dict[str, Callable[..., Any]]:
    code_dir = str(script.parent)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {script}; is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise ModelLoadError(f"importing {script} failed: {type(err).__name__}: {err}") from err
    return {
        name: getattr(module, name)
        for name in HANDLER_FUNCTIONS
        if callable(getattr(module, name, None))
    }
