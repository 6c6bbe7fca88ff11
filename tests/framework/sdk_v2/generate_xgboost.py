"""Regenerate the SDK v2 XGBoost definitions kept in ``xgboost_script/`` and ``serial_model/``.

``xgboost_script``: the framework estimator ``XGBoost(entry_point=..., source_dir=...,
framework_version="1.7-1")`` in a ``TrainingStep`` (script mode on the XGBoost image: the
``sagemaker_program`` / ``sagemaker_submit_directory`` hyperparameters), whose source
directory has a ``requirements.txt``. ``serial_model``: a ``PipelineModel`` (an inference
pipeline: a scikit-learn featurizer container feeding an XGBoost container) created with
``ModelStep`` and used by a ``TransformStep``. Run it like ``generate.py`` in a throwaway
venv: ``uv pip install "sagemaker<3" "moto[s3,sts,iam]"`` then ``python generate_xgboost.py``.
"""

from __future__ import annotations

import json

from generating import BUCKET, HERE, ROLE, generate, pipeline_session


def build_script_mode() -> dict:
    from sagemaker.inputs import TrainingInput
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TrainingStep
    from sagemaker.xgboost.estimator import XGBoost

    session = pipeline_session()
    train_uri = ParameterString("TrainDataUri", default_value=f"s3://{BUCKET}/xgb/train/")
    validation_uri = ParameterString(
        "ValidationDataUri", default_value=f"s3://{BUCKET}/xgb/validation/"
    )
    estimator = XGBoost(
        entry_point="train.py",
        source_dir=str(HERE / "code" / "xgboost_script"),
        framework_version="1.7-1",
        py_version="py3",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{BUCKET}/xgb/models",
        hyperparameters={"num_round": 4, "max_depth": 2, "eta": 0.5},
        sagemaker_session=session,
    )
    train = TrainingStep(
        name="TrainXGBoostScript",
        step_args=estimator.fit(
            {
                "train": TrainingInput(train_uri, content_type="text/csv"),
                "validation": TrainingInput(validation_uri, content_type="text/csv"),
            }
        ),
    )
    pipeline = Pipeline(
        name="sdk-v2-xgboost-script",
        parameters=[train_uri, validation_uri],
        steps=[train],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


def build_serial_model() -> dict:
    from sagemaker import image_uris
    from sagemaker.model import Model
    from sagemaker.pipeline import PipelineModel
    from sagemaker.sklearn.model import SKLearnModel
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TransformStep

    session = pipeline_session()
    batch_uri = ParameterString("BatchDataUri", default_value=f"s3://{BUCKET}/serial/batch/")
    featurizer = SKLearnModel(
        model_data=f"s3://{BUCKET}/serial/featurizer/model.tar.gz",
        entry_point="score.py",
        source_dir=str(HERE / "code" / "sklearn_serving"),
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        sagemaker_session=session,
        env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    )
    booster = Model(
        image_uri=image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1"),
        model_data=f"s3://{BUCKET}/serial/xgboost/model.tar.gz",
        role=ROLE,
        sagemaker_session=session,
    )
    serial = PipelineModel(models=[featurizer, booster], role=ROLE, sagemaker_session=session)
    create = ModelStep(
        name="CreateSerialModel", step_args=serial.create(instance_type="ml.m5.large")
    )
    score = TransformStep(
        name="ScoreSerial",
        step_args=Transformer(
            model_name=create.properties.ModelName,
            instance_type="ml.m5.large",
            instance_count=1,
            output_path=f"s3://{BUCKET}/serial/scores",
            accept="text/csv",
            assemble_with="Line",
            strategy="MultiRecord",
            sagemaker_session=session,
        ).transform(data=batch_uri, content_type="text/csv", split_type="Line"),
    )
    pipeline = Pipeline(
        name="sdk-v2-serial-model",
        parameters=[batch_uri],
        steps=[create, score],
        sagemaker_session=session,
    )
    return json.loads(pipeline.definition())


def main() -> None:
    generate({"xgboost_script": build_script_mode, "serial_model": build_serial_model})


if __name__ == "__main__":
    main()
