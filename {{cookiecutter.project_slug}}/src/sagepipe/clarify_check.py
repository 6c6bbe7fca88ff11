"""ClarifyCheck: data bias, model bias or model explainability as a pipeline step.

Compiles to the JSON the SageMaker SDK v2 emits for ``ClarifyCheckStep``: ``CheckType``
(``DATA_BIAS`` / ``MODEL_BIAS`` / ``MODEL_EXPLAINABILITY``), ``SkipCheck``,
``RegisterNewBaseline``, ``FailOnViolation``, ``ModelPackageGroupName``,
``SuppliedBaselineConstraints``, and a processing job whose ``analysis_config`` input is
Clarify's ``analysis_config.json`` (published with the pipeline's code objects) and whose
``dataset`` input is the data. The job is ours (``python3 -m sagepipe.clarify`` on the
project image; pass ``image_uri`` for AWS's Clarify image). One difference from the SDK:
the SDK names a created SageMaker model (``ModelName``) that Clarify serves on a shadow
endpoint; here the model is the packed ``model.tar.gz`` (a Training step or an S3 URI),
given to the job as a ``model`` input and served in-process by the project's handler.
Later steps read ``CalculatedBaselineConstraints`` and
``BaselineUsedForDriftCheckConstraints`` (the step's ``analysis.json``)::

    bias = ClarifyCheck("DataBias", DataBiasCheckConfig(
        DataConfig(prep.outputs.train, label="churned"),
        BiasConfig(label_values_or_threshold=[1], facet_name="plan",
                   facet_values_or_threshold=["basic"])),
        skip_check=True, register_new_baseline=True, model_package_group_name="churn")
    ModelMetrics(bias_pre_training=MetricsSource(bias.calculated_baseline_constraints))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import GraphError
from .expressions import Value, render
from .parameters import ParameterBoolean, ParameterString
from .processing_io import processing_input, processing_output
from .properties import StepProperty
from .steps import CacheConfig, Step, Training, check_uri_value

PROCESSING = "/opt/ml/processing"
CONFIG_PATH = f"{PROCESSING}/input/config"
DATA_PATH = f"{PROCESSING}/input/data"
MODEL_PATH = f"{PROCESSING}/input/model"
OUTPUT_PATH = f"{PROCESSING}/output"
CONFIG_FILE = "analysis_config.json"
DATA_BIAS = "DATA_BIAS"
MODEL_BIAS = "MODEL_BIAS"
MODEL_EXPLAINABILITY = "MODEL_EXPLAINABILITY"
PRE_TRAINING_METHODS = ("CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD")
POST_TRAINING_METHODS = (
    "AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "FT", "RD", "SD", "TE"
)  # fmt: skip


def _check_methods(methods: str | Sequence[str], available: Sequence[str]) -> None:
    if methods == "all":
        return
    names = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in names if m not in available]
    if unknown or not names:
        raise GraphError(
            f"methods={methods!r}: {unknown or 'empty list'} not among {', '.join(available)}; "
            "use 'all' or a subset"
        )


@dataclass(frozen=True)
class DataConfig:
    """The dataset (an S3 URI or a step output) and its label column (a name or index).

    A label given by name means the CSV has a header row; by index, no header (like the
    SDK example's ``label=0`` on XGBoost-style files). ``s3_output_path`` defaults to
    ``s3://bucket/prefix/<execution id>/<step name>/output``.
    """

    s3_data_input_path: Value
    label: str | int | None = None
    s3_output_path: Value | None = None
    headers: Sequence[str] | None = None
    excluded_columns: Sequence[str | int] = ()
    dataset_type: str = "text/csv"

    def get_config(self) -> dict[str, Any]:
        """The data part of ``analysis_config.json``."""
        config: dict[str, Any] = {"dataset_type": self.dataset_type}
        if self.headers:
            config["headers"] = list(self.headers)
        if self.label is not None:
            config["label"] = self.label
        if self.excluded_columns:
            config["excluded_columns"] = list(self.excluded_columns)
        return config


@dataclass(frozen=True)
class BiasConfig:
    """The positive label and the sensitive group (facet), as the SDK's ``BiasConfig``."""

    label_values_or_threshold: Sequence[Any]
    facet_name: str | int
    facet_values_or_threshold: Sequence[Any] | None = None
    group_name: str | None = None

    def get_config(self) -> dict[str, Any]:
        """The bias part of ``analysis_config.json``."""
        facet: dict[str, Any] = {"name_or_index": self.facet_name}
        if self.facet_values_or_threshold is not None:
            facet["value_or_threshold"] = list(self.facet_values_or_threshold)
        config: dict[str, Any] = {
            "label_values_or_threshold": list(self.label_values_or_threshold),
            "facet": [facet],
        }
        if self.group_name is not None:
            config["group_variable"] = self.group_name
        return config


@dataclass(frozen=True)
class ModelPredictedLabelConfig:
    """Where the predicted label (or score and threshold) is in the model's CSV output."""

    label: int | None = None
    probability: int | None = None
    probability_threshold: float | None = None

    def get_predictor_config(self) -> tuple[float | None, dict[str, Any]]:
        """``(probability_threshold, predictor keys)`` as the SDK splits them."""
        predictor: dict[str, Any] = {}
        if self.label is not None:
            predictor["label"] = self.label
        if self.probability is not None:
            predictor["probability"] = self.probability
        return self.probability_threshold, predictor


@dataclass(frozen=True)
class SHAPConfig:
    """Kernel SHAP settings, the SDK's ``SHAPConfig`` keys."""

    baseline: Sequence[Sequence[Any]] | None = None
    num_samples: int | None = None
    agg_method: str = "mean_abs"
    use_logit: bool = False
    save_local_shap_values: bool = True
    seed: int | None = None

    def get_explainability_config(self) -> dict[str, Any]:
        """The ``methods`` part of ``analysis_config.json``."""
        shap: dict[str, Any] = {
            "use_logit": self.use_logit,
            "save_local_shap_values": self.save_local_shap_values,
        }
        if self.baseline is not None:
            shap["baseline"] = [list(row) for row in self.baseline]
        if self.num_samples is not None:
            shap["num_samples"] = self.num_samples
        if self.agg_method != "mean_abs":
            shap["agg_method"] = self.agg_method
        if self.seed is not None:
            shap["seed"] = self.seed
        return {"shap": shap}


@dataclass(frozen=True)
class DataBiasCheckConfig:
    """Pre-training bias of the dataset's labels on the facet."""

    data_config: DataConfig
    data_bias_config: BiasConfig
    methods: str | Sequence[str] = "all"

    check_type = DATA_BIAS

    def analysis_config(self) -> dict[str, Any]:
        """The job's ``analysis_config.json``, keys in the SDK's order."""
        config = {**self.data_config.get_config(), **self.data_bias_config.get_config()}
        config["methods"] = {"pre_training_bias": {"methods": _methods(self.methods)}}
        return config


@dataclass(frozen=True)
class ModelBiasCheckConfig:
    """Post-training bias of the model's predictions on the facet."""

    data_config: DataConfig
    data_bias_config: BiasConfig
    model: Training | Value
    model_predicted_label_config: ModelPredictedLabelConfig = field(
        default_factory=ModelPredictedLabelConfig
    )
    methods: str | Sequence[str] = "all"

    check_type = MODEL_BIAS

    def analysis_config(self) -> dict[str, Any]:
        """The job's ``analysis_config.json``, keys in the SDK's order."""
        config = {**self.data_config.get_config(), **self.data_bias_config.get_config()}
        threshold, predictor = self.model_predicted_label_config.get_predictor_config()
        config["methods"] = {"post_training_bias": {"methods": _methods(self.methods)}}
        config["predictor"] = predictor
        if threshold is not None:
            config["probability_threshold"] = threshold
        return config


@dataclass(frozen=True)
class ModelExplainabilityCheckConfig:
    """SHAP attributions of the model's score; ``model_scores``: the score's output index."""

    data_config: DataConfig
    model: Training | Value
    explainability_config: SHAPConfig = field(default_factory=SHAPConfig)
    model_scores: int | ModelPredictedLabelConfig | None = None

    check_type = MODEL_EXPLAINABILITY

    def analysis_config(self) -> dict[str, Any]:
        """The job's ``analysis_config.json``, keys in the SDK's order."""
        config = self.data_config.get_config()
        predictor: dict[str, Any] = {}
        if isinstance(self.model_scores, ModelPredictedLabelConfig):
            threshold, predictor = self.model_scores.get_predictor_config()
            if threshold is not None:
                config["probability_threshold"] = threshold
        elif self.model_scores is not None:
            predictor["label"] = self.model_scores
        config["methods"] = self.explainability_config.get_explainability_config()
        config["predictor"] = predictor
        return config


def _methods(methods: str | Sequence[str]) -> str | list[str]:
    return methods if isinstance(methods, str) else list(methods)


ClarifyCheckConfig = DataBiasCheckConfig | ModelBiasCheckConfig | ModelExplainabilityCheckConfig


def _check_config(name: str, config: Any) -> None:
    if not isinstance(
        config, (DataBiasCheckConfig, ModelBiasCheckConfig, ModelExplainabilityCheckConfig)
    ):
        raise GraphError(
            f"step {name!r}: config={config!r} must be a DataBiasCheckConfig, a "
            "ModelBiasCheckConfig or a ModelExplainabilityCheckConfig"
        )
    data = config.data_config
    check_uri_value(name, "s3_data_input_path", data.s3_data_input_path)
    if data.dataset_type != "text/csv":
        raise GraphError(
            f"step {name!r}: dataset_type {data.dataset_type!r} is not supported; use text/csv"
        )
    if data.headers and isinstance(data.label, str) and data.label not in data.headers:
        raise GraphError(f"step {name!r}: label {data.label!r} is not one of the headers")
    if isinstance(config, (DataBiasCheckConfig, ModelBiasCheckConfig)):
        bias = config.data_bias_config
        if data.label is None:
            raise GraphError(f"step {name!r}: a bias check needs DataConfig(label=...)")
        if isinstance(bias.label_values_or_threshold, str) or not bias.label_values_or_threshold:
            raise GraphError(
                f"step {name!r}: label_values_or_threshold={bias.label_values_or_threshold!r} "
                "must be a non-empty list, e.g. [1]"
            )
        if bias.facet_name in ("", None):
            raise GraphError(f"step {name!r}: facet_name must name the sensitive column")
        if (
            data.headers
            and isinstance(bias.facet_name, str)
            and bias.facet_name not in (data.headers)
        ):
            raise GraphError(
                f"step {name!r}: facet_name {bias.facet_name!r} is not one of the headers"
            )
        available = (
            PRE_TRAINING_METHODS
            if isinstance(config, DataBiasCheckConfig)
            else (POST_TRAINING_METHODS)
        )
        try:
            _check_methods(config.methods, available)
        except GraphError as err:
            raise GraphError(f"step {name!r}: {err}") from None
    if isinstance(config, ModelExplainabilityCheckConfig):
        samples = config.explainability_config.num_samples
        if samples is not None and (isinstance(samples, bool) or samples <= 0):
            raise GraphError(
                f"step {name!r}: SHAPConfig num_samples={samples} must be a positive integer"
            )
        if config.explainability_config.agg_method != "mean_abs":
            raise GraphError(
                f"step {name!r}: agg_method {config.explainability_config.agg_method!r} is "
                "not supported; use 'mean_abs'"
            )
    if isinstance(
        config, (ModelBiasCheckConfig, ModelExplainabilityCheckConfig)
    ) and not isinstance(config.model, Training):
        check_uri_value(name, "model", config.model)


class ClarifyCheck(Step):
    """A data bias, model bias or explainability check (SageMaker's ``ClarifyCheckStep``)."""

    type_name = "ClarifyCheck"

    def __init__(
        self,
        name: str,
        config: ClarifyCheckConfig,
        *,
        skip_check: bool | ParameterBoolean = False,
        register_new_baseline: bool | ParameterBoolean = False,
        fail_on_violation: bool | ParameterBoolean = True,
        model_package_group_name: str | ParameterString | None = None,
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
        _check_config(name, config)
        for label, flag in (
            ("skip_check", skip_check),
            ("register_new_baseline", register_new_baseline),
            ("fail_on_violation", fail_on_violation),
        ):
            if not isinstance(flag, (bool, ParameterBoolean)):
                raise GraphError(
                    f"step {name!r}: {label}={flag!r} must be True, False or a ParameterBoolean"
                )
        if supplied_baseline_constraints is not None:
            check_uri_value(name, "supplied_baseline_constraints", supplied_baseline_constraints)
        self.config = config
        self.skip_check = skip_check
        self.register_new_baseline = register_new_baseline
        self.fail_on_violation = fail_on_violation
        self.model_package_group_name = model_package_group_name
        self.supplied_baseline_constraints = supplied_baseline_constraints
        self.image_uri = image_uri
        self.instance_type = instance_type
        self.volume_size_gb = volume_size_gb
        self.max_runtime_seconds = max_runtime_seconds
        self.cache = cache

    # -- properties later steps read ---------------------------------------------------
    @property
    def calculated_baseline_constraints(self) -> StepProperty:
        """S3 URI of the ``analysis.json`` this run calculated."""
        return StepProperty(
            self, "CalculatedBaselineConstraints", f"{self.name}.CalculatedBaselineConstraints"
        )

    @property
    def baseline_used_for_drift_check_constraints(self) -> StepProperty:
        """S3 URI of the ``analysis.json`` to register as ``DriftCheckBaselines``."""
        return StepProperty(
            self,
            "BaselineUsedForDriftCheckConstraints",
            f"{self.name}.BaselineUsedForDriftCheckConstraints",
        )

    def _model_data(self) -> Value | None:
        model = getattr(self.config, "model", None)
        if isinstance(model, Training):
            return model.model_artifacts
        return model

    def values(self) -> list[Any]:
        return [
            v
            for v in (
                self.config.data_config.s3_data_input_path,
                self.config.data_config.s3_output_path,
                self._model_data(),
                self.skip_check,
                self.register_new_baseline,
                self.fail_on_violation,
                self.model_package_group_name,
                self.supplied_baseline_constraints,
                self.instance_type,
            )
            if v is not None
        ]

    # -- compilation ---------------------------------------------------------------------
    def analysis_config_bytes(self) -> bytes:
        """``analysis_config.json`` as the job reads it (with the SDK's ``report`` method)."""
        config = self.config.analysis_config()
        config["methods"]["report"] = {"name": "report", "title": "Analysis Report"}
        return json.dumps(config).encode()

    def analysis_config_uri(self, settings: Any) -> str:
        """Content-addressed S3 URI of the config, so identical configs compile identically."""
        digest = hashlib.sha256(self.analysis_config_bytes()).hexdigest()
        return str(settings.s3("clarify", digest, CONFIG_FILE))

    def compile_artifacts(self, settings: Any) -> dict[str, bytes]:
        """Objects to publish beside the definition: the ``analysis_config.json``."""
        return {self.analysis_config_uri(settings): self.analysis_config_bytes()}

    def compile_request(self, settings: Any) -> dict[str, Any]:
        """The step's definition JSON (``settings``: the compiler's bucket/role/image)."""
        data = self.config.data_config
        output_uri = (
            render(data.s3_output_path)
            if data.s3_output_path is not None
            else settings.execution_prefix(self.name, "output").to_request()
        )
        inputs: list[dict[str, Any]] = [
            processing_input("analysis_config", self.analysis_config_uri(settings), CONFIG_PATH),
            processing_input("dataset", render(data.s3_data_input_path), DATA_PATH),
        ]
        model_data = self._model_data()
        if model_data is not None:
            inputs.append(processing_input("model", render(model_data), MODEL_PATH))
        app: dict[str, Any] = {"ImageUri": self.image_uri or settings.image_uri}
        if self.image_uri is None:
            app["ContainerEntrypoint"] = ["python3", "-m", "sagepipe.clarify"]
        instance = (
            self.instance_type
            if self.instance_type is not None
            else settings.processing_instance_type
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
            "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {
                "Outputs": [processing_output("analysis_result", output_uri, OUTPUT_PATH)]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
        }
        request: dict[str, Any] = {
            "Name": self.name,
            "Type": "ClarifyCheck",
            "Arguments": arguments,
            "CheckType": self.config.check_type,
            "SkipCheck": render(self.skip_check),
            "RegisterNewBaseline": render(self.register_new_baseline),
        }
        if self.fail_on_violation is not True:
            # The SDK writes FailOnViolation always; the public definition schema has no
            # such key and SageMaker's default is to fail, so only a change is written
            # (as QualityCheck does). Our executor reads it.
            request["FailOnViolation"] = render(self.fail_on_violation)
        # The SDK writes null for these when unset; the public definition schema wants
        # strings, so they are left out instead (as QualityCheck does).
        if self.model_package_group_name is not None:
            request["ModelPackageGroupName"] = render(self.model_package_group_name)
        if self.supplied_baseline_constraints is not None:
            request["SuppliedBaselineConstraints"] = render(self.supplied_baseline_constraints)
        if self.cache is not None:
            request["CacheConfig"] = self.cache.to_request()
        return request
