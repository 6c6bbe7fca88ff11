"""Preprocess: clean the raw export and split it into train and test sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import data
from ..errors import InputDataError

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
SAMPLE_FILE = "sample.csv"
# Rows of the test split the pipeline's SHAP baseline explains. Kernel SHAP scores one row
# per explained row and coalition, so a seeded sample keeps the explainability check
# cheap (see SHAP_NUM_SAMPLES in pipeline.py for what it costs in precision).
EXPLAIN_SAMPLE_ROWS = 200


def read_raw(raw: Path) -> pd.DataFrame:
    """Read every ``*.csv`` in the ``raw`` folder (or the file itself) as one table.

    Raises ``InputDataError`` with a one-line reason when the folder has no CSV, a file
    cannot be parsed, or required columns are missing.
    """
    raw = Path(raw)
    files = [raw] if raw.is_file() else sorted(raw.glob("*.csv"))
    if not files:
        raise InputDataError(f"{raw}: no *.csv file found; put the raw export (CSV) in this folder")
    frames = []
    for file in files:
        try:
            frame = data.load_csv(file)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InputDataError(
                f"{file}: not a readable CSV ({reason}); regenerate it with 'make-data' "
                "or fix the file"
            ) from error
        missing = data.missing_columns(frame.columns)
        if missing:
            raise InputDataError(data.missing_columns_message(file, missing))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the cleaned table: features and target only, one row per customer record.

    - category spellings are normalised (``" ONE-YEAR "`` -> ``"one-year"``);
    - exact duplicate rows are dropped;
    - rows without a valid 0/1 target are dropped (they cannot be learnt from);
    - a missing ``total_charges`` is rebuilt from monthly charges x tenure.
    Missing ``age`` and ``internet_service`` stay missing: the model's imputer handles
    them, so serving sees the same treatment as training.
    """
    frame = frame.copy()
    for name in data.CATEGORICAL_FEATURES:
        frame[name] = frame[name].astype("string").str.strip().str.lower()
    frame = frame.drop_duplicates()
    target = pd.to_numeric(frame[data.TARGET], errors="coerce")
    frame = frame[target.isin([0, 1])].copy()
    frame[data.TARGET] = target[target.isin([0, 1])].astype(int)
    for name in data.NUMERIC_FEATURES:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    rebuilt = (frame["monthly_charges"] * frame["tenure_months"]).round(2)
    frame["total_charges"] = frame["total_charges"].fillna(rebuilt)
    return frame[[*data.FEATURES, data.TARGET]].reset_index(drop=True)


def split(
    frame: pd.DataFrame, test_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into train and test sets, stratified on the target, reproducibly."""
    if not 0.0 < test_fraction < 1.0:
        raise InputDataError(
            f"test_fraction={test_fraction}: must be between 0 and 1 (exclusive); try 0.2"
        )
    rng = np.random.default_rng(seed)
    test_index: list[int] = []
    for _, group in frame.groupby(data.TARGET, sort=True):
        count = round(len(group) * test_fraction)
        test_index.extend(rng.choice(group.index.to_numpy(), size=count, replace=False).tolist())
    is_test = frame.index.isin(test_index)
    if is_test.all() or not is_test.any():
        raise InputDataError(
            f"{len(frame)} clean row(s) cannot be split with test_fraction={test_fraction}; "
            "provide more data"
        )
    return frame[~is_test], frame[is_test]


def preprocess(
    raw: Path,
    train: Path,
    test: Path,
    test_fraction: float = 0.2,
    seed: int = 42,
    explain_sample: Path | None = None,
) -> dict[str, int]:
    """Clean the CSV export in ``raw`` and write ``train/train.csv`` and ``test/test.csv``.

    With ``explain_sample``, also write ``explain_sample/sample.csv``: a seeded sample of
    at most ``EXPLAIN_SAMPLE_ROWS`` test rows for the SHAP baseline. Returns row counts
    (raw, clean, train, test) so callers can show what cleaning did.
    """
    raw_frame = read_raw(raw)
    cleaned = clean(raw_frame)
    train_frame, test_frame = split(cleaned, test_fraction, seed)
    Path(train).mkdir(parents=True, exist_ok=True)
    Path(test).mkdir(parents=True, exist_ok=True)
    train_frame.to_csv(Path(train) / TRAIN_FILE, index=False, lineterminator="\n")
    test_frame.to_csv(Path(test) / TEST_FILE, index=False, lineterminator="\n")
    if explain_sample is not None:
        rows = min(EXPLAIN_SAMPLE_ROWS, len(test_frame))
        Path(explain_sample).mkdir(parents=True, exist_ok=True)
        test_frame.sample(rows, random_state=seed).to_csv(
            Path(explain_sample) / SAMPLE_FILE, index=False, lineterminator="\n"
        )
    return {
        "raw": len(raw_frame),
        "clean": len(cleaned),
        "train": len(train_frame),
        "test": len(test_frame),
    }
