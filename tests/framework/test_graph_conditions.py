"""Conditions render to the shapes the SageMaker SDK emits."""

from __future__ import annotations

import pytest

from sagepipe import (
    Condition,
    ExecutionVariables,
    GraphError,
    Join,
    ParameterFloat,
    ParameterString,
    and_,
    eq,
    ge,
    gt,
    in_,
    le,
    lt,
    ne,
    not_,
    or_,
)

THRESHOLD = ParameterFloat("Threshold", default=0.8)
STAGE = ParameterString("Stage", default="dev")


@pytest.mark.parametrize(
    ("condition", "type_name"),
    [
        (eq(STAGE, "prod"), "Equals"),
        (gt(THRESHOLD, 0.5), "GreaterThan"),
        (ge(THRESHOLD, 0.5), "GreaterThanOrEqualTo"),
        (lt(THRESHOLD, 0.5), "LessThan"),
        (le(THRESHOLD, 0.5), "LessThanOrEqualTo"),
    ],
)
def test_comparisons_render_left_and_right_values(condition, type_name: str) -> None:
    request = condition.to_request()
    assert request["Type"] == type_name
    assert request["LeftValue"] in ({"Get": "Parameters.Stage"}, {"Get": "Parameters.Threshold"})
    assert request["RightValue"] in ("prod", 0.5)


def test_in_uses_query_value_and_values() -> None:
    assert in_(STAGE, ["dev", "test"]).to_request() == {
        "Type": "In",
        "QueryValue": {"Get": "Parameters.Stage"},
        "Values": ["dev", "test"],
    }


def test_not_and_or_nest() -> None:
    request = not_(or_(eq(STAGE, "a"), eq(STAGE, "b"))).to_request()
    assert request["Type"] == "Not"
    assert request["Expression"]["Type"] == "Or"
    assert [c["RightValue"] for c in request["Expression"]["Conditions"]] == ["a", "b"]


def test_ne_is_not_equals() -> None:
    assert ne(STAGE, "prod").to_request() == {
        "Type": "Not",
        "Expression": {
            "Type": "Equals",
            "LeftValue": {"Get": "Parameters.Stage"},
            "RightValue": "prod",
        },
    }


def test_top_level_and_flattens_into_the_condition_list() -> None:
    gate = Condition("Gate", conditions=[and_(ge(THRESHOLD, 0.1), le(THRESHOLD, 0.9))])
    assert [c.to_request()["Type"] for c in gate.conditions] == [
        "GreaterThanOrEqualTo",
        "LessThanOrEqualTo",
    ]


def test_nested_and_renders_with_de_morgan() -> None:
    request = or_(and_(eq(STAGE, "a"), eq(STAGE, "b")), eq(STAGE, "c")).to_request()
    nested = request["Conditions"][0]
    assert nested["Type"] == "Not"
    assert nested["Expression"]["Type"] == "Or"
    assert [c["Type"] for c in nested["Expression"]["Conditions"]] == ["Not", "Not"]


def test_join_and_execution_variables_render() -> None:
    joined = Join(on="/", values=["s3:/", "b", ExecutionVariables.PIPELINE_EXECUTION_ID])
    assert joined.to_request() == {
        "Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}]}
    }


def test_condition_needs_conditions() -> None:
    with pytest.raises(GraphError, match="conditions must be a non-empty list"):
        Condition("Gate", conditions=[])


def test_condition_rejects_a_bare_boolean() -> None:
    with pytest.raises(GraphError, match="True is not a condition; build one with ge"):
        Condition("Gate", conditions=[True])  # type: ignore[list-item]


def test_values_that_json_cannot_hold_are_refused() -> None:
    with pytest.raises(GraphError, match=r"value \[1, 2\] of type list cannot go into"):
        eq(STAGE, [1, 2])  # type: ignore[arg-type]
