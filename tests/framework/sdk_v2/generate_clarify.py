"""Regenerate the SDK v2 ClarifyCheckStep definition kept in ``clarify/`` as test data.

The steps are configured as in AWS's ``ml_ops/sm-pipelines_clarify_model_monitor_integration``
example (``aws/amazon-sagemaker-examples``): a data bias check on the training split
(label column 0, facet column 8 split at 0.5, label threshold 15.0), a model bias check
and a model explainability check (SHAP, seed 123, 10 samples) of the created model, all
with pipeline parameters for ``SkipCheck`` / ``RegisterNewBaseline`` /
``SuppliedBaselineConstraints``, and RegisterModel recording Bias and Explainability
in ``ModelMetrics`` and ``DriftCheckBaselines``. Run it like ``generate.py`` in a
throwaway venv: ``uv pip install "sagemaker<3" "moto[s3,sts,iam]"`` then
``python generate_clarify.py``.
"""

from __future__ import annotations

import json

from generating import BUCKET, HERE, REGION, ROLE, generate, pipeline_session

PREFIX = "model-monitor-clarify"


def build() -> dict:
    from sagemaker import image_uris
    from sagemaker.clarify import BiasConfig, DataConfig, ModelConfig
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import FileSource, MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingOutput
    from sagemaker.session import Session
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.check_job_config import CheckJobConfig
    from sagemaker.workflow.clarify_check_step import (
        ClarifyCheckStep,
        DataBiasCheckConfig,
        ModelBiasCheckConfig,
        ModelExplainabilityCheckConfig,
        ModelPredictedLabelConfig,
        SHAPConfig,
    )
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterBoolean, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    session = pipeline_session()
    plain_session = Session(boto_session=session.boto_session, default_bucket=BUCKET)
    group = "model-monitor-clarify-group"
    raw = ParameterString("RawDataUri", default_value=f"s3://{BUCKET}/raw/data.csv")
    flags = {}
    for check in ("DataBias", "ModelBias", "ModelExplainability"):
        flags[check] = (
            ParameterBoolean(f"Skip{check}Check", default_value=False),
            ParameterBoolean(f"RegisterNew{check}Baseline", default_value=False),
            ParameterString(f"{check}SuppliedBaselineConstraints", default_value=""),
        )
    sklearn = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
        env={"RAW_DATA_URI": raw},
    )
    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=sklearn.run(
            code=str(HERE / "code" / "clarify_preprocess.py"),
            outputs=[
                ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
                for name in ("train", "validation", "test")
            ],
        ),
    )
    train_uri = preprocess.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    check_job_config = CheckJobConfig(
        role=ROLE,
        instance_count=1,
        instance_type="ml.c5.xlarge",
        volume_size_in_gb=120,
        sagemaker_session=plain_session,
    )

    def output(step: str) -> Join:
        return Join(
            on="/",
            values=["s3:/", BUCKET, PREFIX, ExecutionVariables.PIPELINE_EXECUTION_ID, step],
        )

    def data_config(step: str) -> DataConfig:
        return DataConfig(
            s3_data_input_path=train_uri,
            s3_output_path=output(step),
            s3_analysis_config_output_path=f"s3://{BUCKET}/{PREFIX}/{step}/analysis_cfg",
            label=0,
            dataset_type="text/csv",
        )

    bias_config = BiasConfig(
        label_values_or_threshold=[15.0], facet_name=[8], facet_values_or_threshold=[[0.5]]
    )
    skip, register_new, supplied = flags["DataBias"]
    data_bias = ClarifyCheckStep(
        name="DataBiasCheckStep",
        clarify_check_config=DataBiasCheckConfig(
            data_config=data_config("databiascheckstep"), data_bias_config=bias_config
        ),
        check_job_config=check_job_config,
        skip_check=skip,
        register_new_baseline=register_new,
        supplied_baseline_constraints=supplied,
        model_package_group_name=group,
    )
    xgb_image = image_uris.retrieve("xgboost", REGION, version="1.7-1")
    estimator = Estimator(
        image_uri=xgb_image,
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{BUCKET}/{PREFIX}/AbaloneTrain",
        sagemaker_session=session,
        hyperparameters={"objective": "reg:squarederror", "num_round": 20, "max_depth": 3},
    )
    train = TrainingStep(
        name="TrainAbaloneModel",
        step_args=estimator.fit(
            {"train": TrainingInput(s3_data=train_uri, content_type="text/csv")}
        ),
        depends_on=[data_bias.name],
    )
    model = Model(
        image_uri=xgb_image,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        sagemaker_session=session,
        role=ROLE,
    )
    create_model = ModelStep(
        name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large")
    )
    model_config = ModelConfig(
        model_name=create_model.properties.ModelName,
        instance_count=1,
        instance_type="ml.m5.xlarge",
    )
    model_bias_config = ModelBiasCheckConfig(
        data_config=data_config("modelbiascheckstep"),
        data_bias_config=bias_config,
        model_config=model_config,
        model_predicted_label_config=ModelPredictedLabelConfig(),
    )
    skip, register_new, supplied = flags["ModelBias"]
    model_bias = ClarifyCheckStep(
        name="ModelBiasCheckStep",
        clarify_check_config=model_bias_config,
        check_job_config=check_job_config,
        skip_check=skip,
        register_new_baseline=register_new,
        supplied_baseline_constraints=supplied,
        model_package_group_name=group,
    )
    explain_config = ModelExplainabilityCheckConfig(
        data_config=data_config("modelexplainabilitycheckstep"),
        model_config=model_config,
        explainability_config=SHAPConfig(seed=123, num_samples=10),
    )
    skip, register_new, supplied = flags["ModelExplainability"]
    explainability = ClarifyCheckStep(
        name="ModelExplainabilityCheckStep",
        clarify_check_config=explain_config,
        check_job_config=check_job_config,
        skip_check=skip,
        register_new_baseline=register_new,
        supplied_baseline_constraints=supplied,
        model_package_group_name=group,
    )

    def source(uri: object) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    metrics = ModelMetrics(
        bias_pre_training=source(data_bias.properties.CalculatedBaselineConstraints),
        bias_post_training=source(model_bias.properties.CalculatedBaselineConstraints),
        explainability=source(explainability.properties.CalculatedBaselineConstraints),
    )
    baselines = DriftCheckBaselines(
        bias_pre_training_constraints=source(
            data_bias.properties.BaselineUsedForDriftCheckConstraints
        ),
        bias_config_file=FileSource(
            s3_uri=model_bias_config.monitoring_analysis_config_uri,
            content_type="application/json",
        ),
        bias_post_training_constraints=source(
            model_bias.properties.BaselineUsedForDriftCheckConstraints
        ),
        explainability_constraints=source(
            explainability.properties.BaselineUsedForDriftCheckConstraints
        ),
        explainability_config_file=FileSource(
            s3_uri=explain_config.monitoring_analysis_config_uri,
            content_type="application/json",
        ),
    )
    register = ModelStep(
        name="RegisterAbaloneModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status="Approved",
            model_metrics=metrics,
            drift_check_baselines=baselines,
        ),
        depends_on=[model_bias.name, explainability.name],
    )
    pipeline = Pipeline(
        name="model-monitor-clarify-pipeline",
        parameters=[raw, *(p for trio in flags.values() for p in trio)],
        steps=[preprocess, data_bias, train, create_model, model_bias, explainability, register],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


def main() -> None:
    generate({"clarify": build})


if __name__ == "__main__":
    main()
