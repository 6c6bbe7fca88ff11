"""The expectation suites, as plain data: edit these lists to change what the gate checks.

Each entry is ``(expectation class name, keyword arguments)``; ``gate.py`` turns them into
great-expectations objects, so this module imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from .. import data

Expectation = tuple[str, dict[str, Any]]

_CATEGORY_PATTERN = r"(?i)^\s*(?:{})\s*$"


def raw_suite() -> list[Expectation]:
    """What a raw export must satisfy before cleaning: loose, because cleaning fixes spelling,
    duplicates and a few missing values."""
    return [
        ("ExpectTableRowCountToBeBetween", {"min_value": 50}),
        ("ExpectColumnValuesToNotBeNull", {"column": data.ID_COLUMN}),
        ("ExpectColumnValuesToNotBeNull", {"column": data.TARGET}),
        ("ExpectColumnValuesToBeInSet", {"column": data.TARGET, "value_set": [0, 1]}),
        ("ExpectColumnValuesToBeBetween", {"column": "age", "min_value": 16, "max_value": 120}),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "tenure_months", "min_value": 0, "max_value": 240},
        ),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "monthly_charges", "min_value": 0, "max_value": 1000},
        ),
        ("ExpectColumnValuesToBeBetween", {"column": "support_calls", "min_value": 0}),
        # A few missing values are normal; a column that is mostly empty is a broken export.
        ("ExpectColumnValuesToNotBeNull", {"column": "total_charges", "mostly": 0.9}),
        ("ExpectColumnValuesToNotBeNull", {"column": "age", "mostly": 0.9}),
        (
            "ExpectColumnValuesToMatchRegex",
            {"column": "contract", "regex": _CATEGORY_PATTERN.format("|".join(data.CONTRACTS))},
        ),
        (
            "ExpectColumnValuesToMatchRegex",
            {
                "column": "payment_method",
                "regex": _CATEGORY_PATTERN.format("|".join(data.PAYMENT_METHODS)),
            },
        ),
    ]


def processed_suite() -> list[Expectation]:
    """What the cleaned train and test sets must satisfy before a model is fitted on them."""
    expectations: list[Expectation] = [
        ("ExpectTableColumnsToMatchOrderedList", {"column_list": [*data.FEATURES, data.TARGET]}),
        ("ExpectTableRowCountToBeBetween", {"min_value": 20}),
        ("ExpectColumnValuesToBeInSet", {"column": data.TARGET, "value_set": [0, 1]}),
        # Both classes must be present in useful numbers, or the metrics mean nothing.
        (
            "ExpectColumnMeanToBeBetween",
            {"column": data.TARGET, "min_value": 0.02, "max_value": 0.98},
        ),
        ("ExpectColumnValuesToBeInSet", {"column": "contract", "value_set": list(data.CONTRACTS)}),
        (
            "ExpectColumnValuesToBeInSet",
            {"column": "payment_method", "value_set": list(data.PAYMENT_METHODS)},
        ),
        (
            "ExpectColumnValuesToBeInSet",
            {"column": "internet_service", "value_set": list(data.INTERNET_SERVICES)},
        ),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "tenure_months", "min_value": 0, "max_value": 240},
        ),
        ("ExpectColumnValuesToBeBetween", {"column": "total_charges", "min_value": 0}),
    ]
    for name in (
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "contract",
        "payment_method",
        data.TARGET,
    ):
        expectations.append(("ExpectColumnValuesToNotBeNull", {"column": name}))
    return expectations
