"""The WSGI application: SageMaker's ``GET /ping`` and ``POST /invocations`` contract."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from . import capture as capture_mod
from .errors import (
    BadRequest,
    InferenceTimeout,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServingError,
)
from .handler import Invocation, ModelHandler, load_handler
from .spec import EndpointSpec

log = logging.getLogger("sagepipe.serving")
StartResponse = Callable[..., Any]

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


class InferenceApp:
    """Serve one production variant, optionally copy a sample of requests to a shadow."""

    def __init__(self, spec: EndpointSpec, handlers: dict[str, ModelHandler]) -> None:
        self.spec = spec
        self.handlers = handlers
        self.production = spec.production
        self.shadow = spec.shadow
        self.max_payload = int(spec.max_payload_mb * 1024 * 1024)
        self.capture = (
            capture_mod.CaptureWriter(Path(spec.capture.destination), spec.endpoint_name)
            if spec.capture.enabled or self.shadow is not None
            else None
        )
        self._model_header = self.production.model_package or self.production.name
        # The headers every answer ends with, built once (not per request).
        self._tail_headers = [
            ("X-Amzn-Invoked-Production-Variant", self.production.name),
            ("X-Sagepipe-Model", self._model_header),
        ]
        self._alarm_owned = False
        self._alarm_thread = -1  # the thread whose SIGALRM handler is ours

    def own_alarm(self) -> None:
        """Take SIGALRM for this process for good: the per-request timeout then only arms
        a timer. For server workers, where nothing else uses SIGALRM; swapping the handler
        in and out on every request cost more than the HTTP parsing of one.
        """
        seconds = self.spec.timeout_seconds

        def expire(signum: int, frame: Any) -> None:
            raise InferenceTimeout(_timeout_message(seconds))

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGALRM, expire)
            self._alarm_owned = True
            self._alarm_thread = threading.get_ident()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        try:
            if path == "/ping":
                if method not in ("GET", "HEAD"):
                    raise MethodNotAllowed(f"{method} /ping is not allowed; use GET /ping")
                return self._respond(start_response, 200, b"", "text/plain")
            if path == "/invocations":
                if method != "POST":
                    raise MethodNotAllowed(
                        f"{method} /invocations is not allowed; use POST /invocations"
                    )
                return self._invoke(environ, start_response)
            raise NotFound(f"no route {path!r}; use GET /ping or POST /invocations")
        except ServingError as err:
            return self._respond(
                start_response, err.status, (err.message + "\n").encode(), "text/plain"
            )
        except Exception as err:  # a bug in a handler must not take the worker down
            log.error("invocation failed: %s", traceback.format_exc())
            message = f"internal error: {type(err).__name__}: {err}".splitlines()[0]
            return self._respond(start_response, 500, (message + "\n").encode(), "text/plain")

    def _invoke(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self._read_body(environ)
        content_type = environ.get("CONTENT_TYPE", "")
        accept = environ.get("HTTP_ACCEPT")
        handler = self.handlers[self.production.name]
        seconds = self.spec.timeout_seconds
        if self._alarm_thread == threading.get_ident() and seconds > 0:
            # A server worker's own thread: only the timer is armed (see own_alarm).
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                result = handler.invoke(body, content_type, accept)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        else:
            result = _with_timeout(seconds, lambda: handler.invoke(body, content_type, accept))
        shadowed = (
            self.shadow is not None and random.random() * 100 < self.shadow.sampling_percentage
        )
        captured = shadowed or (
            self.spec.capture.enabled
            and random.random() * 100 < self.spec.capture.sampling_percentage
        )
        if not captured:
            return self._respond(start_response, 200, result.body, result.content_type)
        event_id = capture_mod.new_event_id()
        self._capture(self.production.name, event_id, body, content_type, result)
        response = self._respond(start_response, 200, result.body, result.content_type)
        if not shadowed:
            return response
        # The shadow runs after the production answer is handed to the server, so the caller
        # never waits for it (the server sends the body before calling close()).
        return _AfterResponse(
            response, lambda: self._run_shadow(event_id, body, content_type, accept)
        )

    def _run_shadow(
        self, event_id: str, body: bytes, content_type: str, accept: str | None
    ) -> None:
        assert self.shadow is not None
        handler = self.handlers[self.shadow.name]
        started = time.perf_counter()
        try:
            result = _with_timeout(
                self.spec.timeout_seconds,
                lambda: handler.invoke(body, content_type, accept),
                self._alarm_owned,
            )
            self._capture(self.shadow.name, event_id, body, content_type, result)
        except Exception as err:
            failed = Invocation(b"", "text/plain", time.perf_counter() - started)
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            self._capture(self.shadow.name, event_id, body, content_type, failed, error=message)

    def _capture(
        self,
        variant: str,
        event_id: str,
        body: bytes,
        content_type: str,
        result: Invocation,
        error: str | None = None,
    ) -> None:
        assert self.capture is not None
        when = capture_mod.now()
        line = capture_mod.record(
            event_id=event_id,
            request=body,
            request_type=content_type,
            response=result.body,
            response_type=result.content_type,
            latency_ms=result.seconds * 1000,
            when=when,
            error=error,
        )
        try:
            self.capture.write(variant, line, when)
        except OSError as err:  # a full disk must not fail the request
            log.error("data capture failed: %s", err)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        length_header = environ.get("CONTENT_LENGTH") or ""
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                raise BadRequest(f"Content-Length {length_header!r} is not a number") from None
            if length < 0:
                raise BadRequest(f"Content-Length {length} is negative")
            if length > self.max_payload:
                raise PayloadTooLarge(self._too_large(length))
            return stream.read(length)
        body = stream.read(self.max_payload + 1)  # chunked: read one byte past the limit
        if len(body) > self.max_payload:
            raise PayloadTooLarge(self._too_large(len(body)))
        return body

    def _too_large(self, size: int) -> str:
        return (
            f"payload of {size} bytes exceeds the {self.spec.max_payload_mb:g} MB limit; "
            "split it into smaller requests or use batch-transform"
        )

    def _respond(
        self, start_response: StartResponse, status: int, body: bytes, content_type: str
    ) -> list[bytes]:
        start_response(
            f"{status} {REASONS.get(status, 'Error')}",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                *self._tail_headers,
            ],
        )
        return [body]


class _AfterResponse:
    """A WSGI body that runs a callback once the server is done sending it."""

    def __init__(self, body: list[bytes], callback: Callable[[], None]) -> None:
        self.body = body
        self.callback = callback

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            self.callback()
        except Exception:
            log.error("shadow invocation failed: %s", traceback.format_exc())


def _timeout_message(seconds: float) -> str:
    return (
        f"inference took longer than {seconds:g} s (SAGEMAKER_MODEL_SERVER_TIMEOUT); "
        "send fewer records per request or raise the timeout"
    )


def _with_timeout(
    seconds: float, call: Callable[[], Invocation], alarm_owned: bool = False
) -> Invocation:
    """Run ``call``; raise 504 when it outlives ``seconds`` (SIGALRM: main thread only).

    ``alarm_owned``: the process's SIGALRM handler is already ours (a server worker, see
    :meth:`InferenceApp.own_alarm`), so only the timer is armed; else the handler is put
    in place for this call and the previous one restored after.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return call()
    if alarm_owned:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return call()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def expire(signum: int, frame: Any) -> None:
        raise InferenceTimeout(_timeout_message(seconds))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def build_app(spec: EndpointSpec) -> InferenceApp:
    """Load every variant's handler and return the WSGI app."""
    handlers = {
        variant.name: load_handler(
            Path(variant.model_dir), module_name=f"_sagepipe_handler_{variant.name}"
        )
        for variant in spec.variants
    }
    return InferenceApp(spec, handlers)
