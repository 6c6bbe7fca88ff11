"""The expression language: Get, Std:Join, Std:JsonGet and every condition type."""

from __future__ import annotations

import pytest

from sagepipe.local.expressions import (
    Context,
    ExpressionError,
    evaluate_condition,
    evaluate_conditions,
    resolve,
    step_references,
)
from sagepipe.local.parameters import ParameterError, parse_assignment, resolve_parameters

PROPERTIES = {
    "Prep": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
            ]
        }
    },
    "Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/model.tar.gz"}},
}
REPORT = {"metrics": {"accuracy": {"value": 0.82}}, "scores": [0.1, 0.7]}


def _ctx():
    return Context(
        parameters={"Threshold": 0.8, "Mode": "fast", "Epochs": 3},
        execution={"PipelineExecutionId": "exec-1", "PipelineName": "p"},
        step_properties=PROPERTIES,
        read_property_file=lambda step, name: REPORT if (step, name) == ("Eval", "Rep") else {},
    )


def _json_get(path):
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Rep"}, "Path": path}}


def test_get_resolves_parameters_execution_variables_and_step_properties():
    value = {
        "a": {"Get": "Parameters.Threshold"},
        "b": [{"Get": "Execution.PipelineExecutionId"}],
        "c": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "d": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"},
        "e": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
    }
    assert resolve(value, _ctx()) == {
        "a": 0.8,
        "b": ["exec-1"],
        "c": "s3://b/test",
        "d": "s3://b/train",
        "e": "s3://b/model.tar.gz",
    }


def test_join_renders_values_and_json_get_reads_property_files():
    joined = {
        "Std:Join": {
            "On": "/",
            "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}, True, 2],
        }
    }
    assert resolve(joined, _ctx()) == "s3://b/exec-1/true/2"
    assert resolve(_json_get("metrics.accuracy.value"), _ctx()) == 0.82
    assert resolve(_json_get("scores[1]"), _ctx()) == 0.7


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Get": "Parameters.Nope"}, "no parameter 'Nope' \\(defined: Epochs, Mode, Threshold\\)"),
        ({"Get": "Execution.Nope"}, "unknown execution variable"),
        ({"Get": "Steps.Ghost.X"}, "step 'Ghost' has not produced properties"),
        (
            {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['val'].S3Output"},
            "has no \\('val',\\)",
        ),
        (_json_get("metrics.f1.value"), "path 'metrics.f1.value' has no 'f1'"),
    ],
)
def test_bad_references_name_the_path(expression, message):
    with pytest.raises(ExpressionError, match=message):
        resolve(expression, _ctx())


@pytest.mark.parametrize(
    ("kind", "left", "right", "expected"),
    [
        ("Equals", 3, 3, True),
        ("Equals", "fast", "slow", False),
        ("GreaterThan", 0.82, 0.8, True),
        ("GreaterThan", 0.8, 0.8, False),
        ("GreaterThanOrEqualTo", 0.8, 0.8, True),
        ("LessThan", 1, 2, True),
        ("LessThanOrEqualTo", 3, 2, False),
        ("GreaterThanOrEqualTo", "0.9", 0.8, True),  # text from a JSON file vs a number
    ],
)
def test_comparisons(kind, left, right, expected):
    condition = {"Type": kind, "LeftValue": left, "RightValue": right}
    assert evaluate_condition(condition, _ctx()) is expected


def test_in_not_or_and_the_implicit_and_of_a_condition_list():
    ctx = _ctx()
    is_fast = {"Type": "In", "QueryValue": {"Get": "Parameters.Mode"}, "Values": ["fast", "x"]}
    good = {
        "Type": "GreaterThanOrEqualTo",
        "LeftValue": _json_get("metrics.accuracy.value"),
        "RightValue": {"Get": "Parameters.Threshold"},
    }
    bad = {"Type": "LessThan", "LeftValue": {"Get": "Parameters.Epochs"}, "RightValue": 1}
    assert evaluate_condition(is_fast, ctx)
    assert not evaluate_condition({"Type": "Not", "Expression": is_fast}, ctx)
    assert evaluate_condition({"Type": "Or", "Conditions": [bad, good]}, ctx)
    assert not evaluate_condition({"Type": "Or", "Conditions": [bad, bad]}, ctx)
    assert evaluate_conditions([good, is_fast], ctx)
    assert not evaluate_conditions([good, bad], ctx)


def test_unknown_condition_type_lists_the_supported_ones():
    with pytest.raises(ExpressionError, match="use one of Equals, GreaterThan"):
        evaluate_condition({"Type": "Between"}, _ctx())


def test_step_references_find_data_dependencies():
    args = {
        "x": {"Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        "y": _json_get("a"),
        "z": {"Get": "Parameters.Threshold"},
    }
    assert step_references(args) == {"Prep", "Eval"}


DECLARED = [
    {"Name": "Url", "Type": "String", "DefaultValue": "s3://b/k"},
    {"Name": "Epochs", "Type": "Integer", "DefaultValue": 3},
    {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.8},
    {"Name": "Fast", "Type": "Boolean", "DefaultValue": False},
    {
        "Name": "Status",
        "Type": "String",
        "DefaultValue": "PendingManualApproval",
        "EnumValues": ["PendingManualApproval", "Approved"],
    },
]


def test_parameter_overrides_are_converted_by_their_declared_type():
    values = resolve_parameters(
        DECLARED, {"Epochs": "10", "Threshold": "0.5", "Fast": "TRUE", "Status": "Approved"}
    )
    assert values == {
        "Url": "s3://b/k",
        "Epochs": 10,
        "Threshold": 0.5,
        "Fast": True,
        "Status": "Approved",
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"Epochs": "1.5"}, "Epochs='1.5': Integer parameters need a whole number; write e.g."),
        ({"Fast": "yes"}, "Fast='yes': Boolean parameters take true or false"),
        ({"Status": "Rejected"}, "Status='Rejected' is not allowed: use one of"),
        ({"epochs": "3"}, "'epochs' is not defined by this pipeline: use one of Epochs,"),
    ],
)
def test_bad_overrides_say_value_rule_and_fix(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(DECLARED, override)


def test_cli_assignment_needs_name_equals_value():
    assert parse_assignment("A=b=c") == ("A", "b=c")
    with pytest.raises(ParameterError, match="is not NAME=VALUE"):
        parse_assignment("Threshold")
