"""The data-quality gate: real great-expectations suites, run offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import DataQualityError
from {{ cookiecutter.package_name }}.quality.gate import (
    MAX_SUMMARY_CHARS,
    Failure,
    QualityReport,
    check_data_quality,
)


def test_gate_passes_on_the_sample_and_writes_data_docs(
    processed: dict[str, Path], tmp_path: Path
) -> None:
    report = check_data_quality(
        processed["raw"], processed["train"], processed["test"], tmp_path / "report"
    )
    assert report.success
    assert report.evaluated > 30
    assert (tmp_path / "report" / "index.html").is_file()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["success"] is True
    # The report folder outlives the job's sandbox: Data Docs are named relative to it.
    assert summary["data_docs"] == "index.html"
    assert str(tmp_path) not in summary["summary"]
    assert summary["summary"].endswith("Data Docs: index.html (next to this file)")


def test_gate_fails_with_a_readable_summary_on_bad_data(
    processed: dict[str, Path], tmp_path: Path
) -> None:
    raw = pd.read_csv(next(processed["raw"].glob("*.csv")))
    raw.loc[:4, "tenure_months"] = -5
    (tmp_path / "raw").mkdir()
    raw.to_csv(tmp_path / "raw" / "churn.csv", index=False)
    train = tmp_path / "train"
    shutil.copytree(processed["train"], train)
    frame = pd.read_csv(train / "train.csv")
    frame.loc[:9, "contract"] = "lifetime"
    frame.to_csv(train / "train.csv", index=False)

    with pytest.raises(DataQualityError) as failure:
        check_data_quality(tmp_path / "raw", train, processed["test"], tmp_path / "report")

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("Data quality failed: 2 of ")
    assert "raw: tenure_months" in message and "-5" in message
    assert "train: contract" in message and "'lifetime'" in message
    assert str(tmp_path / "report" / "index.html") in message
    assert (tmp_path / "report" / "index.html").is_file()
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["success"] is False and len(summary["failed"]) == 2


def test_text_in_a_numeric_column_is_a_type_problem_and_n_a_a_missing_value(
    processed: dict[str, Path], tmp_path: Path
) -> None:
    raw = pd.read_csv(next(processed["raw"].glob("*.csv"))).astype({"total_charges": object})
    raw["age"] = "old"
    raw["total_charges"] = "n/a"
    (tmp_path / "raw").mkdir()
    raw.to_csv(tmp_path / "raw" / "churn.csv", index=False)

    with pytest.raises(DataQualityError) as failure:
        check_data_quality(tmp_path / "raw", processed["train"], processed["test"], tmp_path / "r")

    message = str(failure.value)
    rows = len(raw)
    expected = f"values must be numbers ({rows} of {rows} rows are not numbers, e.g. 'old')"
    assert f"raw: age: {expected}" in message
    assert "age: values must be between" not in message
    assert "raw: total_charges: values must not be missing (empty, NA, N/A, n/a" in message
    assert "e.g. nan" not in message  # a missing value has nothing to show


def test_a_long_summary_lists_what_fits_and_always_ends_with_the_data_docs_path() -> None:
    docs = Path("/work/report/index.html")
    failures = [
        Failure("raw", "values must be between", f"column_{i}", "x" * 80) for i in range(40)
    ]
    summary = QualityReport(evaluated=50, failures=failures, docs_index=docs).summary()
    assert len(summary) <= MAX_SUMMARY_CHARS
    assert summary.endswith(f"Data Docs: {docs}")
    assert "column_0" in summary and "more (all in summary.json)" in summary
    huge = QualityReport(1, [Failure("raw", "x", "c", "y" * 5000)], docs_index=docs).summary()
    assert len(huge) <= MAX_SUMMARY_CHARS and huge.endswith(f"Data Docs: {docs}")
