"""The data-quality gate: real great-expectations suites, run offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import DataQualityError
from {{ cookiecutter.package_name }}.quality.gate import check_data_quality


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
