"""RegisterModel: register a trained model as a version of a model package group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import GraphError
from .expressions import Value, render
from .parameters import ParameterString
from .steps import Step, Training, check_uri_value

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


@dataclass(frozen=True)
class MetricsSource:
    """One ``MetricsSource`` of ``ModelMetrics``: a JSON (or CSV) report in S3."""

    s3_uri: Value
    content_type: str = "application/json"

    def to_request(self) -> dict[str, Any]:
        """Return the JSON form of the source."""
        return {"ContentType": self.content_type, "S3Uri": render(self.s3_uri)}


@dataclass(frozen=True)
class ModelMetrics:
    """SageMaker's ``ModelMetrics``; ``model_statistics`` is the usual evaluation report.

    Bias and explainability take ClarifyCheck's ``analysis.json`` (its
    ``calculated_baseline_constraints`` for ModelMetrics,
    ``baseline_used_for_drift_check_constraints`` for DriftCheckBaselines); the two
    ``*_config_file`` sources exist only in DriftCheckBaselines (Clarify's monitoring
    analysis configs).
    """

    model_statistics: MetricsSource | None = None
    model_constraints: MetricsSource | None = None
    data_statistics: MetricsSource | None = None
    data_constraints: MetricsSource | None = None
    bias_pre_training: MetricsSource | None = None
    bias_post_training: MetricsSource | None = None
    explainability: MetricsSource | None = None
    bias_config_file: MetricsSource | None = None
    explainability_config_file: MetricsSource | None = None

    def sources(self) -> list[MetricsSource]:
        """Return the sources that are set."""
        return [
            s
            for s in (
                self.model_statistics,
                self.model_constraints,
                self.data_statistics,
                self.data_constraints,
                self.bias_pre_training,
                self.bias_post_training,
                self.explainability,
                self.bias_config_file,
                self.explainability_config_file,
            )
            if s is not None
        ]

    def to_request(self, *, empty_sections: bool = True) -> dict[str, Any]:
        """Return the ``ModelMetrics`` JSON, with the empty sections the SDK emits.

        ``empty_sections=False`` gives the ``DriftCheckBaselines`` form, which has none.
        """
        model_quality: dict[str, Any] = {}
        if self.model_statistics:
            model_quality["Statistics"] = self.model_statistics.to_request()
        if self.model_constraints:
            model_quality["Constraints"] = self.model_constraints.to_request()
        data_quality: dict[str, Any] = {}
        if self.data_statistics:
            data_quality["Statistics"] = self.data_statistics.to_request()
        if self.data_constraints:
            data_quality["Constraints"] = self.data_constraints.to_request()
        # SageMaker names the Clarify files differently in the two forms: reports in
        # ModelMetrics, constraints (plus config files) in DriftCheckBaselines.
        drift = not empty_sections
        bias: dict[str, Any] = {}
        if drift and self.bias_config_file:
            bias["ConfigFile"] = self.bias_config_file.to_request()
        for key, source in (
            ("PreTrainingConstraints" if drift else "PreTrainingReport", self.bias_pre_training),
            ("PostTrainingConstraints" if drift else "PostTrainingReport", self.bias_post_training),
        ):
            if source:
                bias[key] = source.to_request()
        explainability: dict[str, Any] = {}
        if self.explainability:
            key = "Constraints" if drift else "Report"
            explainability[key] = self.explainability.to_request()
        if drift and self.explainability_config_file:
            explainability["ConfigFile"] = self.explainability_config_file.to_request()
        request: dict[str, Any] = (
            {"Bias": bias, "Explainability": explainability} if (empty_sections) else {}
        )
        if drift and bias:
            request["Bias"] = bias
        if drift and explainability:
            request["Explainability"] = explainability
        if model_quality:
            request["ModelQuality"] = model_quality
        if data_quality:
            request["ModelDataQuality"] = data_quality
        return request


class RegisterModel(Step):
    """Register a trained model as a new version of a model package group.

    ``model`` is a Training step (its packed model) or an S3 URI expression.
    ``metrics`` is an S3 URI (for example ``report.uri``) of an evaluation report in
    SageMaker's ModelMetrics layout, or a :class:`ModelMetrics`. ``inference_program``
    is the handler inside ``model.tar.gz``'s ``code/`` folder that serving runs.
    """

    type_name = "RegisterModel"

    def __init__(
        self,
        name: str,
        *,
        model: Training | Value,
        group: str | ParameterString,
        metrics: ModelMetrics | Value | None = None,
        approval_status: str | ParameterString = "PendingManualApproval",
        content_types: Sequence[str] = ("text/csv",),
        response_types: Sequence[str] | None = None,
        inference_instances: Sequence[str] | None = None,
        transform_instances: Sequence[str] | None = None,
        image_uri: str | None = None,
        inference_program: str | None = "inference.py",
        environment: Mapping[str, Value] | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        drift_check_baselines: ModelMetrics | None = None,
        model_description: str | None = None,
        depends_on: Sequence[Step] | None = None,
        display_name: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(
            name, depends_on=depends_on, display_name=display_name, description=description
        )
        if isinstance(model, Training):
            self.model_data: Value = model.model_artifacts
            self.training: Training | None = model
        else:
            check_uri_value(name, "model", model)
            self.model_data = model
            self.training = None
        if not isinstance(group, (str, ParameterString)) or (isinstance(group, str) and not group):
            raise GraphError(
                f"step {name!r}: group={group!r} must name a model package group, "
                "for example 'churn-model'"
            )
        self.group = group
        if metrics is None or isinstance(metrics, ModelMetrics):
            self.metrics = metrics
        else:
            check_uri_value(name, "metrics", metrics)
            self.metrics = ModelMetrics(model_statistics=MetricsSource(metrics))
        if isinstance(approval_status, str) and approval_status not in APPROVAL_STATUSES:
            raise GraphError(
                f"step {name!r}: approval_status {approval_status!r} is not one of "
                f"{', '.join(APPROVAL_STATUSES)}"
            )
        if not isinstance(approval_status, (str, ParameterString)):
            raise GraphError(
                f"step {name!r}: approval_status={approval_status!r} must be a string or a "
                "ParameterString"
            )
        self.approval_status = approval_status
        if isinstance(content_types, str) or not content_types:
            raise GraphError(
                f"step {name!r}: content_types must be a non-empty list like ['text/csv']"
            )
        self.content_types = list(content_types)
        self.response_types = list(response_types) if response_types else list(content_types)
        self.inference_instances = list(inference_instances) if inference_instances else None
        self.transform_instances = list(transform_instances) if transform_instances else None
        self.image_uri = image_uri
        self.inference_program = inference_program
        self.environment = dict(environment or {})
        self.customer_metadata = dict(customer_metadata or {})
        for key, value in self.customer_metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise GraphError(
                    f"step {name!r}: customer_metadata {key!r}={value!r} must map strings "
                    "to strings"
                )
        if drift_check_baselines is not None and not isinstance(
            drift_check_baselines, ModelMetrics
        ):
            raise GraphError(
                f"step {name!r}: drift_check_baselines must be a ModelMetrics of baseline "
                "statistics and constraints"
            )
        self.drift_check_baselines = drift_check_baselines
        self.model_description = model_description

    def values(self) -> list[Any]:
        metric_uris = [s.s3_uri for s in self.metrics.sources()] if self.metrics else []
        if self.drift_check_baselines is not None:
            metric_uris += [s.s3_uri for s in self.drift_check_baselines.sources()]
        return [
            self.model_data,
            self.group,
            self.approval_status,
            *metric_uris,
            *self.environment.values(),
        ]
