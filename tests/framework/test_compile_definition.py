"""The compiled definition has the shapes the real SDK emits, and matches the golden file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import sagepipe
from compiled_example import BUCKET, PREFIX, compile_example
from definition_schema import SDK_V2_EXAMPLE, schema_errors
from sagepipe import GraphError

GOLDEN = Path(__file__).parent / "golden" / "example_pipeline.json"
REFERENCE = json.loads(SDK_V2_EXAMPLE.read_text())


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            for branch in ("IfSteps", "ElseSteps"):
                for inner in step["Arguments"][branch]:
                    found[inner["Name"]] = inner
    return found


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return compile_example().definition


@pytest.fixture(scope="module")
def steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return steps_by_name(definition)


REFERENCE_STEPS = steps_by_name(REFERENCE)


def test_golden_file() -> None:
    """SAGEPIPE_UPDATE_GOLDEN=1 rewrites it after an intended change; review that diff."""
    compiled = compile_example().to_json()
    if os.environ.get("SAGEPIPE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(compiled)
    assert compiled == GOLDEN.read_bytes()


def test_every_registered_model_records_the_engine_version(
    steps: dict[str, dict[str, Any]],
) -> None:
    registers = [s for s in steps.values() if s["Type"] == "RegisterModel"]
    assert registers
    for step in registers:
        metadata = step["Arguments"]["CustomerMetadataProperties"]
        assert metadata["sagepipe:Version"] == sagepipe.__version__


def test_schema_valid_with_known_gaps_only(definition: dict[str, Any]) -> None:
    assert schema_errors(definition) == []


def test_the_gap_list_is_honest_about_the_real_sdk() -> None:
    # The same relaxed rules accept what the real SDK emitted: they are its gaps, not ours.
    assert schema_errors(REFERENCE) == []


def test_version_and_parameters(definition: dict[str, Any]) -> None:
    assert definition["Version"] == "2020-12-01"
    assert definition["Parameters"][:2] == [
        {
            "Name": "InputDataUrl",
            "Type": "String",
            "DefaultValue": "s3://example-bucket/raw/data.csv",
        },
        {"Name": "AccuracyThreshold", "Type": "Float", "DefaultValue": 0.5},
    ]


def test_processing_step_has_the_sdk_shape(steps: dict[str, dict[str, Any]]) -> None:
    ours, theirs = steps["Preprocess"]["Arguments"], REFERENCE_STEPS["Preprocess"]["Arguments"]
    assert set(ours) == set(theirs)
    assert set(ours["ProcessingResources"]["ClusterConfig"]) == set(
        theirs["ProcessingResources"]["ClusterConfig"]
    )
    assert ours["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.InstanceType"
    }
    for mine, reference in zip(ours["ProcessingInputs"], theirs["ProcessingInputs"], strict=True):
        assert set(mine) == set(reference)
        assert set(mine["S3Input"]) == set(reference["S3Input"])
    first_output = ours["ProcessingOutputConfig"]["Outputs"][0]
    assert set(first_output["S3Output"]) == set(
        theirs["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    )
    assert first_output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                BUCKET,
                PREFIX,
                {"Get": "Execution.PipelineExecutionId"},
                "Preprocess",
                "output",
                "train",
            ],
        }
    }


def test_processing_runs_the_generated_entry_with_folders_and_arguments(
    steps: dict[str, dict[str, Any]],
) -> None:
    arguments = steps["Preprocess"]["Arguments"]
    app = arguments["AppSpecification"]
    assert app["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/run_preprocess.py",
    ]
    assert app["ContainerArguments"] == [
        "--raw", "/opt/ml/processing/input/raw",
        "--test", "/opt/ml/processing/output/test",
        "--train", "/opt/ml/processing/output/train",
        "--seed", "7",
        "--test_size", "0.25",
    ]  # fmt: skip
    raw, code = arguments["ProcessingInputs"]
    assert raw["S3Input"]["S3Uri"] == {"Get": "Parameters.InputDataUrl"}
    assert code["InputName"] == "code"
    assert code["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert code["S3Input"]["S3Uri"].startswith(f"s3://{BUCKET}/{PREFIX}/code/")


def test_training_step_has_the_sdk_shape(steps: dict[str, dict[str, Any]]) -> None:
    ours = steps["Train"]["Arguments"]
    theirs = REFERENCE_STEPS["Train"]["Arguments"]
    # The SDK's debugger and profiler settings are optional and left out on purpose.
    assert set(ours) == set(theirs) - {"DebugHookConfig", "ProfilerConfig"}
    assert ours["InputDataConfig"] == [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": {
                        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train']"
                        ".S3Output.S3Uri"
                    },
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    ]
    hyperparameters = ours["HyperParameters"]
    assert set(hyperparameters) == {
        "criterion",
        "n_estimators",
        "sagemaker_submit_directory",
        "sagemaker_program",
        "sagemaker_container_log_level",
        "sagemaker_region",
    }
    assert hyperparameters["criterion"] == '"entropy"'
    assert hyperparameters["n_estimators"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.NEstimators"}]}
    }
    assert hyperparameters["sagemaker_program"] == '"run_train.py"'
    assert hyperparameters["sagemaker_region"] == '"eu-west-1"'
    submit = json.loads(hyperparameters["sagemaker_submit_directory"])
    assert submit.startswith(f"s3://{BUCKET}/{PREFIX}/code/")
    assert submit.endswith("/sourcedir.tar.gz")


def test_evaluate_reads_model_artifacts_and_declares_its_property_file(
    steps: dict[str, dict[str, Any]],
) -> None:
    evaluate = steps["Evaluate"]
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["Arguments"]["ProcessingInputs"]
    }
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert evaluate["PropertyFiles"] == REFERENCE_STEPS["Evaluate"]["PropertyFiles"]


def test_condition_branches_and_fail_message(steps: dict[str, dict[str, Any]]) -> None:
    condition = steps["CheckAccuracy"]["Arguments"]
    assert condition["Conditions"] == REFERENCE_STEPS["CheckAccuracy"]["Arguments"]["Conditions"]
    assert [s["Name"] for s in condition["IfSteps"]] == ["RegisterModel"]
    message = steps["AccuracyTooLow"]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert message["On"] == " "
    assert message["Values"][0] == "accuracy"
    assert message["Values"][3] == {"Get": "Parameters.AccuracyThreshold"}


def test_register_model_has_the_sdk_shape(steps: dict[str, dict[str, Any]]) -> None:
    ours = steps["RegisterModel"]["Arguments"]
    theirs = REFERENCE_STEPS["Register-RegisterModel"]["Arguments"]
    # CustomerMetadataProperties is ours on top: the lineage (the SDK leaves it out).
    assert set(ours) == set(theirs) | {"CustomerMetadataProperties"}
    assert set(ours["InferenceSpecification"]) == set(theirs["InferenceSpecification"])
    container = ours["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert ours["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = ours["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"][1] == "evaluation.json"


def test_cache_config_only_where_asked(steps: dict[str, dict[str, Any]]) -> None:
    assert steps["Preprocess"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert "CacheConfig" not in steps["Evaluate"]


def test_explicit_depends_on_is_emitted() -> None:
    from sagepipe import Fail, Pipeline, compile_pipeline
    from sagepipe_example.pipeline import ROLE

    first = Fail("First", message="a")
    second = Fail("Second", message="b", depends_on=[first])
    definition = compile_pipeline(
        Pipeline("deps", steps=[first, second]), bucket="b-b-b", role=ROLE
    ).definition
    assert definition["Steps"][1]["DependsOn"] == ["First"]
    assert "DependsOn" not in definition["Steps"][0]


def test_default_image_follows_the_region() -> None:
    definition = compile_example(region="us-west-2").definition
    image = definition["Steps"][0]["Arguments"]["AppSpecification"]["ImageUri"]
    assert (
        image == "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bucket": "Bad_Bucket"}, "bucket 'Bad_Bucket' is not a valid S3 bucket name"),
        ({"role": "admin"}, "role 'admin' is not an IAM role ARN"),
        ({"region": "mars-1"}, "region 'mars-1' is not an AWS region name"),
        ({"region": "xx-nowhere-9"}, "region 'xx-nowhere-9' has no known scikit-learn image"),
        ({"prefix": "a//b"}, "prefix 'a//b' has an empty or relative segment"),
    ],
)
def test_bad_compile_settings(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(GraphError, match="^" + message):
        compile_example(**overrides)


def test_register_model_metadata_and_drift_baselines() -> None:
    from sagepipe import (
        Fail,
        MetricsSource,
        ModelMetrics,
        Pipeline,
        RegisterModel,
        compile_pipeline,
    )
    from sagepipe_example.pipeline import ROLE

    register = RegisterModel(
        "Register",
        model="s3://b/model.tar.gz",
        group="g",
        approval_status="Approved",
        customer_metadata={"team": "churn"},
        drift_check_baselines=ModelMetrics(
            data_statistics=MetricsSource("s3://b/baseline/statistics.json"),
            data_constraints=MetricsSource("s3://b/baseline/constraints.json"),
        ),
        inference_program=None,
    )
    definition = compile_pipeline(
        Pipeline("meta", steps=[register, Fail("Never", depends_on=[register])]),
        bucket="b-b",
        role=ROLE,
    ).definition
    arguments = definition["Steps"][0]["Arguments"]
    # The user's keys, plus the lineage every RegisterModel carries (compile_lineage).
    assert arguments["CustomerMetadataProperties"] == {
        "team": "churn",
        "sagepipe:ExecutionId": {"Get": "Execution.PipelineExecutionId"},
        "sagepipe:PipelineName": {"Get": "Execution.PipelineName"},
        "sagepipe:Version": sagepipe.__version__,
    }
    assert arguments["ModelApprovalStatus"] == "Approved"
    assert arguments["DriftCheckBaselines"] == {
        "ModelDataQuality": {
            "Statistics": {
                "ContentType": "application/json",
                "S3Uri": "s3://b/baseline/statistics.json",
            },
            "Constraints": {
                "ContentType": "application/json",
                "S3Uri": "s3://b/baseline/constraints.json",
            },
        }
    }
    assert arguments["InferenceSpecification"]["Containers"][0]["Environment"] == {}
    assert "ModelMetrics" not in arguments
    assert schema_errors(definition) == []
