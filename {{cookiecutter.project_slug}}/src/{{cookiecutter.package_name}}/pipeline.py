"""The pipeline, on one screen: start reading here.

preprocess -> data quality -> train -> evaluate -> accuracy >= threshold ?
    yes: register the model (PendingManualApproval by default, with metrics, lineage,
         and every baseline below as ModelMetrics and DriftCheckBaselines)
    no:  fail, with the measured accuracy and the threshold in the message
and beside them, each as soon as its input exists (in parallel with the main line):
    train split  -> BaselineTrainingData   (Model Monitor data quality: statistics, constraints)
                 -> BaselineTrainingBias   (Clarify pre-training bias on the facet)
    model + test -> BaselineModelBias      (Clarify post-training bias of the predictions)
                 -> BaselineModelExplainability (Clarify SHAP on a sample of test rows)
    evaluate     -> BaselineModelQuality   (Model Monitor model quality of predictions.csv)
RegisterModel waits for all five; `monitor` checks traffic against what it records.

Steps are the plain functions in ``steps/`` and ``quality/``; this file only wires them.
The engine registers it as the ``project`` pipeline, as it registers each migrated
``pipeline_<name>.py`` beside it (``pipelines`` lists them; ``run --pipeline NAME``).
Edges are attribute references (``prep.outputs.train``), so a typo fails here, at build
time. Infrastructure (bucket, images, instance types) comes from ``settings.py``; the bias
facet and positive label from ``columns.py`` (``explain`` uses the same ones).
"""

from __future__ import annotations

from typing import TypedDict

from sagepipe import (
    BiasConfig,
    CacheConfig,
    ClarifyCheck,
    Condition,
    DataBiasCheckConfig,
    DataConfig,
    DataQualityCheckConfig,
    Fail,
    Join,
    JsonGet,
    MetricsSource,
    ModelBiasCheckConfig,
    ModelExplainabilityCheckConfig,
    ModelMetrics,
    ModelPredictedLabelConfig,
    ModelQualityCheckConfig,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    Processing,
    PropertyFile,
    QualityCheck,
    RegisterModel,
    SHAPConfig,
    Training,
    ge,
)
from sagepipe.compile import Compiled, compile_pipeline
from sagepipe.network import network_from_text
from sagepipe.parameters import default_of

from . import settings as project_settings
from .columns import (
    BIAS_FACET,
    BIAS_FACET_VALUE,
    POSITIVE_LABEL,
    PREDICTED_LABEL_INDEX,
    SCORE_INDEX,
    TARGET,
)
from .quality.gate import check_data_quality
from .steps.evaluate import LABEL, METRICS_KEY, PREDICTION, PROBABILITY, evaluate_model
from .steps.preprocess import preprocess
from .steps.train import train_model

APPROVAL_STATUSES = ["PendingManualApproval", "Approved", "Rejected"]
# Kernel SHAP draws this many coalitions per explained row instead of all 2**8 - 2 = 254,
# on Preprocess's sample of test rows (EXPLAIN_SAMPLE_ROWS in steps/preprocess.py): about
# 13,000 rows for the model to score. Measured on the sample data: 0.3 s instead of 3.3 s
# for exact values on the whole test split, each feature's mean |SHAP| within 0.025 of
# the exact one (values 0.01-0.15; the top feature the same). Raise it, or run
# `explain VERSION` (exact by default), for finer attributions.
SHAP_NUM_SAMPLES = 64
# (name, SageMaker's parameter names): one Skip/RegisterNew pair per baseline check.
CHECK_SWITCHES = {
    "data_quality": ("SkipDataQualityCheck", "RegisterNewDataQualityBaseline"),
    "data_bias": ("SkipDataBiasCheck", "RegisterNewDataBiasBaseline"),
    "model_quality": ("SkipModelQualityCheck", "RegisterNewModelQualityBaseline"),
    "model_bias": ("SkipModelBiasCheck", "RegisterNewModelBiasBaseline"),
    "model_explainability": (
        "SkipModelExplainabilityCheck",
        "RegisterNewModelExplainabilityBaseline",
    ),
}


class _CheckOptions(TypedDict):
    """What every baseline check shares: its switches, the group, the step cache."""

    skip_check: ParameterBoolean
    register_new_baseline: ParameterBoolean
    model_package_group_name: str
    cache: CacheConfig


