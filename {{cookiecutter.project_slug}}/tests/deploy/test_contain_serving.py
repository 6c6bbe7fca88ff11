"""Containment, serving: slow or lying clients get 408/4xx and never take the endpoint down.

Everything runs against a real gunicorn endpoint on loopback, with short read deadlines
(2 s) so the slow-client cases finish quickly.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import data

from sagepipe.serving import endpoints
from sagepipe.serving.spec import EndpointSpec

from .conftest import start_server, variant_for
from .helpers import post

GOOD = b"67.0,72,60.51,4358.96,1,one-year,credit-card,fiber"
DEADLINE = 2.0


@pytest.fixture(scope="module")
def slow_server(
    model_tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[endpoints.EndpointState]:
    """An endpoint with 2-worker gunicorn and 2 s header/body deadlines."""
    workspace = tmp_path_factory.mktemp("slow")
    spec = EndpointSpec("slow", [variant_for(model_tarball, workspace)], max_payload_mb=1)
    patch = pytest.MonkeyPatch()
    patch.setenv("SAGEPIPE_HEADER_TIMEOUT", str(DEADLINE))
    patch.setenv("SAGEPIPE_BODY_TIMEOUT", str(DEADLINE))
    try:
        state = start_server(workspace, spec, workers=2)
    finally:
        patch.undo()
    yield state
    endpoints.stop(workspace, state.name)


def _raw(state: endpoints.EndpointState, data: bytes, wait: float = 10.0) -> bytes:
    """Send raw bytes, return everything the server answers before it closes."""
    with socket.create_connection((state.host, state.port), timeout=wait) as conn:
        conn.sendall(data)
        chunks = []
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def _request(body: bytes, extra: str = "", content_type: str = "text/csv") -> bytes:
    return (
        f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
    ).encode() + body


# -- slow and lying clients --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("half a request line", b"POST /invoc"),
        ("headers never finished", b"POST /invocations HTTP/1.1\r\nHost: x\r\n"),
        ("connects and says nothing", b""),
        (
            "announces more body than it sends",
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 5000\r\n\r\n" + GOOD,
        ),
        (
            "chunked body that stops",
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n10\r\n0123",
        ),
    ],
)
def test_a_client_that_stops_sending_gets_408_within_the_deadline(
    slow_server: endpoints.EndpointState, kind: str, data: bytes
) -> None:
    started = time.monotonic()
    answer = _raw(slow_server, data)
    elapsed = time.monotonic() - started
    assert _status(answer) == 408, (kind, answer[:200])
    assert elapsed < DEADLINE + 3, kind


@pytest.mark.parametrize(
    ("kind", "data", "status"),
    [
        (
            "both Content-Length and chunked",
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "Content-Length not a number",
            _request(b"", "").replace(b"Length: 0", b"Length: 1e3"),
            400,
        ),
        ("negative Content-Length", _request(b"").replace(b"Length: 0", b"Length: -1"), 400),
        (
            "Content-Length of a petabyte",
            _request(b"").replace(b"Length: 0", b"Length: 10**15"),
            400,
        ),
        (
            "Content-Length over the limit",
            _request(b"").replace(b"Length: 0", b"Length: 999999999"),
            413,
        ),
        ("folded header line", b"GET /ping HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        ("garbage request line", b"\x16\x03\x01\x02\x00 hello\r\n\r\n", 400),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
        (
            "unknown transfer coding",
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            "bad chunk size",
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        ("headers over 64 KiB", b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    ],
)
def test_lying_requests_get_4xx_not_a_hang(
    slow_server: endpoints.EndpointState, kind: str, data: bytes, status: int
) -> None:
    answer = _raw(slow_server, data)
    assert _status(answer) == status, (kind, answer[:200])


def test_chunked_bodies_keep_alive_and_expect_continue_work(
    slow_server: endpoints.EndpointState,
) -> None:
    chunked = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(GOOD):x}\r\n".encode()
        + GOOD
        + b"\r\n0\r\n\r\n"
    )
    assert _status(_raw(slow_server, chunked)) == 200
    with socket.create_connection((slow_server.host, slow_server.port), timeout=10) as conn:
        for _ in range(3):  # three requests on one kept-alive connection
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
    expect = _request(GOOD, "Expect: 100-continue\r\n")
    answer = _raw(slow_server, expect)
    assert answer.startswith(b"HTTP/1.1 100 Continue") and b"HTTP/1.1 200" in answer


def test_pipelined_requests_on_one_connection_are_answered_in_order(
    slow_server: endpoints.EndpointState,
) -> None:
    keep = _request(GOOD, "Accept: text/csv\r\n").replace(b"Connection: close\r\n", b"")
    bad = _request(b"not,enough", "Accept: text/csv\r\n").replace(b"Connection: close\r\n", b"")
    last = b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((slow_server.host, slow_server.port), timeout=10) as conn:
        conn.sendall(keep + bad + keep + last)  # four requests in one write
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    statuses = [int(part.split(b" ", 2)[0]) for part in answer.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [200, 400, 200, 200], answer[:400]
    assert answer.count(b"Connection: keep-alive") == 3 and answer.endswith(b"\r\n\r\n")


@pytest.fixture(scope="module")
def bounded_server(
    model_tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[endpoints.EndpointState]:
    """A one-worker endpoint that holds one connection at a time (a second gets 503)."""
    workspace = tmp_path_factory.mktemp("bounded")
    spec = EndpointSpec("bounded", [variant_for(model_tarball, workspace)], max_payload_mb=1)
    patch = pytest.MonkeyPatch()
    patch.setenv("SAGEPIPE_MAX_CONNECTIONS", "1")
    try:
        state = start_server(workspace, spec, workers=1)
    finally:
        patch.undo()
    yield state
    endpoints.stop(workspace, state.name)


def _read_to_close(conn: socket.socket) -> tuple[bytes, str]:
    """Everything the server sends, and how it ended: "EOF" (a clean close) or "reset"."""
    answer = b""
    try:
        while chunk := conn.recv(65536):
            answer += chunk
    except ConnectionResetError:
        return answer, "reset"
    return answer, "EOF"


def test_a_refused_connection_ends_with_a_clean_close_not_a_reset(
    bounded_server: endpoints.EndpointState,
) -> None:
    """RFC 9112 section 9.6: a refusal is followed by a half-close and a brief drain.

    Closing at once with the client's request unread makes the kernel answer with a reset
    (measured before the lingering close: 9 of 10 such 503s ended in ECONNRESET, and
    2 of 10 http.client uploads lost the 503 to a BrokenPipeError).
    """
    address = (bounded_server.host, bounded_server.port)
    body = b"1," * 100_000
    upload = (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    endings = Counter()
    for _ in range(5):
        time.sleep(0.1)  # the server sees the last round's close before the next connects
        with socket.create_connection(address, timeout=10) as hold:
            hold.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert hold.recv(4096).startswith(b"HTTP/1.1 200")  # holds the one slot
            with socket.create_connection(address, timeout=10) as refused:
                refused.sendall(upload)  # all of it, unread by the server
                time.sleep(0.05)
                answer, ending = _read_to_close(refused)
        assert _status(answer) == 503, answer[:200]
        endings[ending] += 1
    time.sleep(0.1)
    with socket.create_connection(address, timeout=10) as conn:  # 400, its body still coming
        conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n")
        time.sleep(0.05)
        for start in range(0, len(body), 8192):
            conn.sendall(body[start : start + 8192])
        answer, ending = _read_to_close(conn)
    assert _status(answer) == 400, answer[:200]
    endings[ending] += 1
    assert endings == {"EOF": 6}, endings


SLOW_CLIENTS = 4
SLOW_SECONDS = 20.0


@pytest.mark.slow  # about 20 s
def test_other_clients_get_every_answer_while_four_clients_trickle_bytes(
    slow_server: endpoints.EndpointState,
) -> None:
    stop = time.monotonic() + SLOW_SECONDS
    slow_answers: Counter[int] = Counter()
    lock = threading.Lock()

    def trickle(index: int) -> None:
        request = _request(GOOD * 4) if index % 2 else b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
        while time.monotonic() < stop:
            try:
                with socket.create_connection((slow_server.host, slow_server.port), 10) as conn:
                    for byte in request[:-10]:  # never the whole request
                        conn.sendall(bytes([byte]))
                        time.sleep(0.2)
                        if time.monotonic() > stop:
                            return
                    status = _status(conn.recv(4096))
            except OSError:
                status = -1  # closed on us after its 408: expected
            with lock:
                slow_answers[status] += 1

    threads = [threading.Thread(target=trickle, args=(i,)) for i in range(SLOW_CLIENTS)]
    for thread in threads:
        thread.start()
    normal: Counter[int] = Counter()
    slowest = 0.0
    try:
        while time.monotonic() < stop:
            for method, path, body in (("GET", "/ping", b""), ("POST", "/invocations", GOOD)):
                started = time.perf_counter()
                status, _, _ = post(slow_server.url, body, "text/csv", method=method, path=path)
                slowest = max(slowest, time.perf_counter() - started)
                normal[status] += 1
            time.sleep(0.05)
    finally:
        for thread in threads:
            thread.join(timeout=30)
    assert set(normal) == {200}, normal
    assert sum(normal.values()) >= 40, normal
    assert slowest < 1.0, f"a normal request waited {slowest:.2f} s behind slow clients"
    assert slow_answers[408] + slow_answers[-1] >= SLOW_CLIENTS, slow_answers


# -- client errors are 4xx, never 500, never a prediction for nothing ------------------------------
def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npy_announcing(shape: tuple[int, ...]) -> bytes:
    header = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64


JSON = "application/json"
NPY = "application/x-npy"
ROW = [67.0, 72, 60.51, 4358.96, 1, "one-year", "credit-card", "fiber"]
HOSTILE: list[tuple[str, bytes, str]] = [
    ("huge integer in json", json.dumps([[10**400, *ROW[1:]]]).encode(), JSON),
    (
        "integer with 5000 digits",
        b"[[" + b"9" * 5000 + b"," + json.dumps(ROW[1:])[1:].encode() + b"]",
        JSON,
    ),
    ("1e999 in csv", b"1e999" + GOOD[4:], "text/csv"),
    ("deeply nested json", b"[" * 100000 + b"]" * 100000, JSON),
    ("nested object json", b'{"a":' * 50000 + b"1" + b"}" * 50000, JSON),
    ("csv field of 200 KB", b'"' + b"9" * 200000 + b'"' + GOOD[4:], "text/csv"),
    ("npy header announcing terabytes", _npy_announcing((10**12, 8)), NPY),
    ("npy header announcing more rows", _npy_announcing((1000, 8)), NPY),
    ("npy 3-D array", _npy(np.zeros((2, 2, 8))), NPY),
    ("npy structured array", _npy(np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])), NPY),
    ("npy complex array", _npy(np.zeros((1, 8), dtype=complex)), NPY),
    ("npy datetime array", _npy(np.zeros((1, 8), dtype="datetime64[s]")), NPY),
    ("npy all-NaN row", _npy(np.full((1, 8), np.nan)), NPY),
    ("text in a numeric feature (csv)", b"abc" + GOOD[4:], "text/csv"),
    ("text in a numeric feature (json)", json.dumps([["x", *ROW[1:]]]).encode(), JSON),
    ("boolean in a numeric feature", json.dumps([[True, *ROW[1:]]]).encode(), JSON),
    ("list in a numeric feature", json.dumps([[[1, 2], *ROW[1:]]]).encode(), JSON),
    ("object as a category", json.dumps([[*ROW[:5], {"a": 1}, *ROW[6:]]]).encode(), JSON),
    ("NUL byte in csv", b"67.0,72,60.51,4358.96,1,one\0year,credit-card,fiber", "text/csv"),
    ("NUL byte in json text", json.dumps([[*ROW[:5], "one\u0000year", *ROW[6:]]]).encode(), JSON),
    ("all-missing csv row", b",,,,,,,", "text/csv"),
    ("all-null json row", json.dumps([[None] * 8]).encode(), JSON),
    ("all-missing json record", json.dumps([dict.fromkeys(data.FEATURES)]).encode(), JSON),
    ("instances is a number", b'{"instances": 5}', JSON),
    ("instances is a string", b'{"instances": "rows"}', JSON),
    ("3-D json rows", json.dumps({"instances": [[ROW]]}).encode(), JSON),
    ("rows of mixed kinds", json.dumps([ROW, {"a": 1}]).encode(), JSON),
    ("NaN literal everywhere", b"[[NaN,NaN,NaN,NaN,NaN,NaN,NaN,NaN]]", JSON),
    ("Infinity literal", b'[[Infinity,72,60.51,4358.96,1,"a","b","c"]]', JSON),
]


@pytest.mark.parametrize(("kind", "body", "content_type"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_payloads_get_a_4xx_with_one_line_and_the_server_keeps_serving(
    slow_server: endpoints.EndpointState, kind: str, body: bytes, content_type: str
) -> None:
    status, message, _ = post(slow_server.url, body, content_type, "application/json")
    assert 400 <= status < 500, (kind, status, message[:300])
    assert message.count(b"\n") <= 1 and len(message) < 600, (kind, message[:300])
    ping, _, _ = post(slow_server.url, b"", None, method="GET", path="/ping")
    ok, _, _ = post(slow_server.url, GOOD)
    assert (ping, ok) == (200, 200), kind


def test_there_are_at_least_twenty_five_hostile_payload_kinds() -> None:
    assert len({h[0] for h in HOSTILE}) >= 25
