"""The example pipeline of the framework tests: the same shape as the project's pipeline."""

from __future__ import annotations

from sagepipe import (
    CacheConfig,
    Condition,
    Fail,
    Join,
    JsonGet,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
    Pipeline,
    Processing,
    PropertyFile,
    RegisterModel,
    Training,
    ge,
)

from . import steps

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


def build_pipeline() -> Pipeline:
    """Preprocess -> Train -> Evaluate -> Condition(accuracy) -> RegisterModel | Fail."""
    input_data = ParameterString("InputDataUrl", default="s3://example-bucket/raw/data.csv")
    threshold = ParameterFloat("AccuracyThreshold", default=0.5)
    n_estimators = ParameterInteger("NEstimators", default=10)
    approval = ParameterString("ModelApprovalStatus", default="PendingManualApproval")
    instance_type = ParameterString("InstanceType", default="ml.m5.large")

    prep = Processing(
        "Preprocess",
        steps.preprocess,
        inputs={"raw": input_data},
        outputs=["train", "test"],
        arguments={"test_size": 0.25, "seed": 7},
        instance_type=instance_type,
        cache=CacheConfig(expire_after="P30D"),
    )
    fit = Training(
        "Train",
        steps.train,
        channels={"train": prep.outputs.train},
        hyperparameters={"n_estimators": n_estimators, "criterion": "entropy"},
        cache=CacheConfig(),
    )
    report = PropertyFile("EvaluationReport", output="evaluation", path="evaluation.json")
    evaluate = Processing(
        "Evaluate",
        steps.evaluate,
        inputs={"model": fit.model_artifacts, "test": prep.outputs.test},
        outputs=["evaluation"],
        property_files=[report],
    )
    accuracy = JsonGet(report, "metrics.accuracy.value")
    register = RegisterModel(
        "RegisterModel",
        model=fit,
        group="example-model",
        metrics=report.uri,
        approval_status=approval,
        content_types=["text/csv", "application/json"],
    )
    fail = Fail(
        "AccuracyTooLow",
        message=Join(on=" ", values=["accuracy", accuracy, "is below", threshold]),
    )
    gate = Condition(
        "CheckAccuracy",
        conditions=[ge(accuracy, threshold)],
        if_steps=[register],
        else_steps=[fail],
    )
    return Pipeline(
        "example-pipeline",
        parameters=[input_data, threshold, n_estimators, approval, instance_type],
        steps=[prep, fit, evaluate, gate],
    )
