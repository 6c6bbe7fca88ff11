"""The preprocess step: cleaning and a reproducible stratified split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.errors import InputDataError
from {{ cookiecutter.package_name }}.steps.preprocess import clean, preprocess


def test_clean_removes_duplicates_normalises_categories_and_rebuilds_totals() -> None:
    raw = data.generate(2000)
    cleaned = clean(raw)
    assert not cleaned.duplicated().any()
    assert set(cleaned["contract"]) <= set(data.CONTRACTS)
    assert cleaned["total_charges"].notna().all()
    assert list(cleaned.columns) == [*data.FEATURES, data.TARGET]


def test_clean_drops_rows_without_a_valid_target() -> None:
    raw = data.generate(100)
    raw[data.TARGET] = raw[data.TARGET].astype(object)
    raw.loc[0, data.TARGET] = "yes"
    raw.loc[1, data.TARGET] = None
    cleaned = clean(raw)
    assert len(cleaned) == len(clean(raw.drop(index=[0, 1])))


def test_preprocess_writes_disjoint_stratified_train_and_test(
    processed: dict[str, Path],
) -> None:
    train = pd.read_csv(processed["train"] / "train.csv")
    test = pd.read_csv(processed["test"] / "test.csv")
    assert len(test) / (len(train) + len(test)) == pytest.approx(0.2, abs=0.01)
    assert abs(train[data.TARGET].mean() - test[data.TARGET].mean()) < 0.02
    assert pd.merge(train, test, how="inner").empty


def test_preprocess_is_reproducible(sample_raw: Path, tmp_path: Path) -> None:
    counts = [preprocess(sample_raw, tmp_path / f"train{i}", tmp_path / f"test{i}") for i in (1, 2)]
    assert counts[0] == counts[1]
    assert counts[0]["clean"] < counts[0]["raw"]
    first = (tmp_path / "test1" / "test.csv").read_bytes()
    assert first == (tmp_path / "test2" / "test.csv").read_bytes()


def test_folder_without_csv_fails_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(InputDataError, match=r"no \*\.csv file found"):
        preprocess(tmp_path / "raw", tmp_path / "train", tmp_path / "test")


def test_csv_missing_columns_names_them(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    data.generate(50).drop(columns=["tenure_months"]).to_csv(tmp_path / "raw" / "a.csv")
    with pytest.raises(InputDataError, match=r"missing column\(s\) tenure_months"):
        preprocess(tmp_path / "raw", tmp_path / "train", tmp_path / "test")
    assert not (tmp_path / "train").exists()


def test_binary_garbage_is_reported_as_unreadable(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_bytes(b"\x00\xff\xfe garbage \x00\x81" * 50)
    with pytest.raises(InputDataError, match=r"a\.csv"):
        preprocess(tmp_path / "raw", tmp_path / "train", tmp_path / "test")


def test_bad_test_fraction_names_the_value(sample_raw: Path, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=r"test_fraction=1\.5"):
        preprocess(sample_raw, tmp_path / "train", tmp_path / "test", test_fraction=1.5)
