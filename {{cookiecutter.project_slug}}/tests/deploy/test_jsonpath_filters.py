"""The JSONPath operators SageMaker documents for InputFilter and OutputFilter."""

from __future__ import annotations

from typing import Any

import pytest

from sagepipe.serving.jsonpath import JsonPathError, apply, compile_path

ROW = ["id-7", 1, 2, 3, 4, 5, 6, "0.83"]
RECORD = {"id": "id-7", "features": [1, 2, 3], "SageMakerOutput": {"label": 1}}


@pytest.mark.parametrize(
    ("expression", "record", "expected"),
    [
        ("$", ROW, ROW),
        ("$[1:]", ROW, ROW[1:]),
        ("$[:3]", ROW, ROW[:3]),
        ("$[0,-1]", ROW, ["id-7", "0.83"]),
        # The OutputFilter example of SageMaker's DataProcessing API reference.
        ("$[0,5:]", ROW, ["id-7", 5, 6, "0.83"]),
        ("$[1:3,0]", ROW, [1, 2, "id-7"]),
        ("$[*]", ROW, ROW),
        ("$.features", RECORD, [1, 2, 3]),
        ("$.features[1:]", RECORD, [2, 3]),
        ("$['id','SageMakerOutput']", RECORD, {"id": "id-7", "SageMakerOutput": {"label": 1}}),
        ("$.SageMakerOutput.label", RECORD, 1),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_documented_filters_select_what_sagemaker_selects(
    expression: str, record: Any, expected: Any
) -> None:
    assert apply(compile_path(expression), record) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("features", "must start with"),
        ("$[0:5:2]", "steps in slices"),
        ("$[a]", "neither indices"),
        ("$..id", "not supported"),
    ],
)
def test_unsupported_filters_say_what_is_supported(expression: str, message: str) -> None:
    with pytest.raises(JsonPathError, match=message):
        compile_path(expression)


def test_a_filter_that_does_not_fit_the_record_names_the_step() -> None:
    with pytest.raises(JsonPathError, match="does not fit"):
        apply(compile_path("$.missing"), RECORD)