def build_pipeline(settings: project_settings.Settings | None = None) -> Pipeline:
    """Return the project's pipeline graph for ``settings`` (default: the current stage)."""
    settings = settings or project_settings.load()

    input_data = ParameterString("InputDataUrl", default=settings.input_data_url)
    # Hyperparameter defaults live in the step functions' signatures (one source of truth):
    # edit train_model's max_depth=... and the pipeline runs with the new value.
    test_fraction = ParameterFloat("TestFraction", default=default_of(preprocess, "test_fraction"))
    max_iter = ParameterInteger("MaxIter", default=default_of(train_model, "max_iter"))
    learning_rate = ParameterFloat("LearningRate", default=default_of(train_model, "learning_rate"))
    max_depth = ParameterInteger("MaxDepth", default=default_of(train_model, "max_depth"))
    accuracy_threshold = ParameterFloat("AccuracyThreshold", default=0.7)
    approval_status = ParameterString(
        "ModelApprovalStatus", default="PendingManualApproval", enum_values=APPROVAL_STATUSES
    )
    processing_instance = ParameterString(
        "ProcessingInstanceType", default=settings.processing_instance_type
    )
    training_instance = ParameterString(
        "TrainingInstanceType", default=settings.training_instance_type
    )
    # SageMaker's check-step switches, a pair per check: the first run has no Approved
    # baseline to check against, so it skips the check and registers the new baseline; set
    # e.g. SkipDataQualityCheck=false once a version is Approved to fail on training-data
    # drift (SkipModelBiasCheck=false: on post-training bias drift, and so on).
    switches = {
        check: (ParameterBoolean(skip, default=True), ParameterBoolean(register, default=True))
        for check, (skip, register) in CHECK_SWITCHES.items()
    }

    # Content-keyed step cache: unchanged code + unchanged inputs = the step is reused.
    cache = CacheConfig(enabled=True, expire_after="P30D")

    prep = Processing(
        "Preprocess",
        preprocess,
        cache=cache,
        inputs={"raw": input_data},
        outputs=["train", "test", "explain_sample"],
        arguments={"test_fraction": test_fraction},
    )
    quality = Processing(
        "DataQuality",
        check_data_quality,
        cache=cache,
        inputs={"raw": input_data, "train": prep.outputs.train, "test": prep.outputs.test},
        outputs=["report"],
        environment={"GX_ANALYTICS_ENABLED": "false"},
    )
    fit = Training(
        "Train",
        train_model,
        cache=cache,
        channels={"train": prep.outputs.train},
        hyperparameters={
            "max_iter": max_iter,
            "learning_rate": learning_rate,
            "max_depth": max_depth,
        },
        depends_on=[quality],  # never train on data that failed the quality gate
    )

    def check_options(check: str) -> _CheckOptions:
        skip, register = switches[check]
        return _CheckOptions(
            skip_check=skip,
            register_new_baseline=register,
            model_package_group_name=settings.model_package_group,
            cache=cache,
        )

    data_baseline = QualityCheck(
        "BaselineTrainingData",
        DataQualityCheckConfig(prep.outputs.train, exclude_columns=[TARGET]),
        **check_options("data_quality"),
    )
    facet = BiasConfig(
        label_values_or_threshold=[POSITIVE_LABEL],
        facet_name=BIAS_FACET,
        facet_values_or_threshold=[BIAS_FACET_VALUE],
    )
    data_bias = ClarifyCheck(
        "BaselineTrainingBias",
        DataBiasCheckConfig(DataConfig(prep.outputs.train, label=TARGET), facet),
        **check_options("data_bias"),
    )
    report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    evaluate = Processing(
        "Evaluate",
        evaluate_model,
        cache=cache,
        inputs={"model": fit.model_artifacts, "test": prep.outputs.test},
        outputs=["evaluation", "predictions"],
        property_files=[report],
    )
    model_quality = QualityCheck(
        "BaselineModelQuality",
        ModelQualityCheckConfig(
            evaluate.outputs.predictions,
            problem_type="BinaryClassification",
            inference_attribute=PREDICTION,
            probability_attribute=PROBABILITY,
            ground_truth_attribute=LABEL,
        ),
        **check_options("model_quality"),
    )
    # Post-training checks look at the held-out test split, the data the model never saw.
    held_out = DataConfig(prep.outputs.test, label=TARGET)
    model_bias = ClarifyCheck(
        "BaselineModelBias",
        ModelBiasCheckConfig(
            held_out,
            facet,
            model=fit,
            model_predicted_label_config=ModelPredictedLabelConfig(
                label=PREDICTED_LABEL_INDEX, probability=SCORE_INDEX
            ),
        ),
        **check_options("model_bias"),
    )
    explainability = ClarifyCheck(
        "BaselineModelExplainability",
        ModelExplainabilityCheckConfig(
            DataConfig(prep.outputs.explain_sample, label=TARGET),
            model=fit,
            explainability_config=SHAPConfig(num_samples=SHAP_NUM_SAMPLES, seed=0),
            model_scores=ModelPredictedLabelConfig(probability=SCORE_INDEX),
        ),
        **check_options("model_explainability"),
    )
    accuracy = JsonGet(report, f"{METRICS_KEY}.accuracy.value")
    register = RegisterModel(
        "RegisterModel",
        model=fit,
        group=settings.model_package_group,
        # The Evaluate step's report stays ModelQuality.Statistics (the version's metrics,
        # as smoke tests, lineage and model cards read them); the model-quality check adds
        # its constraints. DriftCheckBaselines are what later checks compare against.
        metrics=ModelMetrics(
            model_statistics=MetricsSource(report.uri),
            model_constraints=MetricsSource(model_quality.calculated_baseline_constraints),
            data_statistics=MetricsSource(data_baseline.calculated_baseline_statistics),
            data_constraints=MetricsSource(data_baseline.calculated_baseline_constraints),
            bias_pre_training=MetricsSource(data_bias.calculated_baseline_constraints),
            bias_post_training=MetricsSource(model_bias.calculated_baseline_constraints),
            explainability=MetricsSource(explainability.calculated_baseline_constraints),
        ),
        drift_check_baselines=ModelMetrics(
            model_statistics=MetricsSource(model_quality.baseline_used_for_drift_check_statistics),
            model_constraints=MetricsSource(
                model_quality.baseline_used_for_drift_check_constraints
            ),
            data_statistics=MetricsSource(data_baseline.baseline_used_for_drift_check_statistics),
            data_constraints=MetricsSource(data_baseline.baseline_used_for_drift_check_constraints),
            bias_pre_training=MetricsSource(data_bias.baseline_used_for_drift_check_constraints),
            bias_post_training=MetricsSource(model_bias.baseline_used_for_drift_check_constraints),
            explainability=MetricsSource(explainability.baseline_used_for_drift_check_constraints),
        ),
        approval_status=approval_status,
        content_types=["text/csv", "application/json", "application/x-npy"],
        response_types=["application/json", "text/csv", "application/x-npy"],
        inference_instances=[settings.inference_instance_type],
        transform_instances=[settings.inference_instance_type],
        image_uri=settings.image_uri,
    )
    too_weak = Fail(
        "AccuracyBelowThreshold",
        message=Join(
            on=" ",
            values=[
                "Model accuracy",
                accuracy,
                "is below the threshold",
                accuracy_threshold,
                "(parameter AccuracyThreshold); nothing was registered.",
            ],
        ),
    )
    check = Condition(
        "CheckAccuracy",
        conditions=[ge(accuracy, accuracy_threshold)],
        if_steps=[register],
        else_steps=[too_weak],
    )
    return Pipeline(
        settings.pipeline_name,
        parameters=[
            input_data,
            test_fraction,
            max_iter,
            learning_rate,
            max_depth,
            accuracy_threshold,
            approval_status,
            processing_instance,
            training_instance,
            *(flag for pair in switches.values() for flag in pair),
        ],
        steps=[
            prep,
            quality,
            data_baseline,
            data_bias,
            fit,
            evaluate,
            model_quality,
            model_bias,
            explainability,
            check,
        ],
        description=(
            "Churn model: preprocess, data quality, train, evaluate, baselines, register."
        ),
    )


def compile_definition(settings: project_settings.Settings | None = None) -> Compiled:
    """Build and compile the pipeline for ``settings``: offline, deterministic JSON + code."""
    settings = settings or project_settings.load()
    pipeline = build_pipeline(settings)
    # Instance types are parameters, so one definition serves every stage's sizing.
    parameters = {parameter.name: parameter for parameter in pipeline.parameters}
    return compile_pipeline(
        pipeline,
        bucket=settings.bucket,
        prefix=settings.prefix,
        role=settings.role_arn,
        region=settings.region,
        image_uri=settings.image_uri,
        processing_instance_type=parameters["ProcessingInstanceType"],
        training_instance_type=parameters["TrainingInstanceType"],
        inference_instance_types=[settings.inference_instance_type],
        transform_instance_types=[settings.inference_instance_type],
        network=network_from_text(
            settings.subnets, settings.security_group_ids, settings.kms_key_id
        ),
    )
