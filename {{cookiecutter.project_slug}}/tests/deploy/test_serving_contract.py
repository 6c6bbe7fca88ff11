"""The SageMaker inference contract over real HTTP against a gunicorn server on loopback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from sagepipe.serving import endpoints

from .conftest import json_rows, sample_rows
from .helpers import post

pytestmark = pytest.mark.usefixtures("server")


def test_ping_answers_200_with_an_empty_body(server: endpoints.EndpointState) -> None:
    status, body, headers = post(server.url, b"", None, method="GET", path="/ping")
    assert (status, body) == (200, b"")
    assert headers["X-Sagepipe-Model"] == "test/1"


def test_csv_rows_get_one_csv_prediction_each(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    rows = sample_rows(processed["test"], 5)
    status, body, headers = post(server.url, "\n".join(rows).encode(), "text/csv", "text/csv")
    assert status == 200
    assert headers["Content-Type"] == "text/csv"
    lines = body.decode().strip().splitlines()
    assert len(lines) == 5
    label, probability = lines[0].split(",")
    assert label in ("0", "1") and 0.0 <= float(probability) <= 1.0


def test_json_records_get_json_predictions(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    rows = json_rows(processed["test"], 3)
    status, body, headers = post(
        server.url, json.dumps({"instances": rows}).encode(), "application/json", "application/json"
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert len(json.loads(body)["predictions"]) == 3


def test_csv_and_json_requests_give_the_same_probabilities(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    csv_rows = sample_rows(processed["test"], 4)
    _, csv_body, _ = post(server.url, "\n".join(csv_rows).encode(), "text/csv", "text/csv")
    _, json_body, _ = post(
        server.url,
        json.dumps(json_rows(processed["test"], 4)).encode(),
        "application/json",
        "application/json",
    )
    from_csv = [float(line.split(",")[1]) for line in csv_body.decode().split()]
    from_json = [p["probability"] for p in json.loads(json_body)["predictions"]]
    assert from_csv == pytest.approx(from_json, abs=1e-6)


def test_npy_request_and_response(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    rows = sample_rows(processed["test"], 2)
    numeric = [[float(v) if v else np.nan for v in line.split(",")[:5]] for line in rows]
    status, body, _ = post(
        server.url, _npy(np.array(numeric)), "application/x-npy", "application/json"
    )
    # The model also needs the three categorical columns, so a numeric-only array is a client error.
    assert status == 400
    assert b"8 values" in body
    _, csv_answer, _ = post(
        server.url, sample_rows(processed["test"], 1)[0].encode(), "text/csv", "application/x-npy"
    )
    assert np.load(io.BytesIO(csv_answer), allow_pickle=False).shape == (1,)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("application/x-npy", "application/x-npy"),
        ("text/csv;q=0.2, application/json;q=0.9", "application/json"),
        ("image/png, text/csv;q=0.5", "text/csv"),
        ("*/*, text/csv;q=0", "application/json"),
        ("text/*, text/csv;q=0, application/json;q=0.1", "application/json"),
    ],
)
def test_accept_negotiation_picks_the_best_supported_type(
    server: endpoints.EndpointState, processed: dict[str, Path], accept: str | None, expected: str
) -> None:
    status, _, headers = post(
        server.url, sample_rows(processed["test"], 1)[0].encode(), "text/csv", accept
    )
    assert status == 200
    assert headers["Content-Type"] == expected


def test_a_type_refused_with_q0_is_never_chosen_through_a_wildcard() -> None:
    from sagepipe.serving import content_types

    # The endpoint's default answer type is CSV here, so only the q=0 rule keeps it out.
    assert content_types.negotiate("*/*, text/csv;q=0", "text/csv", "text/csv") == (
        "application/json"
    )
    assert content_types.negotiate("*/*", "text/csv", "text/csv") == "text/csv"


def test_content_type_parameters_are_ignored(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    status, _, _ = post(
        server.url, sample_rows(processed["test"], 1)[0].encode(), "text/csv; charset=utf-8"
    )
    assert status == 200


def test_every_response_names_the_invoked_variant(
    server: endpoints.EndpointState, processed: dict[str, Path]
) -> None:
    _, _, headers = post(server.url, sample_rows(processed["test"], 1)[0].encode())
    assert headers["X-Amzn-Invoked-Production-Variant"] == "AllTraffic"


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


GOOD = b"67.0,72,60.51,4358.96,1,one-year,credit-card,fiber"
MALFORMED: list[tuple[str, dict, int]] = [
    ("empty body", {"body": b""}, 400),
    ("too few csv fields", {"body": b"1,2,3"}, 400),
    ("too many csv fields", {"body": GOOD + b",1,2"}, 400),
    ("ragged csv rows", {"body": GOOD + b"\n" + GOOD + b",9,9"}, 400),
    ("non-utf8 csv", {"body": b"\xff\xfe\x00garbage"}, 400),
    ("csv with NUL bytes", {"body": b"1,\x00,3"}, 400),
    ("unterminated csv quote", {"body": b'"67.0,72,60.51,4358.96,1,a,b,c'}, 400),
    ("invalid json", {"body": b"{not json", "content_type": "application/json"}, 400),
    ("json string", {"body": b'"hello"', "content_type": "application/json"}, 400),
    ("json number", {"body": b"42", "content_type": "application/json"}, 400),
    ("json empty list", {"body": b"[]", "content_type": "application/json"}, 400),
    (
        "json object missing features",
        {"body": b'{"instances": [{"tenure_months": 3}]}', "content_type": "application/json"},
        400,
    ),
    ("json rows of wrong width", {"body": b"[[1, 2]]", "content_type": "application/json"}, 400),
    ("json null", {"body": b"null", "content_type": "application/json"}, 400),
    ("npy garbage", {"body": b"\x93NUMPY garbage", "content_type": "application/x-npy"}, 400),
    (
        "npy pickled object array",
        {
            "body": _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
            "content_type": "application/x-npy",
        },
        400,
    ),
    (
        "npz archive instead of npy",
        {"body": b"PK\x03\x04not-really", "content_type": "application/x-npy"},
        400,
    ),
    ("unsupported content type", {"body": GOOD, "content_type": "text/plain"}, 415),
    ("xml content type", {"body": b"<a/>", "content_type": "application/xml"}, 415),
    ("missing content type", {"body": GOOD, "content_type": None}, 415),
    ("unsatisfiable accept", {"body": GOOD, "accept": "image/png"}, 406),
    ("accept with q=0 only", {"body": GOOD, "accept": "text/csv;q=0"}, 406),
    ("accept with bad q", {"body": GOOD, "accept": "text/csv;q=high"}, 406),
    ("payload over the limit", {"body": GOOD + b"\n" + b"x" * (1024 * 1024 + 10)}, 413),
    ("GET on invocations", {"body": b"", "method": "GET"}, 405),
    ("PUT on invocations", {"body": GOOD, "method": "PUT"}, 405),
    ("POST on ping", {"body": b"", "path": "/ping"}, 405),
    ("unknown path", {"body": GOOD, "path": "/predict"}, 404),
    ("content type without a type", {"body": GOOD, "content_type": "; charset=utf-8"}, 415),
]


@pytest.mark.parametrize(
    ("kind", "request_args", "status"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_requests_get_4xx_and_a_one_line_message(
    server: endpoints.EndpointState, kind: str, request_args: dict, status: int
) -> None:
    args = {"content_type": "text/csv", **request_args}
    body = args.pop("body")
    got, message, _ = post(server.url, body, **args)
    assert got == status, (kind, message)
    if got not in (404, 405) or message:
        assert message.count(b"\n") <= 1 and len(message) < 400
    ping, _, _ = post(server.url, b"", None, method="GET", path="/ping")
    assert ping == 200
    ok, _, _ = post(server.url, GOOD)
    assert ok == 200, "the server must keep serving after a bad request"


def test_there_are_at_least_twenty_kinds_of_malformed_request() -> None:
    assert len({m[0] for m in MALFORMED}) >= 20
