"""QualityCheck: the SDK's QualityCheckStep shape, run locally with SageMaker's semantics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from definition_schema import schema_errors
from sagepipe import (
    CacheConfig,
    DataQualityCheckConfig,
    GraphError,
    MetricsSource,
    ModelMetrics,
    ParameterBoolean,
    ParameterString,
    Pipeline,
    QualityCheck,
    RegisterModel,
    compile_pipeline,
)
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry

BUCKET = "qc-bucket"
GROUP = "qc-models"


def write_data(workspace: Path, name: str, *, shift: float = 0.0, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": np.round(rng.normal(10 + shift, 2, 500), 3),
            "kind": rng.choice(["a", "b"], 500),
            "label": rng.integers(0, 2, 500),
        }
    )
    path = workspace / "s3" / BUCKET / "data" / name / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    model = workspace / "s3" / BUCKET / "model" / "model.tar.gz"
    model.parent.mkdir(parents=True, exist_ok=True)
    # A model per data set, as training on it would give: the registry registers a new
    # version only for a new artifact (an unchanged one is already registered).
    model.write_bytes(f"not a real model, trained on {name}".encode())
    return f"s3://{BUCKET}/data/{name}"


def definition(**check_options) -> dict:
    dataset = ParameterString("Dataset", default=f"s3://{BUCKET}/data/train")
    skip = ParameterBoolean("SkipCheck", default=True)
    register_new = ParameterBoolean("RegisterNewBaseline", default=True)
    check = QualityCheck(
        "CheckData",
        DataQualityCheckConfig(dataset, exclude_columns=["label"]),
        skip_check=skip,
        register_new_baseline=register_new,
        model_package_group_name=GROUP,
        **check_options,
    )
    register = RegisterModel(
        "Register",
        model=f"s3://{BUCKET}/model/model.tar.gz",
        group=GROUP,
        approval_status="Approved",
        image_uri="image:latest",
        metrics=ModelMetrics(
            data_statistics=MetricsSource(check.calculated_baseline_statistics),
            data_constraints=MetricsSource(check.calculated_baseline_constraints),
        ),
        drift_check_baselines=ModelMetrics(
            data_statistics=MetricsSource(check.baseline_used_for_drift_check_statistics),
            data_constraints=MetricsSource(check.baseline_used_for_drift_check_constraints),
        ),
    )
    pipeline = Pipeline("qc", parameters=[dataset, skip, register_new], steps=[check, register])
    compiled = compile_pipeline(
        pipeline,
        bucket=BUCKET,
        role="arn:aws:iam::111122223333:role/Role",
        region="us-east-1",
        image_uri="image:latest",
    )
    return json.loads(compiled.to_json())


def test_compiles_to_the_sdk_quality_check_step_shape() -> None:
    step = definition()["Steps"][0]
    assert step["Type"] == "QualityCheck" and step["CheckType"] == "DATA_QUALITY"
    assert step["SkipCheck"] == {"Get": "Parameters.SkipCheck"}
    assert step["RegisterNewBaseline"] == {"Get": "Parameters.RegisterNewBaseline"}
    assert step["ModelPackageGroupName"] == GROUP
    args = step["Arguments"]
    assert [i["InputName"] for i in args["ProcessingInputs"]] == ["baseline_dataset_input"]
    assert args["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {"Get": "Parameters.Dataset"}
    output = args["ProcessingOutputConfig"]["Outputs"][0]
    assert output["OutputName"] == "quality_check_output"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    env = args["Environment"]
    assert env["dataset_source"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert env["output_path"] == "/opt/ml/processing/output"
    assert json.loads(env["dataset_format"]) == {
        "csv": {"header": True, "output_columns_position": "START"}
    }
    assert "FailOnViolation" not in step  # SageMaker's default, and not in the schema
    register = definition()["Steps"][1]["Arguments"]
    assert register["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"] == {
        "Get": "Steps.CheckData.BaselineUsedForDriftCheckStatistics"
    }


def test_compiled_definition_validates_against_the_public_schema() -> None:
    assert schema_errors(definition()) == []


def test_first_run_registers_the_new_baseline_as_drift_check_baselines(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    execution = execute(definition(), workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    package = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1)
    stats_uri = package.drift_check_baselines["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert stats_uri.endswith("/CheckData/output/statistics.json")
    assert package.model_metrics["ModelDataQuality"]["Statistics"]["S3Uri"] == stats_uri
    local = tmp_path / "s3" / stats_uri.removeprefix("s3://")
    statistics = json.loads(local.read_text())
    assert [f["name"] for f in statistics["features"]] == ["x", "kind"]


def test_cached_baseline_is_reused_until_its_data_changes(tmp_path: Path) -> None:
    cached = definition(cache=CacheConfig(enabled=True))
    write_data(tmp_path, "train")
    first = execute(cached, workspace=tmp_path)
    second = execute(cached, workspace=tmp_path)
    assert first.status == second.status == "Succeeded", second.failure_reason
    assert not first.steps["CheckData"].cache_hit and second.steps["CheckData"].cache_hit
    assert second.steps["CheckData"].properties == first.steps["CheckData"].properties
    write_data(tmp_path, "train", shift=1.0)  # new content at the same URI: computed again
    third = execute(cached, workspace=tmp_path)
    assert third.status == "Succeeded" and not third.steps["CheckData"].cache_hit


def test_check_against_registered_baselines_is_never_cached(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    assert execute(definition(), workspace=tmp_path).status == "Succeeded"
    cached = definition(cache=CacheConfig(enabled=True))
    # Against the latest Approved version's baselines, which another approval can change.
    params = {"SkipCheck": False, "RegisterNewBaseline": False}
    runs = [execute(cached, workspace=tmp_path, parameters=params) for _ in range(2)]
    assert [run.status for run in runs] == ["Succeeded", "Succeeded"], runs[1].failure_reason
    assert not any(run.steps["CheckData"].cache_hit for run in runs)


def test_check_against_the_approved_baseline_fails_on_drift_and_passes_clean(
    tmp_path: Path,
) -> None:
    write_data(tmp_path, "train")
    assert execute(definition(), workspace=tmp_path).status == "Succeeded"
    checking = {"SkipCheck": "false", "RegisterNewBaseline": "false"}
    write_data(tmp_path, "clean", seed=1)
    clean = execute(
        definition(),
        workspace=tmp_path,
        parameters={**checking, "Dataset": f"s3://{BUCKET}/data/clean"},
    )
    assert clean.status == "Succeeded", clean.failure_reason
    first = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1)
    second = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 2)
    # RegisterNewBaseline=false: the version keeps the baseline it was checked against
    assert second.drift_check_baselines == first.drift_check_baselines
    write_data(tmp_path, "drifted", shift=3.0, seed=2)
    drifted = execute(
        definition(),
        workspace=tmp_path,
        parameters={**checking, "Dataset": f"s3://{BUCKET}/data/drifted"},
    )
    assert drifted.status == "Failed"
    reason = drifted.steps["CheckData"].failure_reason or ""
    assert "1 data_quality violation(s)" in reason and "constraint_violations.json" in reason
    assert drifted.steps["Register"].status == "NotExecuted"


def test_no_baseline_to_check_against_fails_with_the_fix(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    execution = execute(definition(), workspace=tmp_path, parameters={"SkipCheck": "false"})
    assert execution.status == "Failed"
    assert "run it with SkipCheck=True and RegisterNewBaseline=True first" in (
        execution.steps["CheckData"].failure_reason or ""
    )


def test_supplied_baselines_and_fail_on_violation_off(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    assert execute(definition(), workspace=tmp_path).status == "Succeeded"
    first = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1)
    block = first.drift_check_baselines["ModelDataQuality"]
    write_data(tmp_path, "drifted", shift=3.0, seed=2)
    supplied = definition(
        supplied_baseline_statistics=block["Statistics"]["S3Uri"],
        supplied_baseline_constraints=block["Constraints"]["S3Uri"],
        fail_on_violation=False,
    )
    assert supplied["Steps"][0]["FailOnViolation"] is False
    execution = execute(
        supplied,
        workspace=tmp_path,
        parameters={"SkipCheck": "false", "Dataset": f"s3://{BUCKET}/data/drifted"},
    )
    assert execution.status == "Succeeded", execution.failure_reason
    assert execution.steps["CheckData"].properties["ViolationCount"] == 1


def test_bad_config_fails_where_the_graph_is_built() -> None:
    with pytest.raises(GraphError, match="must be a DataQualityCheckConfig"):
        QualityCheck("Bad", config="s3://x/y")  # type: ignore[arg-type]


def sdk_step(**env: str) -> dict:
    """A QualityCheck step as the SageMaker SDK emits it (its own unit test's shape)."""
    return {
        "Name": "DataQualityCheckStep",
        "Type": "QualityCheck",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 60,
                }
            },
            "AppSpecification": {
                "ImageUri": "159807026194.dkr.ecr.us-west-2.amazonaws.com/"
                "sagemaker-model-monitor-analyzer"
            },
            "RoleArn": "DummyRole",
            "ProcessingInputs": [
                {
                    "InputName": "baseline_dataset_input",
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": {"Get": "Parameters.BaselineDataset"},
                        "LocalPath": "/opt/ml/processing/input/baseline_dataset_input",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                        "S3CompressionType": "None",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "quality_check_output",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/sdk/output",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "Environment": {
                "output_path": "/opt/ml/processing/output",
                "publish_cloudwatch_metrics": "Disabled",
                "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
                "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
                **env,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        },
        "CheckType": "DATA_QUALITY",
        "ModelPackageGroupName": {"Get": "Parameters.MyModelPackageGroup"},
        "SkipCheck": True,
        "RegisterNewBaseline": True,
    }


