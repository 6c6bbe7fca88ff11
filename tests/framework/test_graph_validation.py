"""Every graph mistake fails where the pipeline is built, with one message that names it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from sagepipe import (
    CacheConfig,
    Condition,
    Fail,
    GraphError,
    JsonGet,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    Processing,
    PropertyFile,
    RegisterModel,
    Training,
    ge,
)
from sagepipe_example import odd_steps, steps

RAW = ParameterString("InputDataUrl", default="s3://bucket/raw/")


def prep(name: str = "Preprocess", **overrides: Any) -> Processing:
    options: dict[str, Any] = {
        "inputs": {"raw": RAW},
        "outputs": ["train", "test"],
        "arguments": {"test_size": 0.2},
    }
    options.update(overrides)
    return Processing(name, steps.preprocess, **options)


def fit(source: Processing, **overrides: Any) -> Training:
    options: dict[str, Any] = {"channels": {"train": source.outputs.train}}
    options.update(overrides)
    return Training("Train", steps.train, **options)


def raises(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(GraphError) as caught:
        build()
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_unknown_output_reference_names_the_step_and_its_outputs() -> None:
    step = prep()
    raises(
        lambda: step.outputs.trian, "step 'Preprocess' has no output 'trian'; outputs: test, train"
    )


def test_unknown_output_is_also_an_attribute_error() -> None:
    step = prep()
    assert hasattr(step.outputs, "train")
    assert not hasattr(step.outputs, "trian")


def test_output_reference_by_item_is_checked_too() -> None:
    step = prep()
    raises(
        lambda: step.outputs["model"],
        "step 'Preprocess' has no output 'model'; outputs: test, train",
    )


def test_unknown_input_names_the_function_signature() -> None:
    raises(
        lambda: prep(inputs={"rwa": RAW}),
        "step 'Preprocess': input 'rwa' is not a parameter of "
        "preprocess(raw, train, test, test_size, seed); inputs bind to its Path parameters",
    )


def test_missing_output_for_a_path_parameter() -> None:
    raises(
        lambda: prep(outputs=["train"]),
        "step 'Preprocess': preprocess(raw, train, test, test_size, seed) needs folder 'test', "
        "but no input or output provides it; add 'test' to outputs= (or inputs=)",
    )


def test_input_bound_to_a_non_path_parameter() -> None:
    raises(
        lambda: prep(inputs={"raw": RAW, "test_size": RAW}),
        "step 'Preprocess': input 'test_size' binds to parameter 'test_size' of "
        "preprocess(raw, train, test, test_size, seed), which is annotated float, not Path",
    )


def test_argument_the_function_does_not_accept() -> None:
    raises(
        lambda: prep(arguments={"tset_size": 0.2}),
        "step 'Preprocess': argument 'tset_size' is not accepted by "
        "preprocess(raw, train, test, test_size, seed); accepted arguments: seed, test_size",
    )


def test_argument_literal_that_does_not_convert_to_the_annotation() -> None:
    raises(
        lambda: prep(arguments={"seed": 1.5}),
        "step 'Preprocess': argument seed='1.5' is not a valid int for "
        "preprocess(raw, train, test, test_size, seed)",
    )


def test_hyperparameter_the_function_does_not_accept() -> None:
    source = prep()
    raises(
        lambda: fit(source, hyperparameters={"n_estimaters": 5}),
        "step 'Train': hyperparameter 'n_estimaters' is not accepted by "
        "train(train, model_dir, n_estimators, criterion, fail); "
        "accepted hyperparameters: criterion, fail, n_estimators",
    )


def test_missing_channel_for_a_path_parameter() -> None:
    raises(
        lambda: Training("Train", steps.train, channels={}),
        "step 'Train': train(train, model_dir, n_estimators, criterion, fail) needs folder "
        "'train', but no channel provides it; add channels={'train': ...}",
    )


def test_channel_named_like_the_model_folder_is_refused() -> None:
    raises(
        lambda: Training("Train", steps.train, channels={"train": RAW, "model_dir": RAW}),
        "step 'Train': 'model_dir' is the job's own folder, not a channel; rename the channel",
    )


def test_path_parameter_given_as_an_argument() -> None:
    raises(
        lambda: prep(arguments={"train": "x"}),
        "step 'Preprocess': argument 'train' is a Path parameter of "
        "preprocess(raw, train, test, test_size, seed); folders are bound as inputs, outputs "
        "or channels",
    )


def test_reserved_code_input_name() -> None:
    raises(
        lambda: Processing("P", odd_steps.optional_input, inputs={"code": RAW}, outputs=["out"]),
        "step 'P': input name 'code' is reserved for the step's code; rename the function "
        "parameter",
    )


def test_unsupported_annotation_names_the_fix() -> None:
    with pytest.raises(GraphError, match=r"parameter 'columns' is annotated .*list.*; annotate it"):
        Processing("P", odd_steps.takes_list, inputs={"data": RAW})


def test_varargs_function_is_refused() -> None:
    with pytest.raises(GraphError, match="step functions take named parameters only"):
        Processing("P", odd_steps.takes_varargs)


def test_nested_function_is_refused() -> None:
    with pytest.raises(GraphError, match="is not defined at the top level of module"):
        Processing("P", odd_steps.make_nested(), inputs={"data": RAW})


def test_optional_folder_and_flag_may_be_left_out() -> None:
    step = Processing("P", odd_steps.optional_input, inputs={"data": RAW}, outputs=["out"])
    assert list(step.outputs) == ["out"]


def test_input_uri_must_be_s3_or_an_expression() -> None:
    raises(
        lambda: prep(inputs={"raw": "/home/me/data.csv"}),
        "step 'Preprocess': input 'raw' is '/home/me/data.csv'; use an s3:// URI, a "
        "ParameterString or another step's output",
    )


def test_a_step_object_as_an_input_points_at_its_outputs() -> None:
    source = prep()
    trained = fit(source)
    raises(
        lambda: Processing(
            "Evaluate",
            steps.evaluate,
            inputs={"model": trained, "test": source},
            outputs=["evaluation"],
        ),
        "step 'Evaluate': input 'model' is the step 'Train' itself; pass Train.model_artifacts "
        "(its packed model)",
    )
    raises(
        lambda: Training("Train2", steps.train, channels={"train": source}),
        "step 'Train2': channel 'train' is the step 'Preprocess' itself; pass one of its "
        "outputs, e.g. .outputs.test",
    )


def test_duplicate_step_names() -> None:
    first, second = prep(), prep()
    raises(
        lambda: Pipeline("p", parameters=[RAW], steps=[first, second]),
        "duplicate step name 'Preprocess' (steps and steps); step names must be unique in a "
        "pipeline",
    )


def test_duplicate_step_name_inside_a_branch() -> None:
    step = prep()
    gate = Condition("Check", conditions=[ge(1, 0)], else_steps=[Fail("Preprocess")])
    raises(
        lambda: Pipeline("p", parameters=[RAW], steps=[step, gate]),
        "duplicate step name 'Preprocess' (steps and else_steps of 'Check'); step names must "
        "be unique in a pipeline",
    )


def test_cycle_through_depends_on() -> None:
    first = prep("A")
    second = Processing(
        "B", steps.preprocess, inputs={"raw": first.outputs.train}, outputs=["train", "test"]
    )
    first.depends_on.append(second)
    raises(
        lambda: Pipeline("p", parameters=[RAW], steps=[first, second]),
        "steps form a cycle: A -> B -> A; remove one of these dependencies",
    )


def test_step_used_but_not_in_the_pipeline() -> None:
    source = prep()
    trained = fit(source)
    raises(
        lambda: Pipeline("p", parameters=[RAW], steps=[trained]),
        "step 'Train' uses step 'Preprocess', which is not in pipeline 'p'; add it to steps=[...]",
    )


def test_undeclared_parameter() -> None:
    raises(
        lambda: Pipeline("p", steps=[prep()]),
        "step 'Preprocess' uses parameter 'InputDataUrl', which the pipeline does not declare; "
        "add it to Pipeline(parameters=...)",
    )


def test_condition_on_a_property_file_that_no_step_writes() -> None:
    report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    gate = Condition(
        "Check", conditions=[ge(JsonGet(report, "metrics.accuracy.value"), 0.8)], if_steps=[]
    )
    raises(
        lambda: Pipeline("p", parameters=[RAW], steps=[prep(), gate]),
        "step 'Check' reads property file 'EvaluationReport', but no step writes it; add "
        "property_files=[...] to the Processing step with output 'evaluation'",
    )


def test_property_file_in_an_output_the_step_lacks() -> None:
    report = PropertyFile("Report", output="evaluation", path="evaluation.json")
    raises(
        lambda: prep(property_files=[report]),
        "step 'Preprocess': property file 'Report' is in output 'evaluation', which the step "
        "does not have; outputs: test, train",
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ParameterString("bad name"),
            "parameter name 'bad name' is invalid: use 1-64 letters, digits, '-' or '_' "
            "(for example 'InputDataUrl')",
        ),
        (
            lambda: ParameterInteger("N", default=1.5),
            "parameter 'N': default 1.5 is a float, but a ParameterInteger needs int "
            "(for example 100)",
        ),
        (
            lambda: ParameterInteger("N", default=True),
            "parameter 'N': default True is a bool, but a ParameterInteger needs int "
            "(for example 100)",
        ),
        (
            lambda: ParameterBoolean("B", default="yes"),
            "parameter 'B': default 'yes' is a str, but a ParameterBoolean needs bool "
            "(for example True)",
        ),
        (
            lambda: ParameterFloat("F", default=float("nan")),
            "parameter 'F': default nan is not a finite number; JSON cannot hold it",
        ),
        (
            lambda: ParameterString("S", default=3),
            "parameter 'S': default 3 is a int, but a ParameterString needs str "
            "(for example 's3://bucket/key')",
        ),
    ],
)
def test_invalid_parameters(build: Callable[[], Any], message: str) -> None:
    raises(build, message)


def test_string_parameter_default_must_be_one_of_its_enum_values() -> None:
    raises(
        lambda: ParameterString("Status", default="Maybe", enum_values=["Approved", "Rejected"]),
        "parameter 'Status': default 'Maybe' is not one of its allowed values Approved, Rejected",
    )


def test_enum_values_are_declared_as_the_sdk_does() -> None:
    status = ParameterString("Status", default="Approved", enum_values=["Approved", "Rejected"])
    assert status.declaration() == {
        "Name": "Status",
        "Type": "String",
        "DefaultValue": "Approved",
        "EnumValues": ["Approved", "Rejected"],
    }


def test_duplicate_parameter_names() -> None:
    raises(
        lambda: Pipeline("p", parameters=[RAW, ParameterString("InputDataUrl")], steps=[prep()]),
        "pipeline 'p': parameter name 'InputDataUrl' is used twice",
    )


def test_invalid_step_and_pipeline_names() -> None:
    raises(
        lambda: Fail("no spaces allowed"),
        "step name 'no spaces allowed' is invalid: use 1-64 letters, digits, '-' or '_' "
        "(for example 'Preprocess')",
    )
    raises(
        lambda: Pipeline("bad_name", steps=[Fail("F")]),
        "pipeline name 'bad_name' is invalid: use letters, digits and single '-' "
        "(for example 'churn-model')",
    )


def test_register_model_rejects_unknown_approval_status() -> None:
    trained = fit(prep())
    raises(
        lambda: RegisterModel("Register", model=trained, group="g", approval_status="Approve"),
        "step 'Register': approval_status 'Approve' is not one of PendingManualApproval, "
        "Approved, Rejected",
    )


def test_cache_config_needs_an_iso_duration() -> None:
    raises(
        lambda: CacheConfig(expire_after="30 days"),
        "CacheConfig expire_after '30 days' is not an ISO 8601 duration; use for example "
        "'P30D' or 'PT12H'",
    )


def test_expressions_refuse_python_truth_tests() -> None:
    threshold = ParameterFloat("T", default=0.5)
    with pytest.raises(GraphError, match=re.escape("compare it inside a Condition")):
        bool(threshold)


def test_data_dependencies_are_derived_from_references() -> None:
    source = prep()
    trained = fit(source)
    report = PropertyFile("R", output="evaluation", path="e.json")
    evaluate = Processing(
        "Evaluate",
        steps.evaluate,
        inputs={"model": trained.model_artifacts, "test": source.outputs.test},
        outputs=["evaluation"],
        property_files=[report],
    )
    gate = Condition("Check", conditions=[ge(JsonGet(report, "a"), 0.5)], if_steps=[])
    assert [s.name for s in trained.upstream()] == ["Preprocess"]
    assert [s.name for s in evaluate.upstream()] == ["Train", "Preprocess"]
    assert [s.name for s in gate.upstream()] == ["Evaluate"]
