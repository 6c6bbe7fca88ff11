"""Steps of a pipeline: Processing, Training, Condition and Fail (RegisterModel: register.py).

Steps only describe the graph; ``compile.py`` turns them into definition JSON. Every
constructor validates eagerly, so a mistake fails where the pipeline is built, with one
message naming the step, the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from . import contract
from .conditions import ConditionExpr, flatten
from .errors import GraphError
from .expressions import (
    Expression,
    Join,
    StepRef,
    Value,
    check_value,
    parameters_of,
    steps_of,
)
from .parameters import Parameter, ParameterString
from .properties import PropertyFile, StepProperty

# SageMaker's rule for step names (the public definition schema).
_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Step types SageMaker allows inside a Condition's branches (of those sagepipe builds).
BRANCH_STEP_TYPES = ("Processing", "Training", "RegisterModel", "Fail")
# The code tree of a processing step arrives in /opt/ml/processing/input/code.
RESERVED_INPUTS = ("code",)


@dataclass(frozen=True)
class CacheConfig:
    """Step caching, as SageMaker's ``CacheConfig`` (``expire_after`` is ISO 8601)."""

    enabled: bool = True
    expire_after: str | None = "P30D"

    def __post_init__(self) -> None:
        if self.expire_after is not None and not re.match(
            r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$",
            self.expire_after,
        ):
            raise GraphError(
                f"CacheConfig expire_after {self.expire_after!r} is not an ISO 8601 duration; "
                "use for example 'P30D' or 'PT12H'"
            )

    def to_request(self) -> dict[str, Any]:
        """Return the step's ``CacheConfig`` JSON."""
        config: dict[str, Any] = {"Enabled": self.enabled}
        if self.expire_after is not None:
            config["ExpireAfter"] = self.expire_after
        return config