def sdk_definition(step: dict) -> dict:
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {
                "Name": "BaselineDataset",
                "Type": "String",
                "DefaultValue": f"s3://{BUCKET}/data/train",
            },
            {"Name": "MyModelPackageGroup", "Type": "String", "DefaultValue": GROUP},
        ],
        "Steps": [step],
    }


def test_a_definition_in_the_sdks_shape_runs_locally(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    execution = execute(sdk_definition(sdk_step()), workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    props = execution.steps["DataQualityCheckStep"].properties
    assert props["CalculatedBaselineConstraints"] == f"s3://{BUCKET}/sdk/output/constraints.json"
    assert props["BaselineUsedForDriftCheckConstraints"] == props["CalculatedBaselineConstraints"]
    written = tmp_path / "s3" / BUCKET / "sdk" / "output" / "statistics.json"
    names = [f["name"] for f in json.loads(written.read_text())["features"]]
    assert names == ["x", "kind", "label"]  # the SDK has no exclude_columns


def test_preprocessor_scripts_are_refused_not_ignored(tmp_path: Path) -> None:
    write_data(tmp_path, "train")
    step = sdk_step(record_preprocessor_script="/opt/ml/processing/input/pre/p.py")
    execution = execute(sdk_definition(step), workspace=tmp_path)
    assert execution.status == "Failed"
    reason = execution.steps["DataQualityCheckStep"].failure_reason or ""
    assert "does not run Model Monitor's preprocessor/postprocessor scripts" in reason
