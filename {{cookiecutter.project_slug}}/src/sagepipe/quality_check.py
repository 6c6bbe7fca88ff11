"""QualityCheck: baseline data or model quality as a pipeline step, in the SDK's shape.

Compiles to the JSON the SageMaker SDK emits for ``QualityCheckStep`` (``CheckType``,
``SkipCheck``, ``RegisterNewBaseline``, ``Supplied*``, a processing job with Model
Monitor's input/output names and environment variables). The job is ours: by default
it runs ``python3 -m sagepipe.monitor`` on the project image (pass ``image_uri`` to run
AWS's Model Monitor analyzer instead). Later steps read the ``CalculatedBaseline*`` and
``BaselineUsedForDriftCheck*`` properties, for example to fill RegisterModel's
``DriftCheckBaselines``::

    check = QualityCheck("BaselineData", DataQualityCheckConfig(prep.outputs.train,
                         exclude_columns=["churned"]), skip_check=True,
                         register_new_baseline=True, model_package_group_name="churn")
    ModelMetrics(data_statistics=MetricsSource(check.calculated_baseline_statistics), ...)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError
from .expressions import Value, render
from .parameters import ParameterBoolean, ParameterString
from .processing_io import processing_input, processing_output
from .properties import StepProperty
from .steps import CacheConfig, Step, check_uri_value

PROCESSING = "/opt/ml/processing"
DATASET_PATH = f"{PROCESSING}/input/baseline_dataset_input"
OUTPUT_PATH = f"{PROCESSING}/output"
OUTPUT_NAME = "quality_check_output"
DATA_QUALITY = "DATA_QUALITY"
MODEL_QUALITY = "MODEL_QUALITY"
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


def csv_format(header: bool = True) -> dict[str, Any]:
    """Model Monitor's ``DatasetFormat.csv``."""
    return {"csv": {"header": header, "output_columns_position": "START"}}


@dataclass(frozen=True)
class DataQualityCheckConfig:
    """What to baseline for data quality: a dataset (an S3 URI or a step output)."""

    baseline_dataset: Value
    dataset_format: dict[str, Any] = field(default_factory=csv_format)
    output_s3_uri: Value | None = None
    # Ours (Model Monitor's analyzer ignores it): columns left out, such as the label.
    exclude_columns: Sequence[str] = ()

    check_type = DATA_QUALITY

    def environment(self) -> dict[str, Any]:
        """Container environment specific to data quality."""
        env: dict[str, Any] = {}
        if self.exclude_columns:
            env["exclude_columns"] = ",".join(self.exclude_columns)
        return env


@dataclass(frozen=True)
class ModelQualityCheckConfig:
    """What to baseline for model quality: a table of predictions and labels."""

    baseline_dataset: Value
    problem_type: str = "BinaryClassification"
    dataset_format: dict[str, Any] = field(default_factory=csv_format)
    output_s3_uri: Value | None = None
    inference_attribute: str | None = None
    probability_attribute: str | None = None
    ground_truth_attribute: str | None = None
    probability_threshold_attribute: float | None = None

    check_type = MODEL_QUALITY

    def environment(self) -> dict[str, Any]:
        """Container environment specific to model quality (values are strings, as the SDK's)."""
        env: dict[str, Any] = {"analysis_type": MODEL_QUALITY, "problem_type": self.problem_type}
        for key in ("inference_attribute", "probability_attribute", "ground_truth_attribute"):
            value = getattr(self, key)
            if value is not None:
                env[key] = str(value)
        if self.probability_threshold_attribute is not None:
            env["probability_threshold_attribute"] = str(self.probability_threshold_attribute)
        return env


CheckConfig = DataQualityCheckConfig | ModelQualityCheckConfig


