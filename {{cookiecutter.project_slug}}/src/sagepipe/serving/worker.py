"""A gunicorn worker that buffers whole requests before the app sees them.

gunicorn's sync worker reads a request with blocking calls, so a client that sends its
headers slowly, or announces more body than it sends, holds the worker until the worker
timeout kills it (about two minutes), and two such clients take a two-worker endpoint
down. This worker reads every connection on an event loop instead, with a deadline for
the headers and one for the body (``408 Request Timeout`` when one passes) and a bound
on open connections (``503`` beyond it). Only a complete request reaches the WSGI app,
which then runs in the worker's main thread exactly as under the sync worker, so the
per-request SIGALRM timeout (504) still applies. It is the buffering front end that
SageMaker's containers get from nginx, without a second process or hop.

It speaks HTTP/1.0 and 1.1 (keep-alive, ``Content-Length`` or chunked bodies,
``Expect: 100-continue``); requests with both ``Content-Length`` and
``Transfer-Encoding``, folded headers or malformed lines are refused with 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from gunicorn.workers.base import Worker

HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
KEEPALIVE_SECONDS = 60.0
# On shutdown an idle keep-alive connection is closed only once it has been idle this long:
# closing one the instant its client sends the next request resets that request.
SHUTDOWN_IDLE_SECONDS = 1.0
WRITE_TIMEOUT_SECONDS = 30.0
MAX_CONNECTIONS = 256  # per worker; slow clients beyond it get 503 at once
MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 6 * 1024 * 1024
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class _Refuse(Exception):
    """Answer ``status`` with a one-line message and close the connection."""

    def __init__(self, status: int, message: str, discard: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.discard = discard  # body bytes to read and drop after answering


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 and value == value else default


class BufferingWorker(Worker):
    """Event-loop reading, main-thread serving: slow clients never hold the app."""

    def init_process(self) -> None:
        """Read the limits (environment overrides exist for tests and tuning)."""
        self.header_timeout = _seconds("SAGEPIPE_HEADER_TIMEOUT", HEADER_TIMEOUT_SECONDS)
        self.body_timeout = _seconds("SAGEPIPE_BODY_TIMEOUT", BODY_TIMEOUT_SECONDS)
        self.keepalive = _seconds("SAGEPIPE_KEEPALIVE", KEEPALIVE_SECONDS)
        self.max_connections = int(_seconds("SAGEPIPE_MAX_CONNECTIONS", MAX_CONNECTIONS))
        self.open_connections = 0
        self.busy = 0
        # keep-alive connections between requests, and since when they are idle
        self.idle: dict[asyncio.StreamWriter, float] = {}
        super().init_process()

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until the master asks the worker to stop (SIGTERM) or disappears."""
        self.max_body = int(getattr(self.wsgi, "max_payload", DEFAULT_MAX_BODY))
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.add_reader(self.PIPE[0], self._drain_wakeups)  # signals wake the loop at once
        servers = [
            loop.run_until_complete(
                asyncio.start_server(self._serve, sock=listener.sock, limit=MAX_HEADER_BYTES)
            )
            for listener in self.sockets
        ]
        try:
            loop.run_until_complete(self._watch())
        finally:
            # Stop accepting, close idle keep-alive connections, and answer every request
            # already accepted: a connection this worker took is never dropped unanswered.
            for server in servers:
                server.close()
            deadline = time.monotonic() + float(self.cfg.graceful_timeout)
            loop.run_until_complete(asyncio.sleep(0.05))  # start handlers of fresh accepts
            while self.open_connections and time.monotonic() < deadline:
                # A busy client sends its next request within milliseconds and is
                # answered with `Connection: close`; only a quiet connection is closed.
                now = time.monotonic()
                for writer, since in list(self.idle.items()):
                    if now - since >= SHUTDOWN_IDLE_SECONDS:
                        writer.close()
                loop.run_until_complete(asyncio.sleep(0.02))
            loop.close()

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self.PIPE[0], 4096)

    async def _watch(self) -> None:
        while self.alive:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                return
            await asyncio.sleep(0.5)

    # -- one connection ------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            if self.open_connections > self.max_connections:
                await self._refuse(writer, 503, "too many open connections; retry shortly")
                return
            first = True
            while first or self.alive:
                idle = self.header_timeout if first else self.keepalive
                if not first:
                    self.idle[writer] = time.monotonic()
                first = False
                try:
                    keep = await self._one_request(reader, writer, idle)
                except _Refuse as refusal:
                    await self._refuse(writer, refusal.status, refusal.message)
                    if refusal.discard:  # so the client can read the answer, not a reset
                        await self._discard(reader, refusal.discard)
                    return
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            return
        finally:
            self.idle.pop(writer, None)
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float
    ) -> bool:
        try:
            start = await asyncio.wait_for(reader.read(1), idle)
        except asyncio.TimeoutError:
            if idle == self.header_timeout:
                raise _Refuse(408, "no request arrived in time") from None
            return False  # an idle keep-alive connection: close it quietly
        self.idle.pop(writer, None)
        if not start:
            return False
        try:
            rest = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.header_timeout)
        except asyncio.TimeoutError:
            raise _Refuse(
                408, f"request headers did not arrive within {self.header_timeout:g} s"
            ) from None
        except asyncio.LimitOverrunError:
            raise _Refuse(431, f"request headers exceed {MAX_HEADER_BYTES} bytes") from None
        except asyncio.IncompleteReadError:
            return False
        method, target, version, headers = _parse_head(start + rest)
        body = await self._read_body(reader, writer, headers, version)
        keep = _keep_alive(version, headers) and self.alive
        environ = self._environ(method, target, version, headers, body, writer)
        self.busy += 1
        try:
            status, response_headers, chunks, close = self._call_app(environ)
            head = [f"HTTP/1.1 {status}"]
            names = {name.lower() for name, _ in response_headers}
            head += [f"{name}: {value}" for name, value in response_headers]
            payload = b"".join(chunks)
            if "content-length" not in names:
                head.append(f"Content-Length: {len(payload)}")
            head.append("Connection: keep-alive" if keep else "Connection: close")
            data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
            writer.write(data + (payload if method != "HEAD" else b""))
            try:
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_SECONDS)
            finally:
                if close is not None:
                    close()  # after the answer is sent (the shadow variant runs here)
            if self.cfg.accesslog:
                status_code = status.split(" ", 1)[0]
                print(f'"{method} {target} {version}" {status_code} {len(payload)}', flush=True)
        finally:
            self.busy -= 1
        return keep

    async def _read_body(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
        version: str,
    ) -> bytes:
        length_header = headers.get("content-length")
        encoding = headers.get("transfer-encoding", "").strip().lower()
        if length_header is not None and encoding:
            raise _Refuse(400, "send either Content-Length or Transfer-Encoding, not both")
        if encoding and encoding != "chunked":
            raise _Refuse(501, f"Transfer-Encoding {encoding!r} is not supported; use chunked")
        if length_header is not None:
            text = length_header.strip()
            if not text.isdigit() or len(text) > 18:
                raise _Refuse(400, f"Content-Length {length_header[:40]!r} is not a byte count")
            length = int(text)
            if length > self.max_body:
                raise _Refuse(
                    413,
                    f"payload of {length} bytes exceeds the {self.max_body} byte limit",
                    discard=min(length, 4 * self.max_body),
                )
        elif not encoding:
            return b""
        if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        deadline = time.monotonic() + self.body_timeout

        async def within(awaitable: Any) -> Any:
            left = deadline - time.monotonic()
            try:
                return await asyncio.wait_for(awaitable, max(left, 0.001))
            except asyncio.TimeoutError:
                raise _Refuse(
                    408,
                    f"the request body did not arrive within {self.body_timeout:g} s "
                    "(it announced more bytes than it sent)",
                ) from None

        if length_header is not None:
            return bytes(await within(reader.readexactly(length)))
        parts: list[bytes] = []
        size = 0
        while True:
            line = await within(reader.readuntil(b"\r\n"))
            size_text = line.split(b";", 1)[0].strip()
            try:
                chunk = int(size_text, 16)
            except ValueError:
                raise _Refuse(400, "malformed chunk size in a chunked body") from None
            if chunk == 0:
                while (await within(reader.readuntil(b"\r\n"))) != b"\r\n":
                    pass  # trailers are read and ignored
                return b"".join(parts)
            size += chunk
            if size > self.max_body:
                raise _Refuse(413, f"chunked payload exceeds the {self.max_body} byte limit")
            parts.append(bytes(await within(reader.readexactly(chunk))))
            if await within(reader.readexactly(2)) != b"\r\n":
                raise _Refuse(400, "a chunk of the chunked body is not followed by CRLF")

    def _environ(
        self,
        method: str,
        target: str,
        version: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> dict[str, Any]:
        path, _, query = target.partition("?")
        peer = writer.get_extra_info("peername") or ("", 0)
        local = writer.get_extra_info("sockname") or ("", 0)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(local[0]),
            "SERVER_PORT": str(local[1]),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": str(peer[0]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                environ[f"HTTP_{key}"] = value
        return environ

    def _call_app(
        self, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], list[bytes], Callable[[], None] | None]:
        answer: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        try:
            result = self.wsgi(environ, start_response)
            chunks = [bytes(chunk) for chunk in result]
        except Exception as err:  # the app answers its own errors; this is a last resort
            self.log.exception("request failed")
            message = f"internal error: {type(err).__name__}\n".encode()
            return "500 Internal Server Error", [("Content-Type", "text/plain")], [message], None
        return answer["status"], answer["headers"], chunks, getattr(result, "close", None)

    async def _discard(self, reader: asyncio.StreamReader, count: int) -> None:
        deadline = time.monotonic() + self.body_timeout
        with contextlib.suppress(Exception):
            while count > 0 and time.monotonic() < deadline:
                left = deadline - time.monotonic()
                data = await asyncio.wait_for(reader.read(min(count, 1 << 16)), left)
                if not data:
                    return
                count -= len(data)

    async def _refuse(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        body = (message + "\n").encode()
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(Exception):
            writer.write(head.encode() + body)
            await asyncio.wait_for(writer.drain(), 2.0)


def _parse_head(raw: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise _Refuse(400, "request head is not text") from None
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise _Refuse(400, f"malformed request line {lines[0][:60]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1") or not target.startswith("/"):
        raise _Refuse(400, f"malformed request line {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[:1] in (" ", "\t"):
            raise _Refuse(400, f"malformed header line {line[:60]!r}")
        key = name.lower()
        if key in headers and key in ("content-length", "transfer-encoding", "host"):
            raise _Refuse(400, f"header {name} is sent twice")
        headers[key] = value.strip() if key not in headers else f"{headers[key]}, {value.strip()}"
    return method.upper(), target, version, headers


def _keep_alive(version: str, headers: dict[str, str]) -> bool:
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection
