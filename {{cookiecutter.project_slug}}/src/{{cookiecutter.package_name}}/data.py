"""Deterministic example data: a customer-churn table that needs no download.

The generator is seeded, so the same ``rows`` and ``seed`` always give byte-identical
CSV. It plants the small mess real exports have (missing values, duplicated rows,
inconsistent category spelling) so that the preprocess step has real cleaning to do.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    CONTRACTS,
    FEATURES,
    ID_COLUMN,
    INTERNET_SERVICES,
    NUMERIC_FEATURES,
    PAYMENT_METHODS,
    TARGET,
    missing_columns,
    missing_columns_message,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "COLUMNS",
    "CONTRACTS",
    "FEATURES",
    "ID_COLUMN",
    "INTERNET_SERVICES",
    "NUMERIC_FEATURES",
    "PAYMENT_METHODS",
    "TARGET",
    "generate",
    "load_csv",
    "missing_columns",
    "missing_columns_message",
    "write_csv",
]

SAMPLE_ROWS = 3000
DEFAULT_SEED = 42
# Chunking keeps peak memory flat for the 1,000,000-row benchmark file.
_CHUNK_ROWS = 200_000


def generate(rows: int, seed: int = DEFAULT_SEED, *, start_id: int = 1) -> pd.DataFrame:
    """Return ``rows`` rows of synthetic churn data (raw, uncleaned) for ``seed``."""
    if rows < 1:
        raise ValueError(f"rows={rows}: must be at least 1; pass a positive row count")
    rng = np.random.default_rng(seed)
    contract = rng.choice(len(CONTRACTS), size=rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(len(PAYMENT_METHODS), size=rows, p=[0.35, 0.2, 0.25, 0.2])
    internet = rng.choice(len(INTERNET_SERVICES), size=rows, p=[0.35, 0.45, 0.20])
    age = rng.integers(18, 86, size=rows)
    tenure = np.clip(rng.gamma(2.0, 12.0 + 10.0 * contract, size=rows).round(), 0, 72).astype(int)
    monthly = np.round(
        20.0
        + 25.0 * (internet == 1)
        + 15.0 * (internet == 0)
        + rng.normal(20.0, 12.0, size=rows).clip(0, None),
        2,
    )
    total = np.round(monthly * tenure + rng.normal(0.0, 5.0, size=rows), 2).clip(0, None)
    support_calls = rng.poisson(1.0 + 1.5 * (internet == 1), size=rows)

    # Churn risk: short tenure, monthly contracts, fibre prices, electronic checks and
    # many support calls raise it; the noise keeps the task learnable but not trivial.
    logit = (
        -0.6
        - 0.06 * tenure
        + 1.1 * (contract == 0)
        - 0.9 * (contract == 2)
        + 0.7 * (payment == 0)
        + 0.02 * (monthly - 60.0)
        + 0.35 * support_calls
        - 0.01 * (age - 45)
        + rng.normal(0.0, 0.6, size=rows)
    )
    churned = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            ID_COLUMN: np.arange(start_id, start_id + rows),
            "age": age,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "contract": np.asarray(CONTRACTS, dtype=object)[contract],
            "payment_method": np.asarray(PAYMENT_METHODS, dtype=object)[payment],
            "internet_service": np.asarray(INTERNET_SERVICES, dtype=object)[internet],
            TARGET: churned,
        }
    )
    return _add_mess(frame, rng)


def _add_mess(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Plant missing values, odd spellings and duplicated rows like a real export has."""
    rows = len(frame)
    total = frame["total_charges"].astype(float)
    total[rng.random(rows) < 0.01] = np.nan
    frame["total_charges"] = total
    age = frame["age"].astype(float)
    age[rng.random(rows) < 0.01] = np.nan
    frame["age"] = age
    internet = frame["internet_service"].astype(object)
    internet[rng.random(rows) < 0.005] = None
    frame["internet_service"] = internet
    # Same category, different spelling: what a CRM export with free-text fields gives.
    contract = frame["contract"].astype(object)
    shouting = rng.random(rows) < 0.02
    contract[shouting] = contract[shouting].str.upper() + " "
    frame["contract"] = contract
    duplicates = frame.iloc[np.flatnonzero(rng.random(rows) < 0.01)]
    return pd.concat([frame, duplicates], ignore_index=True)


def write_csv(path: Path, rows: int, seed: int = DEFAULT_SEED) -> Path:
    """Write ``rows`` generated rows (plus the planted duplicates) to ``path`` as CSV.

    Large sizes are written in chunks, so a 1,000,000-row file needs little memory.
    The file appears atomically: a crash never leaves a half-written CSV behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written = 0
    chunk_index = 0
    with partial.open("w", newline="") as handle:
        while written < rows:
            size = min(_CHUNK_ROWS, rows - written)
            # Each chunk has its own seed so chunking does not change the data's shape.
            chunk = generate(size, seed + chunk_index, start_id=written + 1)
            chunk.to_csv(
                handle,
                index=False,
                header=chunk_index == 0,
                quoting=csv.QUOTE_MINIMAL,
                lineterminator="\n",
            )
            written += size
            chunk_index += 1
    partial.replace(path)
    return path


def load_csv(path: Path) -> pd.DataFrame:
    """Read a churn CSV with the column types the steps expect."""
    return pd.read_csv(path, dtype={name: "string" for name in CATEGORICAL_FEATURES})
