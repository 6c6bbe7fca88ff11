"""The framing between a transform job and a model server child, used by both ends.

Stdlib only, Python 3.8 syntax: the children (``xgboost_serve.py``, ``sklearn_serve.py``)
import it as a sibling module in an image's interpreter, and the job imports it as
``sagepipe.local.algorithms.child_protocol``. A message is one JSON header line with a
``length`` and then ``length`` body bytes. The child's first message is
``{"status": "ready"}`` or ``{"status": "failed", "error": ...}``; then each request
(``content_type``, ``accept``) gets one answer (``status`` 200 with ``content_type``, or an
HTTP error status with ``error``).
"""

import json
import os
import sys


def send(stream, header, body=b""):
    """Write one message (``header`` gets the body's ``length``) and flush it."""
    fields = dict(header)
    fields["length"] = len(body)
    stream.write(json.dumps(fields).encode() + b"\n" + body)
    stream.flush()


def receive(stream):
    """Read one message: ``(header, body)``, or ``(None, b"")`` at end of stream."""
    line = stream.readline()
    if not line:
        return None, b""
    header = json.loads(line)
    return header, stream.read(int(header.get("length") or 0))


class ModelError(Exception):
    """An error whose message says it all: reported without its exception type."""


class RequestError(ModelError):
    """A request the model answers with HTTP ``status`` (415, 406, ...) instead of 500."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def one_line(exc):
    """``Type: message`` on one line (a model's error must fit the step's failure line)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ModelError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def serve(load, predict):
    """The child's main loop: ``load()`` once, then ``predict(state, body, type, accept)``.

    ``predict`` returns ``(body bytes, content type)``; a :class:`RequestError` answers
    with its status, any other exception with 500. Returns the exit code.
    """
    # The framing owns the real stdout; anything the model code prints (Python or C level)
    # goes to stderr, the job's log, instead of corrupting the answers.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    try:
        state = load()
    except Exception as exc:  # reported by the parent as the step's failure
        send(out, {"status": "failed", "error": one_line(exc)})
        return 1
    send(out, {"status": "ready"})
    while True:
        header, body = receive(stdin)
        if header is None:
            return 0
        try:
            data, kind = predict(state, body, header["content_type"], header.get("accept"))
            send(out, {"status": 200, "content_type": kind}, data)
        except Exception as exc:  # the parent reports it with the file and record
            status = exc.status if isinstance(exc, RequestError) else 500
            send(out, {"status": status, "error": one_line(exc)})
