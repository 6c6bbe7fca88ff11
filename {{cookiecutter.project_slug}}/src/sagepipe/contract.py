"""Bind a container's folders, arguments and hyperparameters to a step function.

This module is the only part of sagepipe that runs inside a job. It is stdlib only and
imports nothing else from sagepipe, so a step's code tree carries just this file.

A step function is plain, typed Python. Parameters annotated ``Path`` are folders; the
others are arguments (Processing) or hyperparameters (Training), converted from their
text form by annotation (``str``, ``int``, ``float``, ``bool``, optionally ``| None``).

Processing jobs pass everything as ``--name value`` container arguments.
Training jobs pass hyperparameters as ``--name value`` arguments (and ``SM_HPS``); a
``Path`` parameter named ``model_dir`` is ``SM_MODEL_DIR``, ``output_data_dir`` is
``SM_OUTPUT_DATA_DIR`` and any other is the channel of that name (``SM_CHANNEL_<NAME>``).

On an exception the reason (exception type and message, then the innermost traceback
line) goes to ``/opt/ml/output/failure`` (Training) or ``/opt/ml/output/message``
(Processing), the traceback to stderr, and the process exits with status 1 (2 when the
arguments do not fit the function). ``SAGEPIPE_OPT_ML`` moves ``/opt/ml`` for local
sandboxes; without it a processing job finds it from its remapped folder arguments
(``<root>/processing/...``); Training honours ``SM_OUTPUT_DIR``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPT_ML_ENV = "SAGEPIPE_OPT_ML"
DEFAULT_OPT_ML = "/opt/ml"
MODEL_DIR = "model_dir"
OUTPUT_DATA_DIR = "output_data_dir"
# SageMaker keeps FailureReason to about 1 KiB; longer text is cut there anyway.
MAX_REASON_CHARS = 1024
_SCALARS: tuple[type, ...] = (str, int, float, bool)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ContractError(TypeError):
    """The function's signature or the job's arguments do not fit the step contract."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a step function, as the contract sees it."""

    name: str
    is_path: bool
    type: type
    required: bool
    default: Any = None


