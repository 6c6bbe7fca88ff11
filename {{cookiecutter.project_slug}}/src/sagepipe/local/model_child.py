"""Models served by their image's own handler, in a child process of the image's interpreter.

:class:`ChildHandler` looks like a serving ``ModelHandler`` (``invoke``) to the
batch-transform stack and Clarify's endpoint, while the predictions come from one of the
children in ``algorithms/`` (the XGBoost image's default handler, the scikit-learn image's
script-mode server), framed by ``algorithms/child_protocol``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..serving.batch import TransformError
from ..serving.handler import Invocation
from .algorithms import child_protocol

ALGORITHMS = Path(__file__).resolve().parent / "algorithms"
XGBOOST_SERVE = ALGORITHMS / "xgboost_serve.py"
SKLEARN_SERVE = ALGORITHMS / "sklearn_serve.py"
_ENGINE_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


def xgboost_command(python: str, model_dir: Path) -> list[str]:
    """The XGBoost image's default handler for the model unpacked in ``model_dir``."""
    return [python, str(XGBOOST_SERVE), str(model_dir)]


def sklearn_command(python: str, model_dir: Path, code_dir: Path, program: str) -> list[str]:
    """The scikit-learn image's server for user module ``program`` in ``code_dir``."""
    return [python, str(SKLEARN_SERVE), str(model_dir), str(code_dir), program]


class ChildHandler:
    """A ModelHandler look-alike whose predictions come from a child interpreter.

    Raises :class:`TransformError` (one line) when the child cannot start or a request fails.
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        # The child is the image's interpreter: the engine's import path must not leak in.
        # ``env``: its container's own Environment (one container of an inference pipeline).
        env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in _ENGINE_VARIABLES}
        self.proc = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        header, _ = child_protocol.receive(self.stdout)
        if header is None or header.get("status") != "ready":
            self.close()
            if header is None:
                raise TransformError(
                    f"the model server ({command[0]}) exited before it was ready; see the job's log"
                )
            raise TransformError(f"the model server could not start: {header.get('error')}")

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Invocation:
        """One request to the child: the answer, or :class:`TransformError`."""
        try:
            child_protocol.send(self.stdin, {"content_type": content_type, "accept": accept}, body)
            answer, data = child_protocol.receive(self.stdout)
        except BrokenPipeError:
            answer, data = None, b""
        if answer is None:
            raise TransformError("the model server exited during a request; see the job's log")
        if answer["status"] != 200:
            raise TransformError(
                f"the model rejected a request ({answer['status']}): {answer.get('error')}"
            )
        return Invocation(data, str(answer["content_type"]), 0.0)

    def close(self) -> None:
        """End the child (end of its input) and wait for it."""
        with contextlib.suppress(BrokenPipeError):
            self.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SerialHandler:
    """An inference pipeline (CreateModel with several ``Containers``, Mode Serial).

    Each container's response is the next one's request, with its content type; the
    request's ``Accept`` goes to the last container, the others answer in their default
    (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``), as AWS's featurizer examples rely on.
    """

    def __init__(self, handlers: Sequence[Any]) -> None:
        self.handlers = list(handlers)

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Invocation:
        """Send ``body`` through every container in order; the last one's answer."""
        seconds = 0.0
        for index, handler in enumerate(self.handlers):
            last = index == len(self.handlers) - 1
            try:
                answer = handler.invoke(body, content_type, accept if last else None)
            except TransformError as exc:
                raise TransformError(f"container {index + 1}: {exc}") from None
            body, content_type = answer.body, answer.content_type
            seconds += answer.seconds
        return Invocation(body, content_type, seconds)

    def close(self) -> None:
        """End every child."""
        for handler in self.handlers:
            if isinstance(handler, ChildHandler):
                handler.close()
