"""A gunicorn worker that buffers whole requests before the app sees them.

gunicorn's sync worker reads a request with blocking calls, so a client that sends its
headers slowly, or announces more body than it sends, holds the worker until the worker
timeout kills it (about two minutes), and two such clients take a two-worker endpoint
down. This worker reads every connection on an event loop instead
(:class:`sagepipe.serving.connection.HttpConnection`, one ``asyncio.Protocol`` each), with
a deadline for the headers and one for the body (``408 Request Timeout`` when one passes)
and a bound on open connections (``503`` beyond it). Only a complete request reaches the
WSGI app, which then runs in the worker's main thread exactly as under the sync worker,
so the per-request SIGALRM timeout (504) still applies. It is the buffering front end
that SageMaker's containers get from nginx, without a second process or hop.

It speaks HTTP/1.0 and 1.1 (keep-alive, pipelining, ``Content-Length`` or chunked bodies,
``Expect: 100-continue``); requests with both ``Content-Length`` and
``Transfer-Encoding``, folded headers or malformed lines are refused with 400
(:mod:`sagepipe.serving.http1`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
from typing import Any

from gunicorn.workers.base import Worker

from .connection import HttpConnection, Limits

HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
KEEPALIVE_SECONDS = 60.0
# On a graceful stop, idle keep-alive connections are still answered (with
# `Connection: close`) for this long, then closed with a lingering close.
DRAIN_GRACE_SECONDS = 1.0
# Connections taken per wake-up. One, like nginx's `multi_accept off`: every idle worker
# wakes for a waiting connection, so taking one and going back to the loop leaves the next
# to a sibling. Taking all (64) let the first worker awake take every connection of a
# client's pool: wrk's 8 keep-alive connections all went to one of two workers (one core's
# throughput) in 4 of 6 runs, against 1 of 6 with one per wake-up
# (benchmarks/worker_ab.py, 3 rounds: 1.27x CSV and 2.07x JSON requests/s, 0.83x and
# 0.82x CPU per request, against 64).
ACCEPT_BATCH = 1
WRITE_TIMEOUT_SECONDS = 30.0
MAX_CONNECTIONS = 256  # per worker; slow clients beyond it get 503 at once
DEFAULT_MAX_BODY = 6 * 1024 * 1024
# How often deadlines are checked: a 408 comes at most this late.
SWEEP_SECONDS = 0.25


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
        self.connections: set[HttpConnection] = set()
        # Whether each answer gets an access-log line (``--access-log``): read once, as
        # every request asks.
        self.access_log = bool(self.cfg.accesslog)
        super().init_process()

    def log_exception(self, message: str) -> None:
        """Log ``message`` with the current exception's traceback."""
        self.log.exception(message)

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until the master asks the worker to stop (SIGTERM) or disappears."""
        limits = Limits(
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            keepalive=self.keepalive,
            write_timeout=WRITE_TIMEOUT_SECONDS,
            max_body=int(getattr(self.wsgi, "max_payload", DEFAULT_MAX_BODY)),
        )
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.add_reader(self.PIPE[0], self._drain_wakeups)  # signals wake the loop at once

        def connection() -> HttpConnection:
            return HttpConnection(self, self.wsgi, limits, self.max_connections)

        # Accepting is ours, not asyncio.Server's: Python 3.11's Server drops (without a
        # word) a connection accepted in the loop tick in which it is closed; the socket
        # leaks and is reset when the worker exits. A redeploy under load hit exactly that.
        self.handoffs: set[asyncio.Task[Any]] = set()
        listeners = [listener.sock for listener in self.sockets]
        for sock in listeners:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._accept, loop, sock, connection)
        try:
            loop.run_until_complete(self._watch())
        finally:
            self._drain(loop, listeners)
            loop.close()

    def _accept(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, factory: Any) -> None:
        """Take the connections waiting on ``sock`` and hand each to a new HttpConnection."""
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as err:  # out of descriptors: the others keep the queue moving
                self.log.warning("accept failed: %s", err)
                return
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(factory, conn))
            self.handoffs.add(task)
            task.add_done_callback(functools.partial(self._handed_off, conn))

    def _handed_off(self, conn: socket.socket, task: asyncio.Task[Any]) -> None:
        self.handoffs.discard(task)
        if task.cancelled() or task.exception() is not None:
            conn.close()  # no transport owns it: never leave it to leak

    def _drain(self, loop: asyncio.AbstractEventLoop, listeners: list[socket.socket]) -> None:
        """Graceful stop: no new connections, every accepted request answered.

        Requests in flight and those arriving within the drain grace are answered with
        ``Connection: close``; keep-alive connections still idle after the grace get a
        lingering close (see :meth:`HttpConnection.linger`), so a request racing the close
        reads a clean end of stream, never a reset. Connections still in the kernel's
        queue stay there for the other workers (the listening socket is shared).
        """
        for sock in listeners:
            loop.remove_reader(sock.fileno())
        start = time.monotonic()
        deadline = start + float(self.cfg.graceful_timeout)
        while (self.connections or self.handoffs) and time.monotonic() < deadline:
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.idle_since() is not None and now - start >= DRAIN_GRACE_SECONDS:
                    conn.linger(now)
                else:
                    conn.expire(now)
            loop.run_until_complete(asyncio.sleep(0.02))

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self.PIPE[0], 4096)

    async def _watch(self) -> None:
        """Tell the master we live, answer 408 to connections past their deadline."""
        notified = 0.0
        while self.alive:
            now = time.monotonic()
            if now - notified >= 0.5:
                self.notify()
                notified = now
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    return
            for conn in list(self.connections):
                conn.expire(now)
            await asyncio.sleep(SWEEP_SECONDS)
