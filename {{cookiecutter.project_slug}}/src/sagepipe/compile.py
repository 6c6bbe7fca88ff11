"""Compile a :class:`~sagepipe.graph.Pipeline` to SageMaker's pipeline definition JSON.

Offline and deterministic: no AWS call, no credentials, no timestamps. The same graph,
code and settings give byte-identical JSON, and code objects are addressed by the
sha256 digest of their content (``s3://<bucket>/<prefix>/code/<digest>/...``), so
recompiling unchanged code changes nothing and step caches keep working.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import compile_lineage, images, packaging
from .errors import GraphError
from .expressions import ExecutionVariables, Join, render
from .graph import Pipeline
from .network import Network, secure_processing, secure_training
from .parameters import Parameter
from .processing_io import processing_input, processing_output
from .register import RegisterModel
from .steps import Condition, Fail, FunctionStep, Processing, Step, Training

DEFINITION_VERSION = "2020-12-01"
PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ROLE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class Compiled:
    """A compiled pipeline: the definition and the code objects it points at."""

    definition: dict[str, Any]
    artifacts: dict[str, bytes] = field(default_factory=dict)
    code_digests: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Canonical JSON bytes: sorted keys, 2-space indent, trailing newline."""
        return (
            json.dumps(self.definition, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()

    def write_artifacts(self, s3_root: Path) -> list[Path]:
        """Write each ``s3://b/k`` artifact to ``s3_root/b/k``; return the written paths.

        Each file is written to a temporary name and renamed, so a crash never leaves a
        half-written code object behind; files already holding the same bytes are kept.
        """
        written = []
        for uri, data in sorted(self.artifacts.items()):
            target = Path(s3_root) / uri.removeprefix("s3://")
            if target.is_file() and target.read_bytes() == data:
                written.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)
            written.append(target)
        return written


@dataclass(frozen=True)
class _Settings:
    bucket: str
    prefix: str
    role: str
    image_uri: str
    region: str
    processing_instance_type: str | Parameter
    training_instance_type: str | Parameter
    inference_instance_types: tuple[str, ...]
    transform_instance_types: tuple[str, ...]
    network: Network | None = None

    def s3(self, *parts: str) -> str:
        return "s3://" + "/".join(p for p in (self.bucket, self.prefix, *parts) if p)

    def execution_prefix(self, *parts: str) -> Join:
        """``s3://bucket/prefix/<execution id>/parts...``, as the SDK builds output URIs."""
        values: list[Any] = ["s3:/", self.bucket]
        if self.prefix:
            values.append(self.prefix)
        values.append(ExecutionVariables.PIPELINE_EXECUTION_ID)
        values.extend(parts)
        return Join(on="/", values=values)


def compile_pipeline(
    pipeline: Pipeline,
    *,
    bucket: str,
    prefix: str = "",
    role: str,
    region: str = "us-east-1",
    image_uri: str | None = None,
    processing_instance_type: str | Parameter = DEFAULT_INSTANCE_TYPE,
    training_instance_type: str | Parameter = DEFAULT_INSTANCE_TYPE,
    inference_instance_types: Sequence[str] = (DEFAULT_INSTANCE_TYPE,),
    transform_instance_types: Sequence[str] = (DEFAULT_INSTANCE_TYPE,),
    network: Network | None = None,
) -> Compiled:
    """Compile ``pipeline`` to a definition and its content-addressed code objects.

    ``image_uri`` defaults to SageMaker's scikit-learn image of ``region``; steps may
    override it. Instance types are the defaults for steps that set none. ``network``
    (subnets, security groups, KMS key) puts every job in a private VPC: see network.py.
    """
    if not isinstance(pipeline, Pipeline):
        raise GraphError(f"compile_pipeline needs a Pipeline, got {pipeline!r}")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        raise GraphError(
            f"bucket {bucket!r} is not a valid S3 bucket name: use 3-63 lowercase letters, "
            "digits, '.' or '-'"
        )
    clean_prefix = prefix.strip("/")
    if "//" in clean_prefix or any(p in (".", "..") for p in clean_prefix.split("/")):
        raise GraphError(f"prefix {prefix!r} has an empty or relative segment; use e.g. 'churn'")
    if not isinstance(role, str) or not _ROLE.match(role):
        raise GraphError(
            f"role {role!r} is not an IAM role ARN; use arn:aws:iam::<12-digit account>:role/NAME"
        )
    if not _REGION.match(region):
        raise GraphError(f"region {region!r} is not an AWS region name like 'eu-west-1'")
    for label, value in (
        ("processing_instance_type", processing_instance_type),
        ("training_instance_type", training_instance_type),
    ):
        if isinstance(value, Parameter) and all(value is not p for p in pipeline.parameters):
            raise GraphError(
                f"{label} uses parameter {value.name!r}, which the pipeline does not declare; "
                "add it to Pipeline(parameters=...)"
            )
    settings = _Settings(
        bucket=bucket,
        prefix=clean_prefix,
        role=role,
        image_uri=image_uri or images.sklearn_image_uri(region),
        region=region,
        processing_instance_type=processing_instance_type,
        training_instance_type=training_instance_type,
        inference_instance_types=tuple(inference_instance_types),
        transform_instance_types=tuple(transform_instance_types),
        network=network,
    )
    compiler = _Compiler(settings)
    steps = [compiler.step(step) for step in pipeline.steps]
    # After every step is compiled, so the code digest covers all of them.
    compile_lineage.attach(
        steps, compile_lineage.metadata([p.name for p in pipeline.parameters], compiler.digests)
    )
    definition = {
        "Version": DEFINITION_VERSION,
        "Metadata": {},
        "Parameters": [p.declaration() for p in pipeline.parameters],
        "Steps": steps,
    }
    return Compiled(definition, dict(sorted(compiler.artifacts.items())), compiler.digests)


class _Compiler:
    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.artifacts: dict[str, bytes] = {}
        self.digests: dict[str, str] = {}

    def step(self, step: Step) -> dict[str, Any]:
        if isinstance(step, Processing):
            request = self.processing(step)
        elif isinstance(step, Training):
            request = self.training(step)
        elif isinstance(step, Condition):
            request = self.condition(step)
        elif isinstance(step, Fail):
            request = {
                "Name": step.name,
                "Type": "Fail",
                "Arguments": {"ErrorMessage": render(step.message)},
            }
        elif isinstance(step, RegisterModel):
            request = self.register_model(step)
        elif hasattr(step, "compile_request"):  # steps that compile themselves (QualityCheck)
            request = step.compile_request(self.settings)
            if hasattr(step, "compile_artifacts"):  # ClarifyCheck's analysis_config.json
                self.artifacts.update(step.compile_artifacts(self.settings))
        else:  # pragma: no cover - the graph accepts no other step types
            raise GraphError(f"step {step.name!r} has unsupported type {type(step).__name__}")
        if step.depends_on:
            request["DependsOn"] = list(dict.fromkeys(s.name for s in step.depends_on))
        if step.display_name:
            request["DisplayName"] = step.display_name
        if step.description:
            request["Description"] = step.description
        if isinstance(step, FunctionStep) and step.cache is not None:
            request["CacheConfig"] = step.cache.to_request()
        return request

    def processing(self, step: Processing) -> dict[str, Any]:
        tree, entry = _code(step, "processing", list(step.outputs))
        code_prefix = self._publish_tree(step, tree)
        container_arguments: list[Any] = []
        folders = {name: f"{PROCESSING_ROOT}/input/{name}" for name in step.inputs}
        folders.update({name: f"{PROCESSING_ROOT}/output/{name}" for name in step.outputs})
        for name in sorted(folders):
            container_arguments += [f"--{name}", folders[name]]
        for name in sorted(step.arguments):
            container_arguments += [f"--{name}", _argument_text(step.arguments[name])]
        app: dict[str, Any] = {
            "ImageUri": step.image_uri or self.settings.image_uri,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{entry}"],
        }
        if container_arguments:
            app["ContainerArguments"] = container_arguments
        inputs = [
            processing_input(name, render(value), folders[name])
            for name, value in step.inputs.items()
        ]
        inputs.append(processing_input("code", code_prefix, CODE_DIR))
        outputs = [
            processing_output(
                name,
                self.settings.execution_prefix(step.name, "output", name).to_request(),
                folders[name],
            )
            for name in step.outputs
        ]
        arguments: dict[str, Any] = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": render(
                        _first(step.resources.instance_type, self.settings.processing_instance_type)
                    ),
                    "InstanceCount": step.resources.instance_count,
                    "VolumeSizeInGB": step.resources.volume_size_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.settings.role,
            "ProcessingInputs": inputs,
        }
        if outputs:
            arguments["ProcessingOutputConfig"] = {"Outputs": outputs}
        if step.resources.max_runtime_seconds:
            arguments["StoppingCondition"] = {
                "MaxRuntimeInSeconds": step.resources.max_runtime_seconds
            }
        if step.environment:
            arguments["Environment"] = {k: render(v) for k, v in step.environment.items()}
        secure_processing(arguments, self.settings.network)
        request: dict[str, Any] = {"Name": step.name, "Type": "Processing", "Arguments": arguments}
        if step.property_files:
            request["PropertyFiles"] = [
                {"PropertyFileName": pf.name, "OutputName": pf.output, "FilePath": pf.path}
                for pf in step.property_files
            ]
        return request

    def training(self, step: Training) -> dict[str, Any]:
        tree, entry = _code(step, "training")
        digest = tree.digest
        sourcedir = self.settings.s3("code", digest, "sourcedir.tar.gz")
        self.artifacts[sourcedir] = tree.tarball()
        self.digests[step.name] = digest
        hyperparameters: dict[str, Any] = {
            name: _hyperparameter_text(value) for name, value in step.hyperparameters.items()
        }
        # Framework containers read these, JSON-encoded, as the SageMaker SDK writes them.
        hyperparameters.update(
            {
                "sagemaker_submit_directory": json.dumps(sourcedir),
                "sagemaker_program": json.dumps(entry),
                "sagemaker_container_log_level": "20",
                "sagemaker_region": json.dumps(self.settings.region),
            }
        )
        arguments: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": step.image_uri or self.settings.image_uri,
            },
            "OutputDataConfig": {
                "S3OutputPath": self.settings.execution_prefix(step.name).to_request()
            },
            "ResourceConfig": {
                "InstanceType": render(
                    _first(step.resources.instance_type, self.settings.training_instance_type)
                ),
                "InstanceCount": step.resources.instance_count,
                "VolumeSizeInGB": step.resources.volume_size_gb,
            },
            "RoleArn": self.settings.role,
            "HyperParameters": hyperparameters,
        }
        if step.resources.max_runtime_seconds:
            arguments["StoppingCondition"] = {
                "MaxRuntimeInSeconds": step.resources.max_runtime_seconds
            }
        if step.channels:
            arguments["InputDataConfig"] = [
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": render(value),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
                for name, value in step.channels.items()
            ]
        if step.environment:
            arguments["Environment"] = {k: render(v) for k, v in step.environment.items()}
        secure_training(arguments, self.settings.network)
        return {"Name": step.name, "Type": "Training", "Arguments": arguments}

    def condition(self, step: Condition) -> dict[str, Any]:
        return {
            "Name": step.name,
            "Type": "Condition",
            "Arguments": {
                "Conditions": [c.to_request() for c in step.conditions],
                "IfSteps": [self.step(s) for s in step.if_steps],
                "ElseSteps": [self.step(s) for s in step.else_steps],
            },
        }

    def register_model(self, step: RegisterModel) -> dict[str, Any]:
        image = step.image_uri or (step.training.image_uri if step.training else None)
        environment: dict[str, Any] = {}
        if step.inference_program:
            # What SageMaker's framework serving containers read to find the handler
            # that the training step packed into model.tar.gz's code/ folder.
            environment.update(
                {
                    "SAGEMAKER_PROGRAM": step.inference_program,
                    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    "SAGEMAKER_REGION": self.settings.region,
                }
            )
        environment.update({k: render(v) for k, v in step.environment.items()})
        specification: dict[str, Any] = {
            "Containers": [
                {
                    "Image": image or self.settings.image_uri,
                    "Environment": environment,
                    "ModelDataUrl": render(step.model_data),
                }
            ],
            "SupportedContentTypes": step.content_types,
            "SupportedResponseMIMETypes": step.response_types,
            "SupportedRealtimeInferenceInstanceTypes": list(
                step.inference_instances or self.settings.inference_instance_types
            ),
            "SupportedTransformInstanceTypes": list(
                step.transform_instances or self.settings.transform_instance_types
            ),
        }
        arguments: dict[str, Any] = {
            "ModelPackageGroupName": render(step.group),
            "InferenceSpecification": specification,
            "ModelApprovalStatus": render(step.approval_status),
            "SkipModelValidation": "None",
        }
        if step.metrics is not None:
            arguments["ModelMetrics"] = step.metrics.to_request()
        if step.customer_metadata:
            arguments["CustomerMetadataProperties"] = step.customer_metadata
        if step.drift_check_baselines is not None:
            arguments["DriftCheckBaselines"] = step.drift_check_baselines.to_request(
                empty_sections=False
            )
        if step.model_description:
            arguments["ModelPackageDescription"] = step.model_description
        return {"Name": step.name, "Type": "RegisterModel", "Arguments": arguments}

    def _publish_tree(self, step: FunctionStep, tree: packaging.CodeTree) -> str:
        folder, objects = tree.objects(self.settings.bucket, self.settings.prefix)
        self.artifacts.update(objects)
        self.digests[step.name] = tree.digest
        return folder


def _code(
    step: FunctionStep, kind: str, outputs: Sequence[str] = ()
) -> tuple[packaging.CodeTree, str]:
    """The step's code tree and the file the job runs."""
    if step.script is not None:
        return packaging.build_script_tree(step.script), step.script.name
    tree = packaging.build_code_tree(kind, step.target, outputs)
    return tree, packaging.entry_name(step.target)


def _first(value: Any, default: Any) -> Any:
    # Not `value or default`: expressions refuse truth tests on purpose.
    return default if value is None else value


def _argument_text(value: Any) -> Any:
    """Container arguments are strings; parameters stay expressions resolved at run time."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return render(value)


def _hyperparameter_text(value: Any) -> Any:
    """Literals are JSON-encoded as the SDK does; parameters become strings via Std:Join."""
    if isinstance(value, Parameter):
        return Join(on="", values=[value]).to_request()
    if isinstance(value, (str, int, float, bool)):
        return json.dumps(value)
    return render(value)
