"""Data capture in SageMaker's layout, and shadow variants compared by shadow-report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sagepipe.serving import capture, endpoints, shadow
from sagepipe.serving.spec import CaptureSpec, EndpointSpec

from .conftest import sample_rows, start_server, variant_for
from .helpers import pack, post


@pytest.fixture(scope="module")
def shadowed(
    model_tarball: Path, processed: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
):
    """Production = the project model; shadow = a weaker model; all traffic copied."""
    from {{ cookiecutter.package_name }}.steps.train import train_model

    workspace = tmp_path_factory.mktemp("shadow")
    weaker = workspace / "weaker"
    train_model(processed["train"], weaker, max_iter=3, max_depth=1)
    shadow_tar = pack(weaker, workspace / "shadow.tar.gz")
    destination = workspace / "capture"
    spec = EndpointSpec(
        endpoint_name="prod-endpoint",
        variants=[
            variant_for(model_tarball, workspace, package="group/1"),
            variant_for(shadow_tar, workspace, name="Shadow", role="shadow", package="group/2"),
        ],
        capture=CaptureSpec(enabled=False, destination=str(destination)),
    )
    state = start_server(workspace, spec)
    rows = sample_rows(processed["test"], 30)
    answers = [post(state.url, row.encode(), "text/csv", "text/csv") for row in rows]
    endpoints.stop(workspace, state.name)  # graceful stop: every capture line is flushed
    return {"answers": answers, "destination": destination, "rows": rows}


def test_only_the_production_answer_is_returned(
    shadowed: dict, model_tarball: Path, tmp_path: Path
) -> None:
    from sagepipe.serving.handler import load_handler

    production = load_handler(Path(variant_for(model_tarball, tmp_path).model_dir))
    for row, (status, body, headers) in zip(shadowed["rows"], shadowed["answers"], strict=True):
        assert status == 200
        assert headers["X-Amzn-Invoked-Production-Variant"] == "AllTraffic"
        assert body == production.invoke(row.encode(), "text/csv", "text/csv").body


def test_capture_files_follow_sagemakers_layout(shadowed: dict) -> None:
    files = sorted((shadowed["destination"] / "prod-endpoint").rglob("*.jsonl"))
    assert files
    for path in files:
        relative = path.relative_to(shadowed["destination"]).parts
        assert relative[0] == "prod-endpoint" and relative[1] in ("AllTraffic", "Shadow")
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\d{2}", "/".join(relative[2:6]))
    line = json.loads(files[0].read_text().splitlines()[0])
    assert line["eventVersion"] == "0"
    assert set(line["captureData"]) == {"endpointInput", "endpointOutput"}
    assert line["captureData"]["endpointInput"] | {"data": ""} == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "",
        "encoding": "CSV",
    }
    assert line["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["eventMetadata"]["inferenceTime"]
    )


def test_both_variants_are_captured_under_one_event_id(shadowed: dict) -> None:
    root = shadowed["destination"] / "prod-endpoint"
    production = {
        r["eventMetadata"]["eventId"]: r for r in capture.read_records(root / "AllTraffic")
    }
    shadows = {r["eventMetadata"]["eventId"]: r for r in capture.read_records(root / "Shadow")}
    assert len(production) == len(shadows) == 30
    assert production.keys() == shadows.keys()
    for event_id, record in production.items():
        assert (
            record["captureData"]["endpointInput"]
            == shadows[event_id]["captureData"]["endpointInput"]
        )


def test_shadow_report_compares_the_variants(shadowed: dict, tmp_path: Path) -> None:
    report = shadow.compare(shadowed["destination"], "prod-endpoint", "AllTraffic", "Shadow")
    assert report.paired_events == 30 and report.compared_rows == 30
    assert 0.0 <= report.agreement <= 1.0
    assert report.max_abs_delta > 0, "a weaker shadow model gives different probabilities"
    assert report.production.requests == report.shadow.requests == 30
    assert report.production.p50_ms <= report.production.p99_ms
    table = shadow.render_table(report)
    assert "AllTraffic" in table and "Shadow" in table and "agreement" in table
    page = shadow.render_html(report)
    assert page.count("<svg") == 2 and "Shadow test" in page
    assert json.loads(json.dumps(report.to_dict()))["paired_events"] == 30


def test_capture_sampling_keeps_roughly_the_configured_share(
    model_tarball: Path, processed: dict[str, Path], tmp_path: Path
) -> None:
    spec = EndpointSpec(
        endpoint_name="sampled",
        variants=[variant_for(model_tarball, tmp_path)],
        capture=CaptureSpec(
            enabled=True, sampling_percentage=0, destination=str(tmp_path / "capture")
        ),
    )
    state = start_server(tmp_path, spec, workers=1)
    try:
        for row in sample_rows(processed["test"], 10):
            assert post(state.url, row.encode())[0] == 200
    finally:
        endpoints.stop(tmp_path, state.name)
    assert not list((tmp_path / "capture").rglob("*.jsonl")), "0 % sampling captures nothing"


def test_shadow_report_without_shadow_traffic_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no captured shadow traffic"):
        shadow.compare(tmp_path, "nothing", "AllTraffic", "Shadow")
