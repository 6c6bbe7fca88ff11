"""Regenerate the SDK v2 scikit-learn Transform definition kept in ``sklearn_transform/``.

A script-mode ``SKLearn`` training job, two ``SKLearnModel``s on the scikit-learn 1.2-1
image created with ``ModelStep`` (one inference script defines ``model_fn`` and
``predict_fn``, the other only ``model_fn``; the rest are the image's defaults) and a
``TransformStep`` for each, with SplitType, BatchStrategy, AssembleWith, MaxPayloadInMB
and the InputFilter/JoinSource/OutputFilter data processing. Run it like ``generate.py``
in a throwaway venv: ``uv pip install "sagemaker<3" "moto[s3,sts,iam]"`` then
``python generate_sklearn.py``.
"""

from __future__ import annotations

import json

from generating import BUCKET, HERE, ROLE, generate, pipeline_session

NAME = "sdk-v2-sklearn-transform"


def build() -> dict:
    from sagemaker.inputs import TrainingInput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.sklearn.model import SKLearnModel
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TrainingStep, TransformStep

    session = pipeline_session()
    train_uri = ParameterString("TrainDataUri", default_value=f"s3://{BUCKET}/sklearn/train/")
    batch_uri = ParameterString("BatchDataUri", default_value=f"s3://{BUCKET}/sklearn/batch/")
    estimator = SKLearn(
        entry_point=str(HERE / "code" / "sklearn_train.py"),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{BUCKET}/sklearn/models",
        hyperparameters={"C": 0.5},
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="TrainSKLearn",
        step_args=estimator.fit({"train": TrainingInput(train_uri, content_type="text/csv")}),
    )
    serving = str(HERE / "code" / "sklearn_serving")

    def model_step(name: str, script: str) -> ModelStep:
        model = SKLearnModel(
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            entry_point=script,
            source_dir=serving,
            framework_version="1.2-1",
            py_version="py3",
            role=ROLE,
            sagemaker_session=session,
        )
        return ModelStep(name=name, step_args=model.create(instance_type="ml.m5.large"))

    score_model = model_step("ScoreModel", "score.py")
    label_model = model_step("LabelModel", "labels.py")
    # Records are "id,x1,x2": the model sees x1,x2; the output keeps the id next to the score.
    score = TransformStep(
        name="ScoreBatch",
        step_args=Transformer(
            model_name=score_model.properties.ModelName,
            instance_type="ml.m5.large",
            instance_count=1,
            output_path=f"s3://{BUCKET}/sklearn/scores",
            accept="text/csv",
            assemble_with="Line",
            strategy="MultiRecord",
            max_payload=1,
            sagemaker_session=session,
        ).transform(
            data=batch_uri,
            content_type="text/csv",
            split_type="Line",
            input_filter="$[1:]",
            join_source="Input",
            output_filter="$[0,-1]",
        ),
    )
    labels = TransformStep(
        name="LabelBatch",
        step_args=Transformer(
            model_name=label_model.properties.ModelName,
            instance_type="ml.m5.large",
            instance_count=1,
            output_path=f"s3://{BUCKET}/sklearn/labels",
            accept="application/json",
            assemble_with="Line",
            strategy="MultiRecord",
            sagemaker_session=session,
        ).transform(
            data=batch_uri, content_type="text/csv", split_type="Line", input_filter="$[1:]"
        ),
    )
    pipeline = Pipeline(
        name=NAME,
        parameters=[train_uri, batch_uri],
        steps=[train, score_model, label_model, score, labels],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


def main() -> None:
    generate({"sklearn_transform": build})


if __name__ == "__main__":
    main()
