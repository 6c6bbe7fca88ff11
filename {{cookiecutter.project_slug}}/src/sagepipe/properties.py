"""References to what a step produces: its properties, its property files, and JsonGet.

These are the values ``steps.py`` hands out (``prep.outputs.train``, ``fit.model_artifacts``)
and the ones conditions read (``JsonGet(report, "metrics.accuracy.value")``). They sit
below ``steps.py``, as the SageMaker SDK keeps them in ``sagemaker/workflow/properties.py``:
a reference knows a step only as something with a name (``expressions.StepRef``), because
the definition refers to steps by name, so this module never imports the step classes.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from .errors import GraphError
from .expressions import Expression, StepRef

# Property file names appear in `Steps.<step>.PropertyFiles.<name>` references: the same
# characters and length as step names.
_PROPERTY_FILE_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


class _Outputs(Protocol):
    """What a property file needs of its writer's outputs: one output's URI by name."""

    def __getitem__(self, name: str, /) -> Expression: ...


class OutputWriter(StepRef, Protocol):
    """A step with named outputs (Processing): the writer of a property file."""

    @property
    def outputs(self) -> _Outputs: ...


class StepProperty(Expression):
    """A property of a step's result, such as an output's S3 URI."""

    def __init__(self, step: StepRef, path: str, description: str) -> None:
        self.step = step
        self.path = path
        self.description = description

    def to_request(self) -> dict[str, str]:
        return {"Get": f"Steps.{self.step.name}.{self.path}"}

    def referenced_steps(self) -> list[StepRef]:
        return [self.step]

    def __repr__(self) -> str:
        return self.description


class PropertyFile:
    """A JSON file that a Processing step writes into one of its outputs.

    Conditions read values from it with :class:`JsonGet`. Attach it to the step that
    writes it with ``Processing(..., property_files=[report])``; that step sets ``step``.
    """

    def __init__(self, name: str, *, output: str, path: str) -> None:
        if not isinstance(name, str) or not _PROPERTY_FILE_NAME.match(name):
            raise GraphError(
                f"property file name {name!r} is invalid: use 1-64 letters, digits, '-' or '_'"
            )
        if not isinstance(path, str) or not path or path.startswith("/"):
            raise GraphError(
                f"property file {name!r}: path {path!r} must be relative to the output folder, "
                "for example 'evaluation.json'"
            )
        self.name = name
        self.output = output
        self.path = path
        self.step: OutputWriter | None = None

    def require_step(self) -> OutputWriter:
        """Return the step that writes this file, or fail with the fix."""
        if self.step is None:
            raise GraphError(
                f"property file {self.name!r} is read, but no step writes it; add "
                f"property_files=[...] with it to the Processing step that has output "
                f"{self.output!r}"
            )
        return self.step

    @property
    def uri(self) -> Expression:
        """The S3 URI of the file: its output's prefix joined with its path."""
        step = self.require_step()
        return step.outputs[self.output] / self.path

    def __repr__(self) -> str:
        return f"PropertyFile({self.name!r}, output={self.output!r}, path={self.path!r})"


class JsonGet(Expression):
    """``Std:JsonGet``: the value at ``path`` (``a.b[0].c``) inside a property file."""

    def __init__(self, property_file: PropertyFile, path: str) -> None:
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

    def referenced_steps(self) -> list[StepRef]:
        step = self.property_file.step
        return [step] if step is not None else []

    def __repr__(self) -> str:
        return f"JsonGet({self.property_file.name!r}, {self.path!r})"
