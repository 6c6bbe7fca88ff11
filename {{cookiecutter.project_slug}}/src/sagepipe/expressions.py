"""Runtime values of a pipeline: things the definition JSON resolves when it executes.

Every expression renders to the JSON form SageMaker understands (``{"Get": ...}``,
``{"Std:Join": ...}``, ``{"Std:JsonGet": ...}``) and reports the steps it reads from,
so the graph can derive data dependencies without the user listing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import GraphError

if TYPE_CHECKING:
    from .steps import PropertyFile, Step

Primitive = str | int | float | bool


class Expression:
    """A value known only when the pipeline runs (parameter, step property, function)."""

    def to_request(self) -> Any:
        """Return the JSON form of the expression for the definition."""
        raise NotImplementedError

    def referenced_steps(self) -> list[Step]:
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


def steps_of(values: Iterable[Any]) -> list[Step]:
    """Collect the steps referenced by any expressions among ``values``."""
    found: list[Step] = []
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

    def referenced_steps(self) -> list[Step]:
        return steps_of(self.values)

    def referenced_parameters(self) -> list[Any]:
        return parameters_of(self.values)

    def __repr__(self) -> str:
        return f"Join(on={self.on!r}, values={self.values!r})"


class JsonGet(Expression):
    """``Std:JsonGet``: the value at ``path`` (``a.b[0].c``) inside a property file."""

    def __init__(self, property_file: PropertyFile, path: str) -> None:
        from .steps import PropertyFile

        if not isinstance(property_file, PropertyFile):
            raise GraphError(
                f"JsonGet({property_file!r}, {path!r}) needs a PropertyFile as its first "
                "argument; declare one with PropertyFile(name, output=..., path=...)"
            )
        if not isinstance(path, str) or not path:
            raise GraphError(f"JsonGet path {path!r} must be a non-empty JSON path like 'a.b.c'")
        self.property_file = property_file
        self.path = path

    def to_request(self) -> dict[str, Any]:
        step = self.property_file.require_step()
        return {
            "Std:JsonGet": {
                "PropertyFile": {
                    "Get": f"Steps.{step.name}.PropertyFiles.{self.property_file.name}"
                },
                "Path": self.path,
            }
        }

    def referenced_steps(self) -> list[Step]:
        step = self.property_file.step
        return [step] if step is not None else []

    def __repr__(self) -> str:
        return f"JsonGet({self.property_file.name!r}, {self.path!r})"


class StepProperty(Expression):
    """A property of a step's result, such as an output's S3 URI."""

    def __init__(self, step: Step, path: str, description: str) -> None:
        self.step = step
        self.path = path
        self.description = description

    def to_request(self) -> dict[str, str]:
        return {"Get": f"Steps.{self.step.name}.{self.path}"}

    def referenced_steps(self) -> list[Step]:
        return [self.step]

    def __repr__(self) -> str:
        return self.description
