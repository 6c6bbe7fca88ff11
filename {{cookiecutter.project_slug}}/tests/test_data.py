"""The example data generator: deterministic, realistic mess, any size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import data

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "raw" / "churn.csv"


def test_same_seed_gives_identical_data() -> None:
    pd.testing.assert_frame_equal(data.generate(500, seed=7), data.generate(500, seed=7))


def test_different_seeds_give_different_data() -> None:
    assert not data.generate(500, seed=1).equals(data.generate(500, seed=2))


def test_generated_data_has_the_mess_that_cleaning_removes() -> None:
    frame = data.generate(5000)
    assert frame.duplicated().sum() > 0
    assert frame["total_charges"].isna().sum() > 0
    assert (frame["contract"].str.strip().str.lower() != frame["contract"]).any()
    assert list(frame.columns) == list(data.COLUMNS)
    assert 0.1 < frame[data.TARGET].mean() < 0.6


def test_shipped_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    regenerated = data.write_csv(tmp_path / "churn.csv", data.SAMPLE_ROWS)
    digest = hashlib.sha256(regenerated.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()


def test_write_csv_in_chunks_keeps_row_count_and_unique_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "_CHUNK_ROWS", 300)
    frame = pd.read_csv(data.write_csv(tmp_path / "big.csv", 1000))
    unique = frame.drop_duplicates()
    assert unique["customer_id"].is_unique
    assert unique["customer_id"].max() == 1000
    assert not (tmp_path / "big.csv.partial").exists()


def test_zero_rows_is_refused_with_the_rule() -> None:
    with pytest.raises(ValueError, match="rows=0: must be at least 1"):
        data.generate(0)
