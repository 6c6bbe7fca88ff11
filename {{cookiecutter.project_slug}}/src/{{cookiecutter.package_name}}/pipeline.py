"""The pipeline, on one screen: start reading here.

preprocess -> data quality -> train -> evaluate -> accuracy >= threshold ?
    and in parallel: baseline the training data (Model Monitor's statistics, constraints)
    yes: register the model (PendingManualApproval by default, with metrics, lineage and
         the training-data baseline as DriftCheckBaselines, which `monitor` checks against)
    no:  fail, with the measured accuracy and the threshold in the message

Steps are the plain functions in ``steps/`` and ``quality/``; this file only wires them.
The engine registers it as the ``project`` pipeline, as it registers each migrated
``pipeline_<name>.py`` beside it (``pipelines`` lists them; ``run --pipeline NAME``).
Edges are attribute references (``prep.outputs.train``), so a typo fails here, at build
time. Infrastructure (bucket, images, instance types) comes from ``settings.py``.
"""

from __future__ import annotations

from sagepipe import (
    CacheConfig,
    Condition,
    DataQualityCheckConfig,
    Fail,
    Join,
    JsonGet,
    MetricsSource,
    ModelMetrics,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    Processing,
    PropertyFile,
    QualityCheck,
    RegisterModel,
    Training,
    ge,
)
from sagepipe.compile import Compiled, compile_pipeline
from sagepipe.network import network_from_text
from sagepipe.parameters import default_of

from . import settings as project_settings
from .data import TARGET
from .quality.gate import check_data_quality
from .steps.evaluate import METRICS_KEY, evaluate_model
from .steps.preprocess import preprocess
from .steps.train import train_model

APPROVAL_STATUSES = ["PendingManualApproval", "Approved", "Rejected"]


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
    # SageMaker's check-step switches: the first run has no Approved baseline to check
    # against, so it skips the check and registers the new baseline; set
    # SkipDataQualityCheck=false once a version is Approved to fail on training-data drift.
    skip_data_check = ParameterBoolean("SkipDataQualityCheck", default=True)
    register_data_baseline = ParameterBoolean("RegisterNewDataQualityBaseline", default=True)

    # Content-keyed step cache: unchanged code + unchanged inputs = the step is reused.
    cache = CacheConfig(enabled=True, expire_after="P30D")

    prep = Processing(
        "Preprocess",
        preprocess,
        cache=cache,
        inputs={"raw": input_data},
        outputs=["train", "test"],
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
    data_baseline = QualityCheck(
        "BaselineTrainingData",
        DataQualityCheckConfig(prep.outputs.train, exclude_columns=[TARGET]),
        skip_check=skip_data_check,
        register_new_baseline=register_data_baseline,
        model_package_group_name=settings.model_package_group,
        cache=cache,
    )
    report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    evaluate = Processing(
        "Evaluate",
        evaluate_model,
        cache=cache,
        inputs={"model": fit.model_artifacts, "test": prep.outputs.test},
        outputs=["evaluation"],
        property_files=[report],
    )
    accuracy = JsonGet(report, f"{METRICS_KEY}.accuracy.value")
    register = RegisterModel(
        "RegisterModel",
        model=fit,
        group=settings.model_package_group,
        metrics=ModelMetrics(
            model_statistics=MetricsSource(report.uri),
            data_statistics=MetricsSource(data_baseline.calculated_baseline_statistics),
            data_constraints=MetricsSource(data_baseline.calculated_baseline_constraints),
        ),
        drift_check_baselines=ModelMetrics(
            data_statistics=MetricsSource(data_baseline.baseline_used_for_drift_check_statistics),
            data_constraints=MetricsSource(data_baseline.baseline_used_for_drift_check_constraints),
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
            skip_data_check,
            register_data_baseline,
        ],
        steps=[prep, quality, data_baseline, fit, evaluate, check],
        description="Churn model: preprocess, data quality, train, evaluate, register.",
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
