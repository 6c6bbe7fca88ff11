"""Batch transform: SageMaker's options, streamed output, and predictions equal to online ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sagepipe.serving import batch, endpoints
from sagepipe.serving.handler import ModelHandler, load_handler
from sagepipe.serving.spec import EndpointSpec

from .conftest import sample_rows, start_server, variant_for
from .helpers import post


@pytest.fixture(scope="module")
def handler(model_tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelHandler:
    return load_handler(
        Path(variant_for(model_tarball, tmp_path_factory.mktemp("batch")).model_dir)
    )


@pytest.fixture(scope="module")
def rows(processed: dict[str, Path]) -> list[str]:
    return sample_rows(processed["test"], 120)


def _input(tmp_path: Path, lines: list[str], name: str = "input.csv") -> Path:
    path = tmp_path / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_batch_predictions_equal_the_online_endpoint(
    handler: ModelHandler, rows: list[str], model_tarball: Path, tmp_path: Path
) -> None:
    result = batch.transform(
        handler, _input(tmp_path, rows), tmp_path / "out", batch.TransformConfig(), progress=False
    )
    produced = result.files[0].read_text().splitlines()
    state = start_server(
        tmp_path, EndpointSpec("online", [variant_for(model_tarball, tmp_path)]), workers=1
    )
    try:
        online = [
            post(state.url, row.encode(), "text/csv", "text/csv")[1].decode().strip()
            for row in rows[:40]
        ]
    finally:
        endpoints.stop(tmp_path, state.name)
    assert produced[:40] == online
    assert len(produced) == len(rows) == result.records


def test_single_record_and_multi_record_give_the_same_output(
    handler: ModelHandler, rows: list[str], tmp_path: Path
) -> None:
    source = _input(tmp_path, rows[:30])
    multi = batch.transform(
        handler, source, tmp_path / "multi", batch.TransformConfig(), progress=False
    )
    single = batch.transform(
        handler,
        source,
        tmp_path / "single",
        batch.TransformConfig(batch_strategy="SingleRecord"),
        progress=False,
    )
    assert multi.requests == 1 and single.requests == 30
    assert multi.files[0].read_text() == single.files[0].read_text()


def test_max_payload_splits_multi_record_batches(
    handler: ModelHandler, rows: list[str], tmp_path: Path
) -> None:
    source = _input(tmp_path, rows)
    config = batch.TransformConfig(max_payload_mb=1000 / (1024 * 1024))  # ~1 kB per request
    result = batch.transform(handler, source, tmp_path / "out", config, progress=False)
    assert result.requests > 5
    assert len(result.files[0].read_text().splitlines()) == len(rows)


def test_filters_and_join_keep_an_id_column_next_to_the_prediction(
    handler: ModelHandler, rows: list[str], tmp_path: Path
) -> None:
    with_ids = [f"id-{i},{row}" for i, row in enumerate(rows[:10])]
    config = batch.TransformConfig(
        input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]"
    )
    result = batch.transform(
        handler, _input(tmp_path, with_ids), tmp_path / "out", config, progress=False
    )
    plain = batch.transform(
        handler,
        _input(tmp_path, rows[:10], "plain.csv"),
        tmp_path / "plain",
        batch.TransformConfig(),
        progress=False,
    )
    joined = list(csv.reader(result.files[0].read_text().splitlines()))
    expected = [line.split(",")[-1] for line in plain.files[0].read_text().splitlines()]
    assert [r[0] for r in joined] == [f"id-{i}" for i in range(10)]
    assert [r[1] for r in joined] == expected


def test_a_folder_is_transformed_file_by_file(
    handler: ModelHandler, rows: list[str], tmp_path: Path
) -> None:
    _input(tmp_path, rows[:5], "a.csv")
    _input(tmp_path, rows[5:12], "b.csv")
    result = batch.transform(
        handler, tmp_path / "in", tmp_path / "out", batch.TransformConfig(), progress=False
    )
    assert [p.name for p in result.files] == ["a.csv.out", "b.csv.out"]
    assert [len(p.read_text().splitlines()) for p in result.files] == [5, 7]


def test_a_bad_record_fails_the_job_and_leaves_no_half_written_output(
    handler: ModelHandler, rows: list[str], tmp_path: Path
) -> None:
    source = _input(tmp_path, [*rows[:3], rows[3] + ",one,field,too,many"])
    with pytest.raises(batch.TransformError, match=r"input\.csv lines 1-4"):
        batch.transform(
            handler,
            source,
            tmp_path / "out",
            batch.TransformConfig(batch_strategy="MultiRecord"),
            progress=False,
        )
    assert not list((tmp_path / "out").glob("*"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_strategy": "Everything"}, "batch_strategy"),
        ({"split_type": "RecordIO"}, "split_type"),
        ({"max_payload_mb": 0}, "max_payload_mb"),
        ({"input_filter": "features"}, "must start with"),
        ({"content_type": "image/png"}, "content_type"),
    ],
)
def test_invalid_options_are_refused_with_the_allowed_values(
    handler: ModelHandler, rows: list[str], tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises((batch.TransformError, ValueError), match=message):
        batch.transform(
            handler,
            _input(tmp_path, rows[:2]),
            tmp_path / "out",
            batch.TransformConfig(**options),
            progress=False,
        )
