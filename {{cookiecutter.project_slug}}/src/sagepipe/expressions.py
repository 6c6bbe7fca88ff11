"""Runtime values of a pipeline: things the definition JSON resolves when it executes.

Every expression renders to the JSON form SageMaker understands (``{"Get": ...}``,
``{"Std:Join": ...}``) and reports the steps it reads from, so the graph can derive data
dependencies without the user listing them. This is the bottom of the authoring values:
parameters, the references to steps' results (``properties.py``: step properties,
property files, ``JsonGet``) and conditions build on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .errors import GraphError

Primitive = str | int | float | bool


class StepRef(Protocol):
    """What an expression needs of a step it reads from: its name (the definition refers
    to steps by name). Every step class satisfies it, so this module never imports them."""

    @property
    def name(self) -> str: ...


class Expression:
    """A value known only when the pipeline runs (parameter, step property, function)."""

    def to_request(self) -> Any:
        """Return the JSON form of the expression for the definition."""
        raise NotImplementedError

    def referenced_steps(self) -> list[StepRef]:
        """Return the steps whose results this expression reads."""
        return []

    def referenced_parameters(self) -> list[Any]:
        """Return the pipeline parameters this expression reads."""
        return []

    def __truediv__(self, other: str | Expression) -> Join:
        """``uri / "file.json"`` joins with ``/``: an S3 key below a prefix."""
        return Join(on="/", values=[self, other])

    def __bool__(self) -> bool:
        # Comparisons like `param >= 0.8` would silently be truthy objects; make misuse loud.
        raise GraphError(
            f"{self!r} has no truth value at build time; compare it inside a Condition "
            "with ge()/gt()/eq()... instead of `if`"
        )


Value = Primitive | Expression


def render(value: Any) -> Any:
    """Render a primitive or an expression to its definition JSON form."""
    if isinstance(value, Expression):
        return value.to_request()
    if isinstance(value, (str, bool, int, float)):
        return value
    raise GraphError(
        f"value {value!r} of type {type(value).__name__} cannot go into a pipeline "
        "definition; use str, int, float, bool, a Parameter or a step property"
    )


def check_value(value: Any) -> None:
    """Fail now on a value the definition cannot hold (expressions render later)."""
    if not isinstance(value, (Expression, str, bool, int, float)):
        render(value)


def steps_of(values: Iterable[Any]) -> list[StepRef]:
    """Collect the steps referenced by any expressions among ``values``."""
    found: list[StepRef] = []
    for value in values:
        if isinstance(value, Expression):
            found.extend(value.referenced_steps())
    return found


def parameters_of(values: Iterable[Any]) -> list[Any]:
    """Collect the parameters referenced by any expressions among ``values``."""
    found: list[Any] = []
    for value in values:
        if isinstance(value, Expression):
            found.extend(value.referenced_parameters())
    return found


class ExecutionVariable(Expression):
    """A value SageMaker sets for each execution, such as its id."""

    def __init__(self, name: str) -> None:
        self.name = name

    def to_request(self) -> dict[str, str]:
        return {"Get": f"Execution.{self.name}"}

    def __repr__(self) -> str:
        return f"ExecutionVariables.{self.name}"


class ExecutionVariables:
    """The execution variables of SageMaker Pipelines."""

    PIPELINE_EXECUTION_ID = ExecutionVariable("PipelineExecutionId")
    PIPELINE_EXECUTION_ARN = ExecutionVariable("PipelineExecutionArn")
    PIPELINE_NAME = ExecutionVariable("PipelineName")
    PIPELINE_ARN = ExecutionVariable("PipelineArn")
    START_DATETIME = ExecutionVariable("StartDateTime")
    CURRENT_DATETIME = ExecutionVariable("CurrentDateTime")


class Join(Expression):
    """``Std:Join``: the string values joined with ``on`` when the pipeline runs."""

    def __init__(self, on: str = "", values: Sequence[Value] = ()) -> None:
        if not isinstance(on, str):
            raise GraphError(f"Join(on={on!r}) must be a string separator such as '/'")
        self.on = on
        self.values = list(values)
        for value in self.values:
            check_value(value)

    def to_request(self) -> dict[str, Any]:
        return {"Std:Join": {"On": self.on, "Values": [render(v) for v in self.values]}}

    def referenced_steps(self) -> list[StepRef]:
        return steps_of(self.values)

    def referenced_parameters(self) -> list[Any]:
        return parameters_of(self.values)

    def __repr__(self) -> str:
        return f"Join(on={self.on!r}, values={self.values!r})"
