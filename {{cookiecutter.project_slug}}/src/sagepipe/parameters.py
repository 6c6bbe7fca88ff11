"""Pipeline parameters: named values with defaults that an execution may override."""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from .errors import GraphError
from .expressions import Expression

# SageMaker's rule for parameter names (the public definition schema).
_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


class Parameter(Expression):
    """Base class of the typed parameters; use the subclasses."""

    type_name: ClassVar[str] = ""
    python_types: ClassVar[tuple[type, ...]] = ()
    example: ClassVar[Any] = None

    def __init__(self, name: str, default: Any = None, *, description: str | None = None) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise GraphError(
                f"parameter name {name!r} is invalid: use 1-64 letters, digits, '-' or '_' "
                "(for example 'InputDataUrl')"
            )
        self.name = name
        self.default = self._check_default(default)
        self.description = description

    def _check_default(self, default: Any) -> Any:
        if default is None:
            return None
        ok = isinstance(default, self.python_types) and not (
            isinstance(default, bool) and bool not in self.python_types
        )
        if not ok:
            expected = " or ".join(t.__name__ for t in self.python_types)
            raise GraphError(
                f"parameter {self.name!r}: default {default!r} is a {type(default).__name__}, "
                f"but a {type(self).__name__} needs {expected} (for example {self.example!r})"
            )
        if isinstance(default, float) and not math.isfinite(default):
            raise GraphError(
                f"parameter {self.name!r}: default {default!r} is not a finite number; "
                "JSON cannot hold it"
            )
        return default

    def to_request(self) -> dict[str, str]:
        return {"Get": f"Parameters.{self.name}"}

    def referenced_parameters(self) -> list[Any]:
        return [self]

    def declaration(self) -> dict[str, Any]:
        """Return the parameter's entry in the definition's ``Parameters`` list."""
        entry: dict[str, Any] = {"Name": self.name, "Type": self.type_name}
        if self.default is not None:
            entry["DefaultValue"] = self.default
        if self.description:
            entry["Description"] = self.description
        return entry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, default={self.default!r})"


class ParameterString(Parameter):
    """A string parameter, for example an S3 URI or an approval status."""

    type_name = "String"
    python_types = (str,)
    example = "s3://bucket/key"

    def __init__(
        self,
        name: str,
        default: str | None = None,
        *,
        enum_values: list[str] | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(name, default, description=description)
        self.enum_values = list(enum_values) if enum_values else None
        if self.enum_values and default is not None and default not in self.enum_values:
            raise GraphError(
                f"parameter {name!r}: default {default!r} is not one of its allowed values "
                f"{', '.join(self.enum_values)}"
            )

    def declaration(self) -> dict[str, Any]:
        """The SDK's declaration, with ``EnumValues`` when the allowed values are fixed."""
        entry = super().declaration()
        if self.enum_values:
            entry["EnumValues"] = list(self.enum_values)
        return entry


class ParameterInteger(Parameter):
    """An integer parameter."""

    type_name = "Integer"
    python_types = (int,)
    example = 100


class ParameterFloat(Parameter):
    """A floating-point parameter; integer defaults are stored as floats."""

    type_name = "Float"
    python_types = (float, int)
    example = 0.8

    def _check_default(self, default: Any) -> Any:
        checked = super()._check_default(default)
        return float(checked) if checked is not None else None


class ParameterBoolean(Parameter):
    """A boolean parameter."""

    type_name = "Boolean"
    python_types = (bool,)
    example = True


def default_of(fn: Any, name: str) -> Any:
    """The default of ``fn``'s parameter ``name``: one source for a pipeline parameter's default.

    ``ParameterInteger("MaxDepth", default=default_of(train_model, "max_depth"))`` keeps the
    step function's signature the only place the default is written, so editing it there
    changes what the pipeline runs with.
    """
    import inspect  # only pipeline building needs it

    label = getattr(fn, "__qualname__", repr(fn))
    try:
        parameter = inspect.signature(fn).parameters[name]
    except KeyError:
        raise GraphError(
            f"{label} has no parameter {name!r}; pass one of its parameters' names"
        ) from None
    if parameter.default is inspect.Parameter.empty:
        raise GraphError(
            f"{label}({name}) has no default; give it one in the signature "
            f"(e.g. {name}=...) or pass default= to the pipeline parameter"
        )
    return parameter.default
