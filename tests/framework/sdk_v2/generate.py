"""Regenerate the SageMaker SDK v2 definitions kept here as test data.

Run in a throwaway venv, never in the project's: ``uv venv /tmp/sdk && uv pip install -p
/tmp/sdk/bin/python "sagemaker<3" "moto[s3,sts,iam]" && /tmp/sdk/bin/python generate.py``.
moto's ``mock_aws()`` with a pre-created bucket catches the SDK's uploads, which are kept
under ``s3/`` next to the definition, so the test replays exactly what the SDK wrote
(``generating.py``, which every generator here shares).
"""

from __future__ import annotations

import json

from generating import BUCKET, HERE, REGION, ROLE, generate, pipeline_session


def build() -> dict:
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

    session = pipeline_session()
    raw = ParameterString("RawDataUri", default_value=f"s3://{BUCKET}/raw/data.csv")
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
            code=str(HERE / "code" / "preprocess.py"),
            inputs=[
                ProcessingInput(
                    source=f"s3://{BUCKET}/extra/", destination="/opt/ml/processing/input/extra"
                )
            ],
            outputs=[
                ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
                for name in ("train", "validation", "test", "batch")
            ],
        ),
    )
    xgb_image = image_uris.retrieve("xgboost", REGION, version="1.7-1")
    estimator = Estimator(
        image_uri=xgb_image,
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{BUCKET}/models",
        sagemaker_session=session,
        hyperparameters={
            "objective": "binary:logistic",
            "num_round": 25,
            "max_depth": 3,
            "eta": 0.3,
            "eval_metric": "error",
        },
    )

    def channel(name: str) -> TrainingInput:
        uri = preprocess.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        return TrainingInput(s3_data=uri, content_type="text/csv")

    train = TrainingStep(
        name="TrainXGBoost",
        step_args=estimator.fit({"train": channel("train"), "validation": channel("validation")}),
    )
    evaluator = ScriptProcessor(
        image_uri=xgb_image,
        command=["python3"],
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
    )
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=evaluator.run(
            code=str(HERE / "code" / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=preprocess.properties.ProcessingOutputConfig.Outputs[
                        "test"
                    ].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[
                ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")
            ],
        ),
    )
    model = Model(
        image_uri=xgb_image,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=session,
    )
    create_model = ModelStep(
        name="CreateModel", step_args=model.create(instance_type="ml.m5.large")
    )
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{BUCKET}/transform",
        accept="text/csv",
        assemble_with="Line",
        strategy="MultiRecord",
        sagemaker_session=session,
    )
    batch_uri = preprocess.properties.ProcessingOutputConfig.Outputs["batch"].S3Output.S3Uri
    transform = TransformStep(
        name="Transform",
        step_args=transformer.transform(data=batch_uri, content_type="text/csv", split_type="Line"),
    )
    pipeline = Pipeline(
        name="sdk-v2-aws-images",
        parameters=[raw],
        steps=[preprocess, train, evaluate, create_model, transform],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


def build_function_steps() -> dict:
    """Two ``@step`` functions: the remote-function contract (pickled function + arguments)."""
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

    session = pipeline_session()
    image = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

    @step(name="MakeData", role=ROLE, instance_type="ml.m5.large", image_uri=image)
    def make_data(n: int) -> list:
        return [i * i for i in range(n)]

    @step(name="Total", role=ROLE, instance_type="ml.m5.large", image_uri=image)
    def total(values: list, offset: int) -> dict:
        import platform

        return {"total": sum(values) + offset, "python": platform.python_version()}

    pipeline = Pipeline(
        name="sdk-v2-function-steps", steps=[total(make_data(5), 100)], sagemaker_session=session
    )
    return json.loads(pipeline.definition())


def main() -> None:
    generate({"aws_images": build, "function_steps": build_function_steps})


if __name__ == "__main__":
    main()
