"""Hyperparameter defaults have one source: the step functions' signatures."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.pipeline import build_pipeline
from {{ cookiecutter.package_name }}.steps import train

from sagepipe.errors import GraphError
from sagepipe.parameters import Parameter, default_of
from sagepipe.steps import FunctionStep


def _bound_parameters(step: FunctionStep) -> dict[str, Parameter]:
    values: dict[str, Any] = {
        **getattr(step, "arguments", {}),
        **getattr(step, "hyperparameters", {}),
    }
    return {name: value for name, value in values.items() if isinstance(value, Parameter)}


def test_every_pipeline_parameter_bound_to_a_step_argument_has_the_signature_default() -> None:
    checked = 0
    for step in build_pipeline().all_steps:
        if not isinstance(step, FunctionStep) or step.fn is None:
            continue
        signature = inspect.signature(step.fn).parameters
        for argument, parameter in _bound_parameters(step).items():
            default = signature[argument].default
            if default is not inspect.Parameter.empty:
                assert parameter.default == default, (step.name, argument)
                checked += 1
    assert checked >= 4  # test_fraction, max_iter, learning_rate, max_depth


def test_editing_a_default_in_the_step_function_changes_the_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = list(inspect.signature(train.train_model).parameters)
    defaults = list(train.train_model.__defaults__ or ())
    position = names.index("max_depth") - (len(names) - len(defaults))
    defaults[position] = 3
    monkeypatch.setattr(train.train_model, "__defaults__", tuple(defaults))

    parameters = {p.name: p for p in build_pipeline().parameters}

    assert parameters["MaxDepth"].default == 3


def test_a_missing_default_is_a_one_line_error() -> None:
    def step(train: Any, depth: int) -> None: ...

    with pytest.raises(GraphError, match=r"has no default; give it one"):
        default_of(step, "depth")
    with pytest.raises(GraphError, match=r"has no parameter 'width'"):
        default_of(step, "width")