class Step:
    """Base class of all steps."""

    type_name: ClassVar[str] = ""

    def __init__(
        self,
        name: str,
        *,
        depends_on: Sequence[Step] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not _STEP_NAME.match(name):
            raise GraphError(
                f"step name {name!r} is invalid: use 1-64 letters, digits, '-' or '_' "
                "(for example 'Preprocess')"
            )
        self.name = name
        self.depends_on: list[Step] = []
        for dependency in depends_on or []:
            if not isinstance(dependency, Step):
                raise GraphError(
                    f"step {name!r}: depends_on entry {dependency!r} is not a step; "
                    "pass the step objects themselves"
                )
            self.depends_on.append(dependency)
        self.display_name = display_name
        self.description = description

    def values(self) -> list[Any]:
        """Return every value of the step that may hold an expression."""
        return []

    def data_dependencies(self) -> list[Step]:
        """Return the steps whose results this step reads."""
        return _as_steps(self.name, steps_of(self.values()))

    def upstream(self) -> list[Step]:
        """Return data dependencies and explicit ``depends_on`` steps, without repeats."""
        seen: list[Step] = []
        for step in [*self.data_dependencies(), *self.depends_on]:
            if all(step is not s for s in seen):
                seen.append(step)
        return seen

    def parameters(self) -> list[Parameter]:
        """Return the pipeline parameters this step reads."""
        return parameters_of(self.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class UnknownOutputError(GraphError, AttributeError):
    """A reference to an output the step does not have (also an AttributeError, so
    ``hasattr`` and tab completion keep working)."""


class Outputs:
    """The outputs of a Processing step as attributes: ``prep.outputs.train``."""

    def __init__(self, step: Processing, names: Sequence[str]) -> None:
        self._step = step
        self._names = tuple(names)

    def __getattr__(self, name: str) -> StepProperty:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> StepProperty:
        if name not in self._names:
            raise UnknownOutputError(
                f"step {self._step.name!r} has no output {name!r}; "
                f"outputs: {', '.join(sorted(self._names)) or '(none)'}"
            )
        return StepProperty(
            self._step,
            f"ProcessingOutputConfig.Outputs['{name}'].S3Output.S3Uri",
            f"{self._step.name}.outputs.{name}",
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __dir__(self) -> list[str]:
        return sorted(self._names)


@dataclass(frozen=True)
class Resources:
    """Compute of a job; ``None`` fields take the compile settings' defaults."""

    instance_type: str | Parameter | None = None
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int | None = None


class FunctionStep(Step):
    """A step that runs code in a container (Processing or Training).

    The code is a step function (``fn``: bound to the job by its signature, checked
    here) or a script (``script``: a ``.py`` file that reads its own ``--name value``
    arguments; its folder is shipped with it, so it may import its neighbours).
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None,
        *,
        script: str | Path | None,
        depends_on: Sequence[Step] | None,
        cache: CacheConfig | None,
        instance_type: str | Parameter | None,
        instance_count: int,
        volume_size_gb: int,
        max_runtime_seconds: int | None,
        environment: Mapping[str, Value] | None,
        image_uri: str | None,
        display_name: str | None,
        description: str | None,
    ) -> None:
        super().__init__(
            name, depends_on=depends_on, display_name=display_name, description=description
        )
        if (fn is None) == (script is None):
            raise GraphError(
                f"step {name!r}: give either fn= (a step function) or script= (a .py file), "
                "not both and not neither"
            )
        self.fn: Callable[..., Any] | None = None
        self.script: Path | None = None
        self.specs: dict[str, contract.ParamSpec] = {}
        if fn is not None:
            self.fn = _check_function(name, fn)
            try:
                self.specs = {spec.name: spec for spec in contract.describe(fn)}
            except contract.ContractError as exc:
                raise GraphError(f"step {name!r}: {exc}") from None
        else:
            self.script = _check_script(name, script)
        if cache is not None and not isinstance(cache, CacheConfig):
            raise GraphError(f"step {name!r}: cache={cache!r} must be a CacheConfig")
        self.cache = cache
        for label, number in (
            ("instance_count", instance_count),
            ("volume_size_gb", volume_size_gb),
        ):
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                raise GraphError(f"step {name!r}: {label}={number!r} must be a positive integer")
        if instance_type is not None and not isinstance(instance_type, (str, Parameter)):
            raise GraphError(
                f"step {name!r}: instance_type={instance_type!r} must be a string like "
                "'ml.m5.large' or a ParameterString"
            )
        self.resources = Resources(
            instance_type, instance_count, volume_size_gb, max_runtime_seconds
        )
        self.environment = dict(environment or {})
        for key, value in self.environment.items():
            if not isinstance(value, (str, Expression)):
                raise GraphError(
                    f"step {name!r}: environment variable {key}={value!r} must be a string"
                )
        self.image_uri = image_uri

    @property
    def target(self) -> str:
        """``module:function`` that the generated entry script imports (function steps)."""
        if self.fn is None:
            raise GraphError(f"step {self.name!r} runs a script, not a step function")
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    def signature_text(self) -> str:
        """The function's name and parameters, for error messages."""
        if self.fn is None:
            return str(self.script)
        return f"{self.fn.__name__}({', '.join(self.specs)})"

    def _check_bound_folder(self, role: str, name: str) -> None:
        if self.fn is None:  # a script parses its own arguments
            if not _IDENTIFIER.match(name):
                raise GraphError(
                    f"step {self.name!r}: {role} name {name!r} must be a Python identifier"
                )
            return
        spec = self.specs.get(name)
        if spec is None:
            raise GraphError(
                f"step {self.name!r}: {role} {name!r} is not a parameter of "
                f"{self.signature_text()}; {role}s bind to its Path parameters"
            )
        if not spec.is_path:
            raise GraphError(
                f"step {self.name!r}: {role} {name!r} binds to parameter {name!r} of "
                f"{self.signature_text()}, which is annotated {spec.type.__name__}, not Path"
            )

    def _check_required_folders(self, provided: set[str], *, provider: str, fix: str) -> None:
        """Every required Path parameter of ``fn`` must be bound to a folder in ``provided``.

        ``fix`` is a ``str.format`` template for the remedy, given the folder as ``name``.
        """
        for spec in self.specs.values():
            if spec.is_path and spec.required and spec.name not in provided:
                raise GraphError(
                    f"step {self.name!r}: {self.signature_text()} needs folder {spec.name!r}, "
                    f"but no {provider} provides it; {fix.format(name=spec.name)}"
                )

    def _check_values(self, role: str, values: Mapping[str, Any]) -> None:
        accepted = sorted(n for n, s in self.specs.items() if not s.is_path)
        for name, value in values.items():
            if self.fn is None:
                if not _IDENTIFIER.match(name):
                    raise GraphError(
                        f"step {self.name!r}: {role} name {name!r} must be a Python identifier"
                    )
                check_value(value)
                continue
            spec = self.specs.get(name)
            if spec is None:
                raise GraphError(
                    f"step {self.name!r}: {role} {name!r} is not accepted by "
                    f"{self.signature_text()}; accepted {role}s: {', '.join(accepted) or '(none)'}"
                )
            if spec.is_path:
                raise GraphError(
                    f"step {self.name!r}: {role} {name!r} is a Path parameter of "
                    f"{self.signature_text()}; folders are bound as inputs, outputs or channels"
                )
            if isinstance(value, Expression):
                continue
            if not isinstance(value, (str, int, float, bool)):
                raise GraphError(
                    f"step {self.name!r}: {role} {name}={value!r} must be a str, int, float, "
                    "bool or a Parameter"
                )
            try:
                contract.convert(_as_text(value), spec.type, name)
            except contract.ContractError as exc:
                raise GraphError(
                    f"step {self.name!r}: {role} {exc} for {self.signature_text()}"
                ) from None
        for spec in self.specs.values():
            if not spec.is_path and spec.required and spec.name not in values:
                raise GraphError(
                    f"step {self.name!r}: {self.signature_text()} needs {role} {spec.name!r}; "
                    f"add it to the step's {role}s"
                )


class Processing(FunctionStep):
    """A processing job that runs ``fn`` with its inputs, outputs and arguments.

    ``inputs`` maps Path parameters of ``fn`` to S3 URIs or expressions (parameters,
    other steps' outputs); ``outputs`` lists Path parameters that become this step's
    outputs (``step.outputs.NAME``); ``arguments`` gives its other parameters.
    """

    type_name = "Processing"

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        script: str | Path | None = None,
        inputs: Mapping[str, Value] | None = None,
        outputs: Sequence[str] = (),
        arguments: Mapping[str, Value] | None = None,
        property_files: Sequence[PropertyFile] = (),
        depends_on: Sequence[Step] | None = None,
        cache: CacheConfig | None = None,
        instance_type: str | Parameter | None = None,
        instance_count: int = 1,
        volume_size_gb: int = 30,
        max_runtime_seconds: int | None = None,
        environment: Mapping[str, Value] | None = None,
        image_uri: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name,
            fn,
            script=script,
            depends_on=depends_on,
            cache=cache,
            instance_type=instance_type,
            instance_count=instance_count,
            volume_size_gb=volume_size_gb,
            max_runtime_seconds=max_runtime_seconds,
            environment=environment,
            image_uri=image_uri,
            display_name=display_name,
            description=description,
        )
        if isinstance(outputs, str):
            raise GraphError(f"step {name!r}: outputs must be a list of names, not {outputs!r}")
        self.inputs = dict(inputs or {})
        self.arguments = dict(arguments or {})
        output_names = list(outputs)
        for input_name, value in self.inputs.items():
            if input_name in RESERVED_INPUTS:
                raise GraphError(
                    f"step {name!r}: input name {input_name!r} is reserved for the step's code; "
                    "rename the function parameter"
                )
            self._check_bound_folder("input", input_name)
            check_uri_value(name, f"input {input_name!r}", value)
        for output_name in output_names:
            if output_names.count(output_name) > 1:
                raise GraphError(f"step {name!r}: output {output_name!r} is listed twice")
            if output_name in self.inputs:
                raise GraphError(
                    f"step {name!r}: {output_name!r} is both an input and an output; "
                    "a folder is one or the other"
                )
            self._check_bound_folder("output", output_name)
        self._check_required_folders(
            {*self.inputs, *output_names},
            provider="input or output",
            fix="add {name!r} to outputs= (or inputs=)",
        )
        self._check_values("argument", self.arguments)
        self.outputs = Outputs(self, output_names)
        self.property_files = list(property_files)
        for property_file in self.property_files:
            if not isinstance(property_file, PropertyFile):
                raise GraphError(
                    f"step {name!r}: property_files entry {property_file!r} is not a PropertyFile"
                )
            if property_file.output not in output_names:
                raise GraphError(
                    f"step {name!r}: property file {property_file.name!r} is in output "
                    f"{property_file.output!r}, which the step does not have; outputs: "
                    f"{', '.join(sorted(output_names)) or '(none)'}"
                )
            if property_file.step is not None and property_file.step is not self:
                raise GraphError(
                    f"property file {property_file.name!r} is already written by step "
                    f"{property_file.step.name!r}; each property file belongs to one step"
                )
            property_file.step = self

    def values(self) -> list[Any]:
        return [
            *self.inputs.values(),
            *self.arguments.values(),
            *self.environment.values(),
            self.resources.instance_type,
        ]


class Training(FunctionStep):
    """A training job that runs ``fn`` with channels and hyperparameters.

    ``channels`` maps Path parameters of ``fn`` to S3 URIs or expressions. Path
    parameters named ``model_dir`` and ``output_data_dir`` are the job's model and
    output folders. ``step.model_artifacts`` is the S3 URI of the packed model and
    ``step.output_data`` the S3 URI of ``output.tar.gz``, the packed ``output_data_dir``
    (files a later step reads that should not ship inside the model).
    """

    type_name = "Training"

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        script: str | Path | None = None,
        channels: Mapping[str, Value] | None = None,
        hyperparameters: Mapping[str, Value] | None = None,
        depends_on: Sequence[Step] | None = None,
        cache: CacheConfig | None = None,
        instance_type: str | Parameter | None = None,
        instance_count: int = 1,
        volume_size_gb: int = 30,
        max_runtime_seconds: int | None = 86400,
        environment: Mapping[str, Value] | None = None,
        image_uri: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name,
            fn,
            script=script,
            depends_on=depends_on,
            cache=cache,
            instance_type=instance_type,
            instance_count=instance_count,
            volume_size_gb=volume_size_gb,
            max_runtime_seconds=max_runtime_seconds,
            environment=environment,
            image_uri=image_uri,
            display_name=display_name,
            description=description,
        )
        self.channels = dict(channels or {})
        self.hyperparameters = dict(hyperparameters or {})
        special = (contract.MODEL_DIR, contract.OUTPUT_DATA_DIR)
        for channel, value in self.channels.items():
            if channel in special:
                raise GraphError(
                    f"step {name!r}: {channel!r} is the job's own folder, not a channel; "
                    "rename the channel"
                )
            if not _IDENTIFIER.match(channel):
                raise GraphError(
                    f"step {name!r}: channel name {channel!r} must be a Python identifier"
                )
            self._check_bound_folder("channel", channel)
            check_uri_value(name, f"channel {channel!r}", value)
        self._check_required_folders(
            {*special, *self.channels},
            provider="channel",
            fix="add channels={{{name!r}: ...}}",
        )
        self._check_values("hyperparameter", self.hyperparameters)
        self.model_artifacts = StepProperty(
            self, "ModelArtifacts.S3ModelArtifacts", f"{name}.model_artifacts"
        )
        # SageMaker has no property for output.tar.gz; the container writes it at
        # <S3OutputPath>/<TrainingJobName>/output/output.tar.gz, as the SDK documents.
        self.output_data = Join(
            on="/",
            values=[
                StepProperty(self, "OutputDataConfig.S3OutputPath", f"{name}.output_path"),
                StepProperty(self, "TrainingJobName", f"{name}.job_name"),
                "output",
                "output.tar.gz",
            ],
        )

    def values(self) -> list[Any]:
        return [
            *self.channels.values(),
            *self.hyperparameters.values(),
            *self.environment.values(),
            self.resources.instance_type,
        ]


class Condition(Step):
    """Branch: run ``if_steps`` when all ``conditions`` hold, else ``else_steps``."""

    type_name = "Condition"

    def __init__(
        self,
        name: str,
        *,
        conditions: Sequence[ConditionExpr],
        if_steps: Sequence[Step] = (),
        else_steps: Sequence[Step] = (),
        depends_on: Sequence[Step] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name, depends_on=depends_on, display_name=display_name, description=description
        )
        if isinstance(conditions, ConditionExpr) or not conditions:
            raise GraphError(f"step {name!r}: conditions must be a non-empty list of conditions")
        for condition in conditions:
            if not isinstance(condition, ConditionExpr):
                raise GraphError(
                    f"step {name!r}: {condition!r} is not a condition; build one with "
                    "ge()/gt()/le()/lt()/eq()/ne()/in_()/not_()/or_()/and_()"
                )
        self.conditions = flatten(list(conditions))
        for label, branch in (("if_steps", if_steps), ("else_steps", else_steps)):
            for step in branch:
                if step.type_name not in BRANCH_STEP_TYPES:
                    raise GraphError(
                        f"step {name!r}: {label} entry {step!r} cannot run in a branch; "
                        "use Processing, Training, RegisterModel or Fail steps"
                    )
        self.if_steps = list(if_steps)
        self.else_steps = list(else_steps)

    def values(self) -> list[Any]:
        return [v for condition in self.conditions for v in condition.values()]

    def branch_steps(self) -> list[Step]:
        """Return the steps of both branches."""
        return [*self.if_steps, *self.else_steps]


class Fail(Step):
    """Stop the execution as failed with ``message`` (a string or an expression)."""

    type_name = "Fail"

    def __init__(
        self,
        name: str,
        *,
        message: Value = "",
        depends_on: Sequence[Step] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name, depends_on=depends_on, display_name=display_name, description=description
        )
        check_value(message)
        self.message = message

    def values(self) -> list[Any]:
        return [self.message]


def _check_function(step_name: str, fn: Any) -> Callable[..., Any]:
    if not callable(fn) or not hasattr(fn, "__code__"):
        raise GraphError(f"step {step_name!r}: fn={fn!r} must be a Python function")
    if fn.__module__ in ("__main__", "__mp_main__") or fn.__module__ is None:
        raise GraphError(
            f"step {step_name!r}: function {fn.__name__} is defined in __main__ (a script or "
            "notebook); move it into a module of your package so the job can import it"
        )
    if "." in fn.__qualname__ or "<" in fn.__qualname__:
        raise GraphError(
            f"step {step_name!r}: function {fn.__qualname__} is not defined at the top level of "
            f"module {fn.__module__}; jobs import step functions by module and name"
        )
    checked: Callable[..., Any] = fn
    return checked


def _check_script(step_name: str, script: Any) -> Path:
    if not isinstance(script, (str, Path)):
        raise GraphError(f"step {step_name!r}: script={script!r} must be a path to a .py file")
    path = Path(script).resolve()
    if path.suffix != ".py" or not path.is_file():
        raise GraphError(
            f"step {step_name!r}: script {str(script)!r} is not an existing .py file; pass "
            "e.g. Path(__file__).parent / 'scripts' / 'prepare.py'"
        )
    return path


def check_uri_value(step_name: str, label: str, value: Any) -> None:
    if isinstance(value, Training):
        raise GraphError(
            f"step {step_name!r}: {label} is the step {value.name!r} itself; pass "
            f"{value.name}.model_artifacts (its packed model)"
        )
    if isinstance(value, Processing):
        raise GraphError(
            f"step {step_name!r}: {label} is the step {value.name!r} itself; pass one of its "
            f"outputs, e.g. .outputs.{sorted(value.outputs)[0] if len(value.outputs) else 'NAME'}"
        )
    if isinstance(value, Parameter) and not isinstance(value, ParameterString):
        raise GraphError(
            f"step {step_name!r}: {label} is {value!r}; an S3 location must be a ParameterString"
        )
    if isinstance(value, Expression):
        return
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise GraphError(
            f"step {step_name!r}: {label} is {value!r}; use an s3:// URI, a ParameterString "
            "or another step's output"
        )


def _as_text(value: str | int | float | bool) -> str:
    """The text a literal becomes in container arguments and hyperparameters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def walk_values(values: list[Any]) -> list[Any]:
    """The values and, recursively, the values inside Joins (to find every JsonGet)."""
    flat: list[Any] = []
    for value in values:
        flat.append(value)
        if isinstance(value, Join):
            flat.extend(walk_values(value.values))
    return flat


def _as_steps(step_name: str, references: list[StepRef]) -> list[Step]:
    """The steps behind ``references``: expressions know steps only by name (StepRef), but
    every reference is handed out by a step, so anything else is a hand-built mistake."""
    steps: list[Step] = []
    for reference in references:
        if not isinstance(reference, Step):
            raise GraphError(
                f"step {step_name!r} reads from {reference!r}, which is not a step; use the "
                "properties a step hands out, such as step.outputs.NAME"
            )
        steps.append(reference)
    return steps