def describe(fn: Callable[..., Any]) -> list[ParamSpec]:
    """Classify the parameters of ``fn`` into folders (``Path``) and scalar values."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        # An older container Python (SageMaker's scikit-learn 1.2-1 image runs 3.9) cannot
        # evaluate `Path | None`; the contract only needs simple names, so read the text.
        hints = {}
        for name, annotation in getattr(fn, "__annotations__", {}).items():
            if name == "return":  # `-> None` says nothing about the parameters
                continue
            resolved = _annotation_from_text(annotation) if isinstance(annotation, str) else None
            if resolved is None:
                raise ContractError(f"cannot read the annotations of {_label(fn)}: {exc}") from exc
            hints[name] = resolved
    specs = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ContractError(
                f"{_label(fn)}: parameter {param.name!r} is {param.kind.description}; "
                "step functions take named parameters only"
            )
        annotation = _unwrap_optional(hints.get(param.name, str))
        if annotation is Path or (isinstance(annotation, type) and issubclass(annotation, Path)):
            is_path, kind = True, Path
        elif annotation in _SCALARS:
            is_path, kind = False, annotation
        else:
            raise ContractError(
                f"{_label(fn)}: parameter {param.name!r} is annotated {annotation!r}; "
                "annotate it with Path, str, int, float or bool"
            )
        required = param.default is inspect.Parameter.empty
        default = None if required else param.default
        specs.append(ParamSpec(param.name, is_path, kind, required, default))
    return specs


def convert(text: Any, target: type, name: str) -> Any:
    """Convert one argument or hyperparameter to the type of its annotation."""
    if target is bool:
        if isinstance(text, bool):
            return text
        lowered = str(text).strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ContractError(f"{name}={text!r} is not a boolean; use true or false")
    if target in (int, float) and isinstance(text, target) and not isinstance(text, bool):
        return text
    try:
        return target(str(text)) if target is not str else str(text)
    except ValueError:
        raise ContractError(f"{name}={text!r} is not a valid {target.__name__}") from None


def parse_args(argv: Sequence[str]) -> dict[str, str]:
    """Parse ``--name value`` (or ``--name=value``) pairs; names may use ``-`` for ``_``."""
    parsed: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        if not token.startswith("--") or len(token) == 2:
            raise ContractError(f"unexpected argument {token!r}; expected --name value pairs")
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if index + 1 >= len(argv):
                raise ContractError(f"argument {token!r} has no value")
            index += 1
            value = argv[index]
        parsed[name.replace("-", "_")] = value
        index += 1
    return parsed


def opt_ml_root(env: Mapping[str, str] | None = None) -> Path:
    """Return the folder that stands for ``/opt/ml`` (``SAGEPIPE_OPT_ML`` overrides it)."""
    env = os.environ if env is None else env
    return Path(env.get(OPT_ML_ENV) or DEFAULT_OPT_ML)


def bind_processing(
    fn: Callable[..., Any], argv: Sequence[str], *, outputs: Sequence[str] = ()
) -> dict[str, Any]:
    """Build the keyword arguments of ``fn`` from processing container arguments.

    Output folders are created, so a function may write into them straight away.
    """
    args = parse_args(argv)
    kwargs = _bind(fn, args, where="container argument")
    for name in outputs:
        if kwargs.get(name) is not None:
            Path(kwargs[name]).mkdir(parents=True, exist_ok=True)
    return kwargs


def bind_training(
    fn: Callable[..., Any], argv: Sequence[str], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Build the keyword arguments of ``fn`` from a training job's environment and argv."""
    env = os.environ if env is None else env
    root = opt_ml_root(env)
    hyperparameters: dict[str, Any] = {}
    if env.get("SM_HPS"):
        hyperparameters.update(json.loads(env["SM_HPS"]))
    hyperparameters.update({k: _decode_hp(v) for k, v in parse_args(argv).items()})
    # The framework's own settings (sagemaker_program, ...) are not the function's business.
    values = {k: v for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
    specs = describe(fn)
    for spec in specs:
        if not spec.is_path:
            continue
        if spec.name == MODEL_DIR:
            values[spec.name] = env.get("SM_MODEL_DIR") or str(root / "model")
        elif spec.name == OUTPUT_DATA_DIR:
            values[spec.name] = env.get("SM_OUTPUT_DATA_DIR") or str(root / "output" / "data")
        else:
            channel = env.get(f"SM_CHANNEL_{spec.name.upper()}")
            folder = root / "input" / "data" / spec.name
            if channel:
                values[spec.name] = channel
            elif folder.is_dir():
                values[spec.name] = str(folder)
    kwargs = _bind(fn, values, where="hyperparameter")
    for name in (MODEL_DIR, OUTPUT_DATA_DIR):
        if kwargs.get(name) is not None:
            Path(kwargs[name]).mkdir(parents=True, exist_ok=True)
    return kwargs


def processing_opt_ml_root(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    """Where ``/opt/ml`` is for a processing job.

    ``SAGEPIPE_OPT_ML`` wins; otherwise the folder arguments tell (an executor that
    remaps ``/opt/ml/processing/...`` into a sandbox remaps them too), so a failure reason
    never lands in the host's real ``/opt/ml``.
    """
    env = os.environ if env is None else env
    if env.get(OPT_ML_ENV):
        return Path(env[OPT_ML_ENV])
    for value in argv:
        head, marker, _ = value.partition("/processing/")
        if marker and head and value.startswith("/"):
            return Path(head)
    return Path(DEFAULT_OPT_ML)


def run_processing(target: str | Callable[..., Any], *, outputs: Sequence[str] = ()) -> int:
    """Run a step function as a processing job; return the process exit status."""
    failure_file = processing_opt_ml_root(sys.argv[1:]) / "output" / "message"
    return _run(target, lambda fn: bind_processing(fn, sys.argv[1:], outputs=outputs), failure_file)


def run_training(target: str | Callable[..., Any]) -> int:
    """Run a step function as a training job; return the process exit status."""
    output_dir = os.environ.get("SM_OUTPUT_DIR") or str(opt_ml_root() / "output")
    failure_file = Path(output_dir) / "failure"
    return _run(target, lambda fn: bind_training(fn, sys.argv[1:]), failure_file)


def failure_reason(exc: BaseException) -> str:
    """Describe an exception in one line, then where it was raised."""
    message = str(exc).strip()
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        reason += f'\n  File "{last.filename}", line {last.lineno}, in {last.name}'
    return reason[:MAX_REASON_CHARS]


def write_failure(path: Path, reason: str) -> None:
    """Write the failure reason where the platform looks for it; never raise."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(reason + "\n", encoding="utf-8")
    except OSError as exc:  # an unwritable /opt/ml must not hide the real error
        print(f"sagepipe: could not write the failure reason to {path}: {exc}", file=sys.stderr)


def load(target: str | Callable[..., Any]) -> Callable[..., Any]:
    """Resolve ``"package.module:function"`` to the function (callables pass through)."""
    if callable(target):
        return target
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    fn: Callable[..., Any] | None = getattr(module, attribute, None)
    if fn is None or not callable(fn):
        raise ContractError(f"{module_name} has no function {attribute!r}")
    return fn


def _run(
    target: str | Callable[..., Any],
    bind: Callable[[Callable[..., Any]], dict[str, Any]],
    failure_file: Path,
) -> int:
    try:
        fn = load(target)
        kwargs = bind(fn)
    except ContractError as exc:
        print(f"sagepipe: {exc}", file=sys.stderr)
        write_failure(failure_file, f"ContractError: {exc}")
        return 2
    except Exception as exc:  # the step module failed to import
        traceback.print_exc()
        write_failure(failure_file, failure_reason(exc))
        return 1
    try:
        fn(**kwargs)
    except Exception as exc:
        traceback.print_exc()
        write_failure(failure_file, failure_reason(exc))
        return 1
    return 0


def _bind(fn: Callable[..., Any], values: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    specs = describe(fn)
    known = {spec.name for spec in specs}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ContractError(
            f"{_label(fn)} does not accept the {where} {unknown[0]!r}; "
            f"its parameters are {', '.join(sorted(known)) or '(none)'}"
        )
    kwargs: dict[str, Any] = {}
    for spec in specs:
        if spec.name not in values:
            if spec.required:
                raise ContractError(
                    f"{_label(fn)} needs {spec.name!r}, but the job did not provide it"
                )
            continue
        raw = values[spec.name]
        kwargs[spec.name] = Path(raw) if spec.is_path else convert(raw, spec.type, spec.name)
    return kwargs


def _decode_hp(text: str) -> Any:
    # The SDK JSON-quotes string hyperparameters ("\"gini\""); SageMaker's framework
    # containers decode them, a plain runner may not. Only quoted strings are decoded so
    # that "1e5" meant for a str parameter stays "1e5".
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


_NAMED_TYPES: dict[str, Any] = {
    "Path": Path,
    "pathlib.Path": Path,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "None": type(None),
}


def _annotation_from_text(text: str) -> Any:
    """Resolve ``"Path"``, ``"int | None"``, ``"Optional[str]"`` without evaluating them."""
    cleaned = text.strip()
    for prefix in ("typing.Optional[", "Optional["):
        if cleaned.startswith(prefix) and cleaned.endswith("]"):
            cleaned = cleaned[len(prefix) : -1] + " | None"
    members = [part.strip() for part in cleaned.split("|")]
    types_found = [_NAMED_TYPES.get(member) for member in members]
    if any(t is None for t in types_found):
        return None
    real = [t for t in types_found if t is not type(None)]
    return real[0] if len(real) == 1 else None


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    union_types: tuple[Any, ...] = (typing.Union,)
    if hasattr(types, "UnionType"):
        union_types += (types.UnionType,)
    if origin in union_types:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _label(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}()"
