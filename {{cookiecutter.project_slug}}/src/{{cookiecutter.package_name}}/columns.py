"""The churn table's columns: what the data, the steps and the checks agree on.

Standard library only, so commands can check a file's header (``run --data``) without
loading pandas, which costs most of a cached re-run's time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

TARGET = "churned"
ID_COLUMN = "customer_id"
NUMERIC_FEATURES = (
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
)
CATEGORICAL_FEATURES = ("contract", "payment_method", "internet_service")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
COLUMNS = (ID_COLUMN, *FEATURES, TARGET)

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("electronic-check", "mailed-check", "bank-transfer", "credit-card")
INTERNET_SERVICES = ("dsl", "fiber", "none")

# Bias is measured on this sensitive column (facet) and value, for this positive label:
# the pipeline's bias checks and ``explain`` both read these, so they analyse the same
# groups. Change them here when the data changes.
BIAS_FACET = "contract"
BIAS_FACET_VALUE = "month-to-month"
POSITIVE_LABEL = 1
# The serving handler answers text/csv as "label,probability" per row: where Clarify
# finds the predicted label and the score it explains.
PREDICTED_LABEL_INDEX, SCORE_INDEX = 0, 1


def missing_columns(columns: Iterable[str]) -> list[str]:
    """The columns raw data needs (the features and the target) that ``columns`` lacks."""
    present = set(columns)
    return [name for name in (*FEATURES, TARGET) if name not in present]


def missing_columns_message(file: str | Path, missing: list[str]) -> str:
    """The one-line error for a raw CSV without some needed columns."""
    return (
        f"{file}: missing column(s) {', '.join(missing)}; the raw data needs the columns "
        f"{', '.join(COLUMNS)}"
    )
