"""Graceful stop: a keep-alive client never reads a reset while the endpoint drains.

A real endpoint on loopback and a raw keep-alive socket: the second request is sent after
the stop began. Within the drain grace it must be answered whole with
``Connection: close``; after the grace the idle connection must end with a clean end of
stream (a lingering close), never ``ECONNRESET``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagepipe.serving import endpoints
from sagepipe.serving.connection import LINGER_SECONDS
from sagepipe.serving.spec import EndpointSpec
from sagepipe.serving.worker import DRAIN_GRACE_SECONDS

from .conftest import start_server, variant_for

ROW = b"67.0,72,60.51,4358.96,1,one-year,credit-card,fiber"


def _request(state: endpoints.EndpointState) -> bytes:
    return (
        f"POST /invocations HTTP/1.1\r\nHost: {state.host}:{state.port}\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {len(ROW)}\r\n\r\n"
    ).encode() + ROW


def _read_answer(conn: socket.socket, pending: bytearray) -> tuple[str, dict[str, str], bytes]:
    """One whole response (status line, headers, body by Content-Length) from ``conn``."""
    while b"\r\n\r\n" not in pending:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed before a whole head arrived: {bytes(pending)!r}"
        pending += chunk
    end = pending.index(b"\r\n\r\n")
    lines = bytes(pending[:end]).decode("latin-1").split("\r\n")
    del pending[: end + 4]
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers["content-length"])
    while len(pending) < length:
        chunk = conn.recv(65536)
        assert chunk, f"the server closed after {len(pending)} of {length} body bytes"
        pending += chunk
    body = bytes(pending[:length])
    del pending[:length]
    return lines[0], headers, body


@pytest.fixture
def endpoint(model_tarball: Path, tmp_path: Path) -> Iterator[endpoints.EndpointState]:
    """A one-worker endpoint (so the test's connection is on the worker that drains)."""
    spec = EndpointSpec("drain", [variant_for(model_tarball, tmp_path)], max_payload_mb=1)
    state = start_server(tmp_path, spec, workers=1)
    yield state
    endpoints.stop(tmp_path, state.name)


def _begin_stop(state: endpoints.EndpointState, workspace: Path) -> threading.Thread:
    """Start ``undeploy`` in a thread; return once the master has the SIGTERM."""
    stopper = threading.Thread(target=endpoints.stop, args=(workspace, state.name))
    stopper.start()
    log = Path(state.log_path)
    deadline = time.monotonic() + 10
    while "Handling signal: term" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the master never logged the SIGTERM"
        time.sleep(0.01)
    time.sleep(0.2)  # the master forwards it to the worker: the worker is draining now
    return stopper


def test_a_request_on_an_idle_keep_alive_connection_after_the_stop_began_is_answered(
    endpoint: endpoints.EndpointState, tmp_path: Path
) -> None:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as conn:
        pending = bytearray()
        conn.sendall(_request(endpoint))
        status, headers, first = _read_answer(conn, pending)
        assert status.startswith("HTTP/1.1 200") and headers["connection"] == "keep-alive"
        stopper = _begin_stop(endpoint, tmp_path)
        conn.sendall(_request(endpoint))  # within the drain grace
        status, headers, second = _read_answer(conn, pending)
        assert status.startswith("HTTP/1.1 200"), status
        assert headers["connection"] == "close"
        assert second == first  # the same row, the whole prediction
        assert conn.recv(65536) == b""  # then an orderly end of stream, not a reset
    stopper.join(30)
    assert not stopper.is_alive()


def test_an_idle_keep_alive_connection_ends_cleanly_after_the_drain_grace(
    endpoint: endpoints.EndpointState, tmp_path: Path
) -> None:
    with socket.create_connection((endpoint.host, endpoint.port), timeout=10) as conn:
        pending = bytearray()
        conn.sendall(_request(endpoint))
        status, _, _ = _read_answer(conn, pending)
        assert status.startswith("HTTP/1.1 200")
        stopper = _begin_stop(endpoint, tmp_path)
        started = time.monotonic()
        assert conn.recv(65536) == b""  # FIN from the lingering close; a reset raises here
        waited = time.monotonic() - started
        assert DRAIN_GRACE_SECONDS - 0.3 <= waited <= DRAIN_GRACE_SECONDS + LINGER_SECONDS
        # A request racing the close is read and dropped by the lingering worker: sending
        # it must not fail, and the connection then ends without a reset.
        conn.sendall(_request(endpoint))
        time.sleep(0.2)  # a closed socket's reset to those bytes would be back by now
        conn.sendall(_request(endpoint))  # after a reset this raises BrokenPipeError
        assert conn.recv(65536) == b""
    stopper.join(30)
    assert not stopper.is_alive()