class QualityCheck(Step):
    """A data or model quality check step (SageMaker's ``QualityCheckStep``)."""

    type_name = "QualityCheck"

    def __init__(
        self,
        name: str,
        config: CheckConfig,
        *,
        skip_check: bool | ParameterBoolean = False,
        register_new_baseline: bool | ParameterBoolean = False,
        fail_on_violation: bool = True,
        model_package_group_name: str | ParameterString | None = None,
        supplied_baseline_statistics: Value | None = None,
        supplied_baseline_constraints: Value | None = None,
        image_uri: str | None = None,
        instance_type: str | ParameterString | None = None,
        volume_size_gb: int = 30,
        max_runtime_seconds: int = 3600,
        cache: CacheConfig | None = None,
        depends_on: Sequence[Step] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name, depends_on=depends_on, display_name=display_name, description=description
        )
        if not isinstance(config, (DataQualityCheckConfig, ModelQualityCheckConfig)):
            raise GraphError(
                f"step {name!r}: config={config!r} must be a DataQualityCheckConfig or a "
                "ModelQualityCheckConfig"
            )
        check_uri_value(name, "baseline_dataset", config.baseline_dataset)
        if isinstance(config, ModelQualityCheckConfig):
            if config.problem_type not in PROBLEM_TYPES:
                raise GraphError(
                    f"step {name!r}: problem_type {config.problem_type!r} is not one of "
                    f"{', '.join(PROBLEM_TYPES)}"
                )
            if config.ground_truth_attribute is None:
                raise GraphError(
                    f"step {name!r}: a model quality check needs ground_truth_attribute, the "
                    "column holding the true label"
                )
        for label, flag in (
            ("skip_check", skip_check),
            ("register_new_baseline", register_new_baseline),
        ):
            if not isinstance(flag, (bool, ParameterBoolean)):
                raise GraphError(
                    f"step {name!r}: {label}={flag!r} must be True, False or a ParameterBoolean"
                )
        if isinstance(config, ModelQualityCheckConfig) and supplied_baseline_statistics is not None:
            raise GraphError(
                f"step {name!r}: model quality checks take supplied_baseline_constraints only "
                "(the SDK has no supplied statistics for them)"
            )
        for label, value in (
            ("supplied_baseline_statistics", supplied_baseline_statistics),
            ("supplied_baseline_constraints", supplied_baseline_constraints),
        ):
            if value is not None:
                check_uri_value(name, label, value)
        self.config = config
        self.skip_check = skip_check
        self.register_new_baseline = register_new_baseline
        self.fail_on_violation = fail_on_violation
        self.model_package_group_name = model_package_group_name
        self.supplied_baseline_statistics = supplied_baseline_statistics
        self.supplied_baseline_constraints = supplied_baseline_constraints
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.volume_size_gb = volume_size_gb
        self.max_runtime_seconds = max_runtime_seconds
        self.cache = cache

    # -- properties later steps read ---------------------------------------------------
    def _property(self, path: str) -> StepProperty:
        return StepProperty(self, path, f"{self.name}.{path}")

    @property
    def calculated_baseline_statistics(self) -> StepProperty:
        """S3 URI of the ``statistics.json`` this run calculated."""
        return self._property("CalculatedBaselineStatistics")

    @property
    def calculated_baseline_constraints(self) -> StepProperty:
        """S3 URI of the ``constraints.json`` this run calculated."""
        return self._property("CalculatedBaselineConstraints")

    @property
    def baseline_used_for_drift_check_statistics(self) -> StepProperty:
        """S3 URI of the statistics to register as ``DriftCheckBaselines``."""
        return self._property("BaselineUsedForDriftCheckStatistics")

    @property
    def baseline_used_for_drift_check_constraints(self) -> StepProperty:
        """S3 URI of the constraints to register as ``DriftCheckBaselines``."""
        return self._property("BaselineUsedForDriftCheckConstraints")

    def values(self) -> list[Any]:
        return [
            v
            for v in (
                self.config.baseline_dataset,
                self.config.output_s3_uri,
                self.skip_check,
                self.register_new_baseline,
                self.model_package_group_name,
                self.supplied_baseline_statistics,
                self.supplied_baseline_constraints,
                self.instance_type,
            )
            if v is not None
        ]

    # -- compilation ---------------------------------------------------------------------
    def compile_request(self, settings: Any) -> dict[str, Any]:
        """The step's definition JSON (``settings``: the compiler's bucket/role/image)."""
        output_uri = (
            render(self.config.output_s3_uri)
            if self.config.output_s3_uri is not None
            else settings.execution_prefix(self.name, "output").to_request()
        )
        environment: dict[str, Any] = {
            "output_path": OUTPUT_PATH,
            "publish_cloudwatch_metrics": "Disabled",
            "dataset_format": json.dumps(self.config.dataset_format),
            "dataset_source": DATASET_PATH,
            **self.config.environment(),
        }
        app: dict[str, Any] = {"ImageUri": self.image_uri or settings.image_uri}
        if self.image_uri is None:
            app["ContainerEntrypoint"] = ["python3", "-m", "sagepipe.monitor"]
        instance = (
            self.instance_type
            if self.instance_type is not None
            else (settings.processing_instance_type)
        )
        arguments: dict[str, Any] = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": render(instance),
                    "InstanceCount": 1,
                    "VolumeSizeInGB": self.volume_size_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": settings.role,
            "ProcessingInputs": [
                processing_input(
                    "baseline_dataset_input", render(self.config.baseline_dataset), DATASET_PATH
                )
            ],
            "ProcessingOutputConfig": {
                "Outputs": [processing_output(OUTPUT_NAME, output_uri, OUTPUT_PATH)]
            },
            "Environment": environment,
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
        }
        request: dict[str, Any] = {
            "Name": self.name,
            "Type": "QualityCheck",
            "Arguments": arguments,
            "CheckType": self.config.check_type,
            "SkipCheck": render(self.skip_check),
            "RegisterNewBaseline": render(self.register_new_baseline),
        }
        if self.model_package_group_name is not None:
            request["ModelPackageGroupName"] = render(self.model_package_group_name)
        if self.supplied_baseline_statistics is not None:
            request["SuppliedBaselineStatistics"] = render(self.supplied_baseline_statistics)
        if self.supplied_baseline_constraints is not None:
            request["SuppliedBaselineConstraints"] = render(self.supplied_baseline_constraints)
        if not self.fail_on_violation:
            # Only when off: the public definition schema has no such key, SageMaker's
            # default is to fail; our executor reads it.
            request["FailOnViolation"] = False
        if self.cache is not None:
            request["CacheConfig"] = self.cache.to_request()
        return request
