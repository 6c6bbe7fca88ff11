"""One client connection of the serving worker, as an :class:`asyncio.Protocol`.

Bytes are buffered as they arrive; only a whole request (head and body) reaches the WSGI
app, which runs right there, in the event loop's thread (the worker's main thread, so the
app's SIGALRM per-request timeout works). No task, future or timer is made per request:
each connection records its phase and a deadline, and the worker's sweep
(:meth:`HttpConnection.expire`) answers 408 to those that overstay it. That is what keeps
the cost per request below a tenth of a millisecond while a slow or lying client can
hold nothing but its own socket.

Phases: ``idle`` (waiting for a request: the first within the header deadline, later ones
within the keep-alive time), ``head`` (part of a head arrived), ``body``, ``discard``
(reading away a refused body so the client sees the 413), ``linger`` (our side is shut
down for writing after a ``Connection: close`` answer, a refusal (400, 408, 413, 431,
501, 503) or a graceful stop; whatever the client still sends is read and dropped for at
most LINGER_SECONDS, so closing never resets a request in flight) and ``closed``.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import unquote

from .http1 import (
    MAX_HEADER_BYTES,
    ChunkedBody,
    Refuse,
    body_length,
    check_size,
    keep_alive,
    parse_head,
)
from .http1 import refusal as refusal_bytes

# A lingering close reads (and drops) what the client still sends for at most this long.
LINGER_SECONDS = 2.0
# Encoded response heads by (status, headers, keep-alive): an endpoint sends the same few
# over and over, and building one costs about as much as parsing the request. Bounded:
# cleared when full, so varied headers only cost the building they would anyway.
HEAD_CACHE_SIZE = 512
_heads: dict[tuple[str, tuple[tuple[str, str], ...], bool, int], bytes] = {}
# Parsed request heads by their exact bytes, for the same reason: a client pool sends the
# same head (method, path, Host, Content-Type, Content-Length) request after request.
# Only heads that parsed cleanly are kept, and only short ones, so the cache stays small.
REQUEST_CACHE_SIZE = 512
REQUEST_CACHE_MAX_BYTES = 2048
_requests: dict[bytes, Request] = {}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class Request(NamedTuple):
    """A parsed request head and what the connection derives from it, once per head."""

    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-cased names; shared by every request with this head
    length: int | None  # body bytes announced, None for chunked
    keep_alive: bool  # what the client asked for (a stopping worker closes anyway)
    expect_continue: bool
    environ: dict[str, Any]  # the WSGI keys that come from the head alone


def read_request(raw: bytes) -> Request:
    """The :class:`Request` of a whole head (ending in a blank line); :class:`Refuse`
    for a malformed one. The worker's own body limit is checked by the caller."""
    request = _requests.get(raw)
    if request is not None:
        return request
    method, target, version, headers = parse_head(raw)
    length = body_length(headers, sys.maxsize)  # framing rules only: no size limit here
    request = Request(
        method,
        target,
        version,
        headers,
        length,
        keep_alive(version, headers),
        length != 0
        and version == "HTTP/1.1"
        and headers.get("expect", "").lower() == "100-continue",
        _head_environ(method, target, version, headers, length),
    )
    if len(raw) <= REQUEST_CACHE_MAX_BYTES:
        if len(_requests) >= REQUEST_CACHE_SIZE:
            _requests.clear()
        _requests[raw] = request
    return request


def _head_environ(
    method: str, target: str, version: str, headers: dict[str, str], length: int | None
) -> dict[str, Any]:
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": unquote(path, encoding="latin-1") if "%" in path else path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": version,
    }
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    for name, value in headers.items():
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name != "content-length" and name != "transfer-encoding":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


@dataclass(frozen=True)
class Limits:
    """Deadlines (seconds) and sizes a connection enforces."""

    header_timeout: float
    body_timeout: float
    keepalive: float
    write_timeout: float
    max_body: int


class Owner(Protocol):
    """What a connection needs from the worker that accepted it."""

    connections: set[HttpConnection]

    @property
    def alive(self) -> bool: ...  # False once the worker is asked to stop

    @property
    def access_log(self) -> bool: ...

    def log_exception(self, message: str) -> None: ...


