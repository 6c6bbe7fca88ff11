"""Check a whole pipeline definition against the service's own rules before anything runs.

The executor turns step names into folder names, ``LocalPath`` values into sandbox paths
and ``s3://`` URIs into workspace paths, and it runs definitions that other tools and
people wrote. So the complete definition is checked here, once, before a single file is
written: names, lengths, counts and enum values follow the SageMaker API reference
(CreatePipeline, CreateProcessingJob, CreateTrainingJob, CreateModelPackage). Values given
as expressions (``{"Get": ...}``, ``{"Std:Join": ...}``) are checked again once resolved,
where they are used (see :mod:`sagepipe.local.containment` and :mod:`sagepipe.local.s3`).
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from . import s3

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # step and parameter names
CHANNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
IO_NAME = re.compile(r"[A-Za-z0-9._-]{1,256}")  # ProcessingInput/Output names (folder-safe)
GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ENV_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,255}")
PROCESSING_ROOT = "/opt/ml/processing"

MAX_PARAMETERS = 200
MAX_STEPS = 500  # far above any real pipeline; bounds the work a definition can ask for
MAX_PROCESSING_INPUTS = 10
MAX_PROCESSING_OUTPUTS = 10
MAX_CHANNELS = 20
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500
MAX_ENVIRONMENT = 100
MAX_LOCAL_PATH = 256
MAX_S3_URI = 1024
MAX_RUNTIME_SECONDS = 28 * 24 * 3600

# Model, Transform and QualityCheck run locally too (local/transform_plan.py,
# local/quality_check.py); their S3 locations are checked like the others.
STEP_TYPES = (
    "Processing",
    "Training",
    "Transform",
    "Model",
    "QualityCheck",
    "ClarifyCheck",
    "Condition",
    "Fail",
    "RegisterModel",
)
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
CONDITION_TYPES = (
    "Equals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "In",
    "Not",
    "Or",
)
ENUMS = {
    "S3DataType": ("S3Prefix", "ManifestFile", "AugmentedManifestFile"),
    "S3InputMode": ("File", "Pipe", "FastFile"),
    "S3DataDistributionType": ("FullyReplicated", "ShardedByS3Key"),
    "S3CompressionType": ("None", "Gzip"),
    "S3UploadMode": ("Continuous", "EndOfJob"),
    "SplitType": ("None", "Line", "RecordIO", "TFRecord"),
    "BatchStrategy": ("MultiRecord", "SingleRecord"),
    "AssembleWith": ("None", "Line"),
    "JoinSource": ("Input", "None"),
    "InputMode": ("File", "Pipe", "FastFile"),
    "TrainingInputMode": ("File", "Pipe", "FastFile"),
    "ModelApprovalStatus": ("Approved", "Rejected", "PendingManualApproval"),
}


class _Problems:
    """Collects every problem; the first one is reported, with the count of the rest."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(" ".join(message.split()))


def _is_expression(value: Any) -> bool:
    return isinstance(value, Mapping) and any(
        k in value for k in ("Get", "Std:Join", "Std:JsonGet")
    )


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_local_path(value: str) -> str | None:
    """Why a container ``LocalPath`` is unusable, or ``None`` when it is fine.

    SageMaker requires processing paths below ``/opt/ml/processing/``; checked after
    normalisation so ``/opt/ml/processing/../../etc`` is refused too.
    """
    if not isinstance(value, str) or not value:
        return "must be a non-empty text"
    if len(value) > MAX_LOCAL_PATH:
        return f"is longer than {MAX_LOCAL_PATH} characters"
    if "\0" in value or "\n" in value:
        return "contains a NUL or newline character"
    if not value.startswith("/"):
        return f"is not absolute: write it as {PROCESSING_ROOT}/<folder>"
    normal = posixpath.normpath(value)
    if not normal.startswith(PROCESSING_ROOT + "/"):
        return f"resolves to {normal!r}, outside {PROCESSING_ROOT}/: use a folder below it"
    return None


