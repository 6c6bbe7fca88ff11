"""The serving handler packed as code/inference.py, used as SageMaker's container would."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import data

ROW = {
    "age": 34,
    "tenure_months": 2,
    "monthly_charges": 95.5,
    "total_charges": 191.0,
    "support_calls": 4,
    "contract": "month-to-month",
    "payment_method": "electronic-check",
    "internet_service": "fiber",
}
LOYAL = {
    **ROW,
    "tenure_months": 70,
    "contract": "two-year",
    "payment_method": "credit-card",
    "support_calls": 0,
    "monthly_charges": 30.0,
    "total_charges": 2100.0,
    "internet_service": "dsl",
}


@pytest.fixture(scope="module")
def handler(model_dir: Path) -> ModuleType:
    """The handler file from the model directory, loaded by path like the container does."""
    spec = importlib.util.spec_from_file_location("inference", model_dir / "code" / "inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def model(handler: ModuleType, model_dir: Path) -> object:
    return handler.model_fn(str(model_dir))


def _invoke(
    handler: ModuleType, model: object, body: bytes, content_type: str, accept: str
) -> tuple[bytes, str]:
    parsed = handler.input_fn(body, content_type)
    return handler.output_fn(handler.predict_fn(parsed, model), accept)


def test_json_in_json_out_ranks_a_risky_customer_above_a_loyal_one(
    handler: ModuleType, model: object
) -> None:
    body = json.dumps({"instances": [ROW, LOYAL]}).encode()
    out, media = _invoke(handler, model, body, "application/json", "application/json")
    predictions = json.loads(out)["predictions"]
    assert media == "application/json"
    assert predictions[0]["probability"] > predictions[1]["probability"]
    assert {p["label"] for p in predictions} <= {0, 1}


def test_csv_with_header_and_missing_value_gives_one_line_per_row(
    handler: ModuleType, model: object
) -> None:
    header = ",".join(data.FEATURES)
    rows = [
        ",".join(str(ROW[name]) for name in data.FEATURES),
        ",".join("" if name == "age" else str(LOYAL[name]) for name in data.FEATURES),
    ]
    body = "\n".join([header, *rows]).encode()
    out, media = _invoke(handler, model, body, "text/csv", "text/csv")
    lines = out.decode().strip().splitlines()
    assert media == "text/csv" and len(lines) == 2
    label, probability = lines[0].split(",")
    assert label in {"0", "1"} and 0.0 <= float(probability) <= 1.0


def test_npy_round_trip_never_needs_pickle(handler: ModuleType, model: object) -> None:
    numeric = np.array(
        [[ROW[name] if name in data.NUMERIC_FEATURES else 0 for name in data.FEATURES]], dtype=float
    )
    buffer = io.BytesIO()
    np.save(buffer, numeric, allow_pickle=False)
    out, media = _invoke(
        handler, model, buffer.getvalue(), "application/x-npy", "application/x-npy"
    )
    probabilities = np.load(io.BytesIO(out), allow_pickle=False)
    assert media == "application/x-npy" and probabilities.shape == (1,)


def test_accept_negotiation_picks_the_first_supported_type(
    handler: ModuleType, model: object
) -> None:
    body = json.dumps([ROW]).encode()
    _, media = _invoke(handler, model, body, "application/json", "image/png, text/csv;q=0.9")
    assert media == "text/csv"
    _, media = _invoke(handler, model, body, "application/json", "*/*")
    assert media == "application/json"


def test_unsupported_types_and_wrong_widths_are_refused_clearly(
    handler: ModuleType, model: object
) -> None:
    with pytest.raises(ValueError, match="Content-Type 'image/png' is not supported"):
        handler.input_fn(b"x", "image/png")
    with pytest.raises(ValueError, match="Accept 'image/png' is not supported"):
        _invoke(handler, model, json.dumps([ROW]).encode(), "application/json", "image/png")
    with pytest.raises(ValueError, match="each row needs 8 values"):
        _invoke(handler, model, b"1,2,3\n", "text/csv", "text/csv")


def test_short_and_long_csv_rows_are_refused_not_padded(handler: ModuleType, model: object) -> None:
    full = ",".join(str(ROW[name]) for name in data.FEATURES)
    with pytest.raises(ValueError, match=r"rows have \[7, 8\] value\(s\)"):
        _invoke(handler, model, f"{full}\n{full.rsplit(',', 1)[0]}\n".encode(), "text/csv", "*/*")
    with pytest.raises(ValueError, match=r"rows have \[9\] value\(s\)"):
        _invoke(handler, model, f"{full},extra\n".encode(), "text/csv", "*/*")


def test_infinite_number_is_refused_with_the_feature_named(
    handler: ModuleType, model: object
) -> None:
    body = json.dumps([{**ROW, "age": "inf"}]).encode()
    with pytest.raises(ValueError, match="age='inf' is infinite"):
        _invoke(handler, model, body, "application/json", "*/*")


def test_the_fast_path_gives_exactly_the_pipelines_probabilities(
    handler: ModuleType, model: dict, processed: dict[str, Path]
) -> None:
    # Small requests use sagepipe's compiled trees, large ones predict_proba: both must
    # agree bit for bit, including missing numbers, missing and unseen categories.
    assert model["fast"] is not None
    test = data.load_csv(processed["test"] / "test.csv")[list(data.FEATURES)].astype(object)
    rows = test.where(test.notna(), None).to_numpy().tolist()
    rows[0][0] = None
    rows[1][5] = None
    rows[2][6] = "never-seen"
    assert len(rows) > handler.FAST_PATH_MAX_ROWS
    batch = handler.predict_fn({"rows": rows}, model)
    one_by_one = np.vstack([handler.predict_fn({"rows": [row]}, model) for row in rows])
    assert np.array_equal(batch, one_by_one)
    assert 0 < batch[:, 0].sum() < len(rows)  # both classes occur, so the trees matter
