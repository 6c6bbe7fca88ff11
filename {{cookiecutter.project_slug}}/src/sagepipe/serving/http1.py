"""HTTP/1.x on the wire: request heads, chunked bodies and short refusals, as plain functions.

The serving worker's connections (:mod:`sagepipe.serving.connection`) call these on the
bytes they buffered; nothing here does I/O, so each rule is one place to read and test.
The parser is strict where leniency lets a request be read two ways (request smuggling):
both ``Content-Length`` and ``Transfer-Encoding``, a repeated ``Content-Length``, folded
header lines, chunk sizes that are not plain hex.
"""

from __future__ import annotations

MAX_HEADER_BYTES = 64 * 1024
MAX_CHUNK_LINE = 1024  # a chunk-size line with extensions; longer is not a real client
REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_HEX = frozenset(b"0123456789abcdefABCDEF")


class Refuse(Exception):
    """Answer ``status`` with a one-line message and close the connection.

    ``discard`` body bytes are read and dropped after answering, so a client still
    sending a refused body reads the answer instead of a reset.
    """

    def __init__(self, status: int, message: str, discard: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.discard = discard


def parse_head(raw: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Method, target, version and lower-cased headers of a head ending in a blank line."""
    text = raw.decode("latin-1")  # every byte decodes; bad bytes fail the checks below
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise Refuse(400, f"malformed request line {lines[0][:60]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1") or not target.startswith("/"):
        raise Refuse(400, f"malformed request line {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[:1] in (" ", "\t"):
            raise Refuse(400, f"malformed header line {line[:60]!r}")
        key = name.lower()
        if key in headers:
            if key in ("content-length", "transfer-encoding", "host"):
                raise Refuse(400, f"header {name} is sent twice")
            headers[key] = f"{headers[key]}, {value.strip()}"
        else:
            headers[key] = value.strip()
    return method.upper(), target, version, headers


def keep_alive(version: str, headers: dict[str, str]) -> bool:
    """Whether the client keeps the connection open after this request."""
    connection = headers.get("connection", "").lower()
    if version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def body_length(headers: dict[str, str], max_body: int) -> int | None:
    """Bytes of body a ``Content-Length`` announces (0 without one), None for chunked.

    Raises :class:`Refuse` for ambiguous framing, codings other than chunked, lengths that
    are not byte counts and bodies over ``max_body`` (413, reading the body away first).
    """
    length_header = headers.get("content-length")
    encoding = headers.get("transfer-encoding", "").strip().lower()
    if length_header is not None and encoding:
        raise Refuse(400, "send either Content-Length or Transfer-Encoding, not both")
    if encoding:
        if encoding != "chunked":
            raise Refuse(501, f"Transfer-Encoding {encoding!r} is not supported; use chunked")
        return None
    if length_header is None:
        return 0
    text = length_header.strip()
    if not text.isdigit() or len(text) > 18:
        raise Refuse(400, f"Content-Length {length_header[:40]!r} is not a byte count")
    length = int(text)
    check_size(length, max_body)
    return length


def check_size(length: int, max_body: int) -> None:
    """Refuse a body of ``length`` bytes over ``max_body`` (413, reading the body away first)."""
    if length > max_body:
        raise Refuse(
            413,
            f"payload of {length} bytes exceeds the {max_body} byte limit",
            discard=min(length, 4 * max_body),
        )


class ChunkedBody:
    """A chunked body decoded piece by piece from a connection's buffer, never re-read."""

    __slots__ = ("in_trailers", "max_body", "parts", "size")

    def __init__(self, max_body: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.max_body = max_body
        self.in_trailers = False

    def feed(self, buffer: bytearray) -> bytes | None:
        """Consume whole chunks from ``buffer``; the body once the last chunk and trailers
        are in, else None (wait for more bytes)."""
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                limit = MAX_HEADER_BYTES if self.in_trailers else MAX_CHUNK_LINE
                if len(buffer) > limit:
                    raise Refuse(400, "malformed chunked body: a line without its end")
                return None
            if self.in_trailers:  # read and ignored, up to the blank line ending them
                del buffer[: end + 2]
                if end == 0:
                    return b"".join(self.parts)
                continue
            size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not _HEX.issuperset(size_text):
                raise Refuse(400, "malformed chunk size in a chunked body")
            chunk = int(size_text, 16)
            if chunk == 0:
                del buffer[: end + 2]
                self.in_trailers = True
                continue
            if self.size + chunk > self.max_body:
                raise Refuse(413, f"chunked payload exceeds the {self.max_body} byte limit")
            start = end + 2
            if len(buffer) < start + chunk + 2:
                return None
            if buffer[start + chunk : start + chunk + 2] != b"\r\n":
                raise Refuse(400, "a chunk of the chunked body is not followed by CRLF")
            self.parts.append(bytes(buffer[start : start + chunk]))
            self.size += chunk
            del buffer[: start + chunk + 2]


def refusal(status: int, message: str) -> bytes:
    """A whole ``Connection: close`` answer with a one-line text body."""
    body = (message + "\n").encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