def check_s3_uri(value: Any) -> str | None:
    """Why a literal ``s3://`` URI is unusable (bucket rules, ``..`` keys), or ``None``."""
    if not isinstance(value, str):
        return f"S3 URI {_show(value)} must be a text s3://bucket/key URI"
    if len(value) > MAX_S3_URI:
        return f"S3 URI {_show(value)} is longer than {MAX_S3_URI} characters"
    try:
        s3.split_uri(value)
    except s3.S3UriError as exc:
        return str(exc)
    return None


class _Checker:
    def __init__(self, problems: _Problems) -> None:
        self.p = problems
        self.names: set[str] = set()
        self.count = 0

    # -- helpers --------------------------------------------------------------------------
    def enum(self, where: str, key: str, value: Any) -> None:
        if value is None or _is_expression(value):
            return
        allowed = ENUMS[key]
        if value not in allowed:
            self.p.add(f"{where}: {key} {_show(value)} is not one of {', '.join(allowed)}")

    def uri(self, where: str, value: Any, required: bool = True) -> None:
        if value is None:
            if required:
                self.p.add(f"{where}: S3Uri is missing: give an s3://bucket/key URI")
            return
        if _is_expression(value):
            return
        why = check_s3_uri(value)
        if why:
            self.p.add(f"{where}: {why}")

    def local_path(self, where: str, value: Any) -> None:
        if _is_expression(value):
            return
        why = check_local_path(value)
        if why:
            self.p.add(f"{where}: LocalPath {_show(value)} {why}")

    def listing(self, where: str, value: Any, limit: int, what: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.p.add(f"{where}: {what} must be a list, not {type(value).__name__}")
            return []
        if len(value) > limit:
            self.p.add(f"{where}: {len(value)} {what} exceed the service limit of {limit}")
        bad = [v for v in value if not isinstance(v, Mapping)]
        if bad:
            self.p.add(f"{where}: every entry of {what} must be an object, got {_show(bad[0])}")
        return [v for v in value if isinstance(v, Mapping)]

    def mapping(self, where: str, value: Any, what: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.p.add(f"{where}: {what} must be an object, not {type(value).__name__}")
            return {}
        return value

    def io_name(self, where: str, key: str, value: Any, pattern: re.Pattern[str]) -> None:
        if not isinstance(value, str) or not pattern.fullmatch(value) or value in (".", ".."):
            self.p.add(
                f"{where}: {key} {_show(value)} is not valid: use letters, digits, '-', '_'"
                f"{', ' + repr('.') if '.' in pattern.pattern else ''} (not '.' or '..')"
            )

    def environment(self, where: str, env: Any) -> None:
        env = self.mapping(where, env, "Environment")
        if len(env) > MAX_ENVIRONMENT:
            self.p.add(f"{where}: {len(env)} Environment entries exceed {MAX_ENVIRONMENT}")
        for key, value in env.items():
            if not ENV_KEY.fullmatch(str(key)):
                self.p.add(
                    f"{where}: Environment key {_show(key)} is not valid: use letters, digits "
                    "and '_', not starting with a digit"
                )
            if isinstance(value, str) and "\0" in value:
                self.p.add(f"{where}: Environment {key} contains a NUL character")

    # -- definition -----------------------------------------------------------------------
    def parameters(self, params: Any) -> None:
        params = self.listing("Parameters", params, MAX_PARAMETERS, "parameters")
        seen: set[str] = set()
        for param in params:
            name = param.get("Name")
            if not isinstance(name, str) or not NAME.fullmatch(name):
                self.p.add(
                    f"parameter name {_show(name)} is not valid: use 1-64 letters, digits, "
                    "'-' or '_'"
                )
            elif name in seen:
                self.p.add(f"parameter name {name!r} is used twice: names must be unique")
            seen.add(str(name))
            kind = param.get("Type", "String")
            if kind not in PARAMETER_TYPES:
                self.p.add(
                    f"parameter {name}: Type {_show(kind)} is not one of "
                    f"{', '.join(PARAMETER_TYPES)}"
                )
            default = param.get("DefaultValue")
            if isinstance(default, float) and not math.isfinite(default):
                self.p.add(f"parameter {name}: DefaultValue {default} is not a finite number")

    def steps(self, raw: Any, where: str = "Steps") -> None:
        if raw is None:
            return
        if not isinstance(raw, list):
            self.p.add(f"{where} must be a list of steps, not {type(raw).__name__}")
            return
        for step in raw:
            if not isinstance(step, Mapping):
                self.p.add(f"{where}: every step must be an object, got {_show(step)}")
                continue
            self.step(step)

    def step(self, step: Mapping[str, Any]) -> None:
        self.count += 1
        if self.count == MAX_STEPS + 1:
            self.p.add(f"the definition has more than {MAX_STEPS} steps: split the pipeline")
        name = step.get("Name")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            self.p.add(
                f"step name {_show(name)} is not valid: SageMaker allows 1-64 letters, digits, "
                "'-' or '_' (^[A-Za-z0-9_-]{1,64}$); rename the step"
            )
            name = _show(name)
        elif name in self.names:
            self.p.add(f"step name {name!r} is used twice: step names must be unique")
        self.names.add(str(name))
        where = f"step {name}"
        kind = step.get("Type")
        if kind not in STEP_TYPES:
            self.p.add(
                f"{where} has Type {_show(kind)}, which runs neither locally nor here: "
                f"use one of {', '.join(STEP_TYPES)}"
            )
        depends = step.get("DependsOn")
        if depends is not None and (
            not isinstance(depends, list)
            or not all(isinstance(d, str) and NAME.fullmatch(d) for d in depends)
        ):
            self.p.add(f"{where}: DependsOn {_show(depends)} must be a list of step names")
        cache = self.mapping(where, step.get("CacheConfig"), "CacheConfig")
        if "Enabled" in cache and not isinstance(cache["Enabled"], bool):
            self.p.add(f"{where}: CacheConfig.Enabled {_show(cache['Enabled'])} must be true/false")
        args = self.mapping(where, step.get("Arguments"), "Arguments")
        if kind == "Processing":
            self.processing(where, args, step.get("PropertyFiles"))
        elif kind == "Training":
            self.training(where, args)
        elif kind == "RegisterModel":
            self.register(where, args)
        elif kind == "Transform":
            self.transform(where, args)
        elif kind == "Condition":
            self.conditions(where, args.get("Conditions"))
            self.steps(args.get("IfSteps"), f"{where} IfSteps")
            self.steps(args.get("ElseSteps"), f"{where} ElseSteps")

    def transform(self, where: str, args: Mapping[str, Any]) -> None:
        source = self.mapping(where, args.get("TransformInput"), "TransformInput")
        data = self.mapping(where, source.get("DataSource"), "TransformInput.DataSource")
        s3 = self.mapping(where, data.get("S3DataSource"), "S3DataSource")
        self.uri(f"{where} TransformInput", s3.get("S3Uri"))
        self.enum(where, "SplitType", source.get("SplitType"))
        self.enum(where, "S3CompressionType", source.get("CompressionType"))
        self.enum(where, "BatchStrategy", args.get("BatchStrategy"))
        output = self.mapping(where, args.get("TransformOutput"), "TransformOutput")
        self.uri(f"{where} TransformOutput", output.get("S3OutputPath"))
        self.enum(where, "AssembleWith", output.get("AssembleWith"))
        processing = self.mapping(where, args.get("DataProcessing"), "DataProcessing")
        self.enum(where, "JoinSource", processing.get("JoinSource"))

    def processing(self, where: str, args: Mapping[str, Any], property_files: Any) -> None:
        inputs = self.listing(
            where, args.get("ProcessingInputs"), MAX_PROCESSING_INPUTS, "ProcessingInputs"
        )
        seen: set[str] = set()
        for item in inputs:
            name = item.get("InputName")
            self.io_name(where, "InputName", name, IO_NAME)
            if name in seen:
                self.p.add(f"{where}: InputName {name!r} is used twice")
            seen.add(str(name))
            source = item.get("S3Input")
            if isinstance(source, Mapping):
                at = f"{where} input {name}"
                self.uri(at, source.get("S3Uri"))
                self.local_path(at, source.get("LocalPath"))
                for key in ("S3DataType", "S3InputMode", "S3DataDistributionType"):
                    self.enum(at, key, source.get(key))
                self.enum(at, "S3CompressionType", source.get("S3CompressionType"))
        config = self.mapping(where, args.get("ProcessingOutputConfig"), "ProcessingOutputConfig")
        outputs = self.listing(
            where, config.get("Outputs"), MAX_PROCESSING_OUTPUTS, "ProcessingOutputs"
        )
        out_names: set[str] = set()
        for out in outputs:
            name = out.get("OutputName")
            self.io_name(where, "OutputName", name, IO_NAME)
            if name in out_names:
                self.p.add(f"{where}: OutputName {name!r} is used twice")
            out_names.add(str(name))
            dest = out.get("S3Output")
            if isinstance(dest, Mapping):
                at = f"{where} output {name}"
                self.uri(at, dest.get("S3Uri"))
                self.local_path(at, dest.get("LocalPath"))
                self.enum(at, "S3UploadMode", dest.get("S3UploadMode"))
        self.environment(where, args.get("Environment"))
        self.stopping(where, args.get("StoppingCondition"))
        for spec in self.listing(where, property_files, 100, "PropertyFiles"):
            file_path = spec.get("FilePath")
            if spec.get("OutputName") not in out_names:
                self.p.add(
                    f"{where}: property file {spec.get('PropertyFileName')!r} names output "
                    f"{_show(spec.get('OutputName'))}, which the step does not declare"
                )
            normal = posixpath.normpath(str(file_path)) if isinstance(file_path, str) else ""
            if not normal or normal.startswith(("/", "..")) or normal == ".":
                self.p.add(
                    f"{where}: property file path {_show(file_path)} must be a relative path "
                    "inside its output"
                )

    def training(self, where: str, args: Mapping[str, Any]) -> None:
        channels = self.listing(where, args.get("InputDataConfig"), MAX_CHANNELS, "channels")
        seen: set[str] = set()
        for channel in channels:
            name = channel.get("ChannelName")
            self.io_name(where, "ChannelName", name, CHANNEL_NAME)
            if name in seen:
                self.p.add(f"{where}: ChannelName {name!r} is used twice")
            seen.add(str(name))
            self.enum(f"{where} channel {name}", "InputMode", channel.get("InputMode"))
            source = self.mapping(where, channel.get("DataSource"), "DataSource")
            s3_source = source.get("S3DataSource")
            if isinstance(s3_source, Mapping):
                at = f"{where} channel {name}"
                self.uri(at, s3_source.get("S3Uri"))
                self.enum(at, "S3DataType", s3_source.get("S3DataType"))
                self.enum(at, "S3DataDistributionType", s3_source.get("S3DataDistributionType"))
        algo = self.mapping(where, args.get("AlgorithmSpecification"), "AlgorithmSpecification")
        self.enum(where, "TrainingInputMode", algo.get("TrainingInputMode"))
        output = self.mapping(where, args.get("OutputDataConfig"), "OutputDataConfig")
        self.uri(f"{where} OutputDataConfig", output.get("S3OutputPath"), required=False)
        hps = self.mapping(where, args.get("HyperParameters"), "HyperParameters")
        if len(hps) > MAX_HYPERPARAMETERS:
            self.p.add(f"{where}: {len(hps)} hyperparameters exceed {MAX_HYPERPARAMETERS}")
        for key, value in hps.items():
            if len(str(key)) > MAX_HYPERPARAMETER_KEY:
                self.p.add(f"{where}: hyperparameter name {_show(key)} is too long")
            if isinstance(value, str) and len(value) > MAX_HYPERPARAMETER_VALUE:
                self.p.add(
                    f"{where}: hyperparameter {key} is {len(value)} characters; the service "
                    f"limit is {MAX_HYPERPARAMETER_VALUE}"
                )
        program = hps.get("sagemaker_program")
        if isinstance(program, str):
            text = program[1:-1] if program.startswith('"') and program.endswith('"') else program
            normal = posixpath.normpath(text)
            if not text or normal.startswith(("/", "..")) or "\0" in text:
                self.p.add(
                    f"{where}: sagemaker_program {_show(program)} must name a file inside the "
                    "source archive (a relative path without '..')"
                )
        submit = hps.get("sagemaker_submit_directory")
        if isinstance(submit, str):
            text = submit[1:-1] if submit.startswith('"') and submit.endswith('"') else submit
            self.uri(f"{where} sagemaker_submit_directory", text)
        self.environment(where, args.get("Environment"))
        self.stopping(where, args.get("StoppingCondition"))

    def stopping(self, where: str, value: Any) -> None:
        stop = self.mapping(where, value, "StoppingCondition")
        limit = stop.get("MaxRuntimeInSeconds")
        if limit is None or _is_expression(limit):
            return
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_RUNTIME_SECONDS
        ):
            self.p.add(
                f"{where}: StoppingCondition.MaxRuntimeInSeconds {_show(limit)} must be a whole "
                f"number from 1 to {MAX_RUNTIME_SECONDS}"
            )

    def register(self, where: str, args: Mapping[str, Any]) -> None:
        group = args.get("ModelPackageGroupName")
        if isinstance(group, str) and not GROUP_NAME.fullmatch(group):
            self.p.add(
                f"{where}: ModelPackageGroupName {group!r} is not valid: use 1-63 letters, "
                "digits and '-'"
            )
        self.enum(where, "ModelApprovalStatus", args.get("ModelApprovalStatus"))
        spec = self.mapping(where, args.get("InferenceSpecification"), "InferenceSpecification")
        for container in self.listing(where, spec.get("Containers"), 15, "Containers"):
            url = container.get("ModelDataUrl")
            if url is not None:
                self.uri(f"{where} ModelDataUrl", url)

    def conditions(self, where: str, conditions: Any) -> None:
        for cond in self.listing(where, conditions, 100, "Conditions"):
            kind = cond.get("Type")
            if kind not in CONDITION_TYPES:
                self.p.add(
                    f"{where}: condition Type {_show(kind)} is not one of "
                    f"{', '.join(CONDITION_TYPES)}"
                )
            cargs = cond.get("Arguments")
            cargs = cargs if isinstance(cargs, Mapping) else {}
            if kind == "Not":
                inner = cargs.get("Expression")
                self.conditions(where, [inner] if inner is not None else [])
            elif kind == "Or":
                self.conditions(where, cargs.get("Conditions"))


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every rule the definition breaks, as one-line messages (empty when it is valid)."""
    problems = _Problems()
    checker = _Checker(problems)
    if not isinstance(definition, Mapping):
        return ["the definition must be a JSON object with 'Version' and 'Steps'"]
    checker.parameters(definition.get("Parameters"))
    checker.steps(definition.get("Steps"))
    return problems.items


def validate_definition(definition: Mapping[str, Any]) -> None:
    """Raise ``DefinitionError`` naming the first broken rule (and how many more there are)."""
    problems = definition_problems(definition)
    if problems:
        from .executor import DefinitionError  # imported here: executor imports this module

        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise DefinitionError(f"{problems[0]}{more}")