class HttpConnection(asyncio.Protocol):
    """Read requests whole, answer each with the WSGI app, keep-alive and pipelining."""

    def __init__(self, owner: Owner, app: WSGIApp, limits: Limits, max_connections: int) -> None:
        self.owner = owner
        self.app = app
        self.limits = limits
        self.max_connections = max_connections
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.phase = "idle"
        self.first = True  # no request answered yet on this connection
        self.since = time.monotonic()  # when the current phase started
        self.deadline = self.since + limits.header_timeout
        self.write_deadline: float | None = None  # set while the client does not read
        self.request: Request | None = None
        self.length: int | None = 0  # body bytes expected, None for chunked
        self.chunked: ChunkedBody | None = None
        self.discard_left = 0
        self.environ_base: dict[str, Any] = {}
        # The environ of the last head seen (base and head keys merged): a connection
        # usually repeats its head, and then one dict copy makes a request's environ.
        self.last_request: Request | None = None
        self.last_environ: dict[str, Any] = {}
        self.status = ""  # of the answer being made (start_response)
        self.response_headers: list[tuple[str, str]] = []

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.owner.connections.add(self)
        if len(self.owner.connections) > self.max_connections:
            self.refuse(503, "too many open connections; retry shortly")
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self.environ_base = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": str(local[0]),
            "SERVER_PORT": str(local[1]),
            "REMOTE_ADDR": str(peer[0]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    def connection_lost(self, exc: Exception | None) -> None:
        self.phase = "closed"
        self.owner.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.phase == "closed":
            return
        if self.phase == "discard":
            self._discard(len(data))
            return
        if self.phase == "linger":
            return  # after our answer (or the stop): dropped, the client reads our end
        self.buffer += data
        if self.write_deadline is None:  # else resume_writing picks the buffer up
            self._advance()

    def eof_received(self) -> bool:
        # A client that half-closes mid-request never completes it: drop the connection.
        # One that closes between requests is done; either way there is nothing to answer.
        self._close()
        return False

    def pause_writing(self) -> None:
        # The client does not read its answers: stop reading its requests until it does.
        self.write_deadline = time.monotonic() + self.limits.write_timeout
        if self.transport is not None and self.phase != "closed":
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_deadline = None
        if self.transport is not None and self.phase != "closed":
            self.transport.resume_reading()
            self._advance()

    # -- the worker's sweep -------------------------------------------------------------------
    def expire(self, now: float) -> None:
        """Answer 408 (or close quietly) when this connection overstayed its phase."""
        if self.write_deadline is not None and now > self.write_deadline:
            self.phase = "closed"
            if self.transport is not None:
                self.transport.abort()  # it stopped reading: nothing it would see
            return
        if now <= self.deadline or self.phase == "closed":
            return
        if self.phase == "idle":
            if self.first:
                self.refuse(408, "no request arrived in time")
            else:
                self._close()  # an idle keep-alive connection: close it quietly
        elif self.phase == "head":
            self.refuse(
                408, f"request headers did not arrive within {self.limits.header_timeout:g} s"
            )
        elif self.phase == "body":
            self.refuse(
                408,
                f"the request body did not arrive within {self.limits.body_timeout:g} s "
                "(it announced more bytes than it sent)",
            )
        else:  # discard: the refused body never came whole; linger: the client kept sending
            self._close()

    def idle_since(self) -> float | None:
        """When this connection became idle between requests (None: busy or new)."""
        return self.since if self.phase == "idle" and not self.first else None

    # -- requests -----------------------------------------------------------------------------
    def _advance(self) -> None:
        """Answer every whole request in the buffer (pipelined ones in order)."""
        try:
            while self.phase != "closed" and self.write_deadline is None:
                if self.phase == "idle":
                    if not self.buffer:
                        return
                    self._enter("head", self.limits.header_timeout)
                if self.phase == "head" and not self._read_head():
                    return
                body = self._read_body()
                if body is None:
                    return
                if not self._answer(body):
                    self.linger(time.monotonic())
                    return
        except Refuse as refused:
            self.refuse(refused.status, refused.message, refused.discard)

    def _enter(self, phase: str, seconds: float) -> None:
        self.phase = phase
        self.since = time.monotonic()
        self.deadline = self.since + seconds

    def _read_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                raise Refuse(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
            return False
        if end + 4 > MAX_HEADER_BYTES:
            raise Refuse(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
        head = bytes(self.buffer[: end + 4])
        del self.buffer[: end + 4]
        self.request = request = read_request(head)
        self.length = request.length
        if request.length is None:
            self.chunked = ChunkedBody(self.limits.max_body)
        else:
            self.chunked = None
            check_size(request.length, self.limits.max_body)
        if request.length != 0:
            if request.expect_continue:
                assert self.transport is not None
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._enter("body", self.limits.body_timeout)
        else:
            self.phase = "body"
        return True

    def _read_body(self) -> bytes | None:
        if self.chunked is not None:
            return self.chunked.feed(self.buffer)
        length = self.length or 0
        if len(self.buffer) < length:
            return None
        if not length:
            return b""
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return body

    def _answer(self, body: bytes) -> bool:
        """Run the app on the request just read and write its answer; False: close after."""
        request = self.request
        assert request is not None and self.transport is not None
        keep = request.keep_alive and self.owner.alive
        status, response_headers, payload, close = self._call_app(self._environ(request, body))
        key = (status, tuple(response_headers), keep, len(payload))
        try:
            data = _heads.get(key)
        except TypeError:  # a header given as a list, not a tuple: not cacheable
            data = _encode_head(status, response_headers, keep, len(payload))
        if data is None:
            data = _encode_head(status, response_headers, keep, len(payload))
            if len(_heads) >= HEAD_CACHE_SIZE:
                _heads.clear()
            _heads[key] = data
        self.transport.write(data + payload if request.method != "HEAD" else data)  # one send
        self.first = False
        self.request = None
        self._enter("idle", self.limits.keepalive)
        if close is not None:
            try:
                close()  # after the answer is handed to the socket (the shadow variant runs here)
            except Exception:
                self.owner.log_exception("closing the response failed")
        if self.owner.access_log:
            line = f"{request.method} {request.target} {request.version}"
            print(f'"{line}" {status.split(" ", 1)[0]} {len(payload)}')
            sys.stdout.flush()
        return keep

    def _environ(self, request: Request, body: bytes) -> dict[str, Any]:
        if request is not self.last_request:
            self.last_environ = {**self.environ_base, **request.environ}
            self.last_request = request
        environ = self.last_environ.copy()
        if request.length is None:  # chunked: the length is known now
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        return environ

    def _call_app(
        self, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], bytes, Callable[[], None] | None]:
        try:
            result = self.app(environ, self._start_response)
            if type(result) is list and len(result) == 1 and type(result[0]) is bytes:
                # What the inference app returns: no copy, no generator, nothing to close.
                return self.status, self.response_headers, result[0], None
            payload = b"".join(bytes(chunk) for chunk in result)
        except Exception as err:  # the app answers its own errors; this is a last resort
            self.owner.log_exception("request failed")
            message = f"internal error: {type(err).__name__}\n".encode()
            return "500 Internal Server Error", [("Content-Type", "text/plain")], message, None
        return self.status, self.response_headers, payload, getattr(result, "close", None)

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """WSGI's ``start_response``: keep the status and headers for :meth:`_answer`."""
        self.status = status
        self.response_headers = headers
        return _no_write

    # -- refusing and closing --------------------------------------------------------------------
    def refuse(self, status: int, message: str, discard: int = 0) -> None:
        """Answer ``status`` with one line, read ``discard`` body bytes, then a lingering close.

        Not an immediate close: the client may still be sending (the request of a
        connection over the bound is unread, a refused body may follow its head), and
        closing with unread or arriving bytes makes the kernel send a reset that can
        destroy the answer before the client reads it (RFC 9112 section 9.6). The linger
        is bounded (LINGER_SECONDS), so a refused client holds its socket no longer.
        """
        if self.transport is None or self.phase in ("closed", "linger"):
            return
        self.transport.write(refusal_bytes(status, message))
        discard -= len(self.buffer)
        self.buffer.clear()
        if discard > 0:
            self.discard_left = discard
            self._enter("discard", self.limits.body_timeout)
        else:
            self.linger(time.monotonic())

    def linger(self, now: float) -> None:
        """Close gracefully: shut our side for writing (after the answer is sent), then
        read and drop what the client still sends until it closes or LINGER_SECONDS pass.

        Closing a socket with unread bytes makes the kernel send a reset, which would
        destroy a request racing the close (and possibly our answer before it).
        """
        if self.transport is None or self.phase in ("closed", "linger"):
            return
        self.phase = "linger"
        self.buffer.clear()
        self.since = now
        self.deadline = now + LINGER_SECONDS
        if self.transport.can_write_eof():
            self.transport.write_eof()  # FIN once the buffered answer is written
        else:  # pragma: no cover - socket transports can
            self._close()

    def _discard(self, count: int) -> None:
        self.discard_left -= count
        if self.discard_left <= 0:
            self.linger(time.monotonic())

    def _close(self) -> None:
        self.phase = "closed"
        self.buffer.clear()
        if self.transport is not None:
            self.transport.close()  # sends what is buffered first


def _encode_head(
    status: str, headers: list[tuple[str, str]], keep: bool, payload_length: int
) -> bytes:
    """The status line and headers of an answer, with its length and connection headers."""
    lines = [f"HTTP/1.1 {status}"]
    has_length = False
    for name, value in headers:
        lines.append(f"{name}: {value}")
        has_length = has_length or name.lower() == "content-length"
    if not has_length:
        lines.append(f"Content-Length: {payload_length}")
    lines.append("Connection: keep-alive\r\n\r\n" if keep else "Connection: close\r\n\r\n")
    return "\r\n".join(lines).encode("latin-1")


def _no_write(data: bytes) -> None:
    """WSGI's legacy ``write`` callable: answers here are returned, never written."""
    raise NotImplementedError("use the returned iterable, not write()")
