"""The definition is parsed once into typed, immutable step plans (local/plan.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sagepipe.local import DefinitionError, execute
from sagepipe.local.history import RunHistory
from sagepipe.local.plan import (
    CacheConfig,
    PropertyFileSpec,
    StepType,
    parse_definition,
)
from sagepipe.local.runners import RUNNERS
from sagepipe.local.states import ExecutionState, StepState
from sagepipe.local.validate import STEP_TYPES


def _processing(name, **extra):
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {"ImageUri": "local", "ContainerEntrypoint": ["true"]},
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "report",
                        "S3Output": {
                            "S3Uri": "s3://b/report",
                            "LocalPath": "/opt/ml/processing/report",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }
    step.update(extra)
    return step


def _definition():
    evaluate = _processing(
        "Evaluate",
        CacheConfig={"Enabled": True, "ExpireAfter": "P30D"},
        PropertyFiles=[
            {"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}
        ],
    )
    uses_report = _processing("Publish", DependsOn=["Evaluate"])
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [
            evaluate,
            {
                "Name": "Gate",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {
                                "Std:JsonGet": {
                                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
                                    "Path": "accuracy",
                                }
                            },
                            "RightValue": {"Get": "Parameters.Threshold"},
                        }
                    ],
                    "IfSteps": [uses_report],
                    "ElseSteps": [
                        {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "low"}}
                    ],
                },
            },
        ],
    }


def test_steps_become_typed_plans_with_branches_dependencies_and_cache_settings():
    plan = parse_definition(_definition())

    assert list(plan.steps) == ["Evaluate", "Gate", "Publish", "Stop"]  # parents first
    evaluate, gate, publish, stop = plan
    assert [s.type for s in plan] == [
        StepType.PROCESSING,
        StepType.CONDITION,
        StepType.PROCESSING,
        StepType.FAIL,
    ]
    assert evaluate.cache == CacheConfig(enabled=True, expire_after="P30D")
    assert evaluate.property_file("Report") == PropertyFileSpec("Report", "report", "report.json")
    # A condition depends on what its conditions read, not on its branches.
    assert gate.depends_on == {"Evaluate"}
    assert (publish.parent, publish.branch, publish.depends_on) == (
        "Gate",
        True,
        {"Evaluate", "Gate"},
    )
    assert (stop.parent, stop.branch, stop.depends_on) == ("Gate", False, {"Gate"})
    assert stop.arguments == {"ErrorMessage": "low"}
    assert publish.cache == CacheConfig(enabled=False, expire_after=None)
    assert plan.parameters[0]["Name"] == "Threshold"


def test_plans_are_immutable_down_to_their_arguments():
    definition = _definition()
    plan = parse_definition(definition)
    evaluate = plan.steps["Evaluate"]

    with pytest.raises(dataclasses.FrozenInstanceError):
        evaluate.name = "Other"
    with pytest.raises(TypeError, match="immutable"):
        evaluate.arguments["AppSpecification"]["ImageUri"] = "elsewhere"
    with pytest.raises(TypeError, match="immutable"):
        evaluate.arguments["ProcessingOutputConfig"]["Outputs"].append({})
    with pytest.raises(TypeError):
        plan.steps["New"] = evaluate
    # The plan is a copy: changing the definition afterwards does not reach it.
    definition["Steps"][0]["Arguments"]["AppSpecification"]["ImageUri"] = "changed"
    assert evaluate.arguments["AppSpecification"]["ImageUri"] == "local"
    # Still plain JSON data for everything that reads it (the cache key, expressions).
    assert json.loads(json.dumps(evaluate.arguments))["AppSpecification"]["ImageUri"] == "local"
    assert hash(evaluate) == hash(parse_definition(_definition()).steps["Evaluate"])


def test_every_type_the_validator_accepts_has_a_runner():
    assert {StepType(t) for t in STEP_TYPES} == set(RUNNERS) == set(StepType)


def test_states_are_the_strings_the_history_and_json_output_hold():
    assert [s.value for s in StepState] == [
        "Pending",
        "Starting",
        "Executing",
        "Succeeded",
        "Failed",
        "Stopped",
        "NotExecuted",
    ]
    assert StepState.SUCCEEDED == "Succeeded" and f"{StepState.FAILED}" == "Failed"
    assert json.dumps({"Status": ExecutionState.STOPPED}) == '{"Status": "Stopped"}'
    assert [s for s in StepState if s.terminal] == [
        StepState.SUCCEEDED,
        StepState.FAILED,
        StepState.STOPPED,
        StepState.NOT_EXECUTED,
    ]


def test_an_executed_run_records_the_same_strings(tmp_path):
    definition = {
        "Version": "2020-12-01",
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "no"}}],
    }
    execution = execute(definition, workspace=tmp_path / "ws")

    assert execution.status is ExecutionState.FAILED
    assert execution.steps["Stop"].status is StepState.FAILED
    assert execution.to_dict()["Steps"][0]["Type"] == "Fail"
    assert json.loads(json.dumps(execution.to_dict()))["Status"] == "Failed"
    history = RunHistory(tmp_path / "ws" / "runs.db")
    try:
        record = history.get_execution(execution.id)
    finally:
        history.close()
    assert record is not None
    assert (record.status, record.steps[0].status, record.steps[0].type) == (
        "Failed",
        "Failed",
        "Fail",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(Version="2019-01-01"), "definition Version '2019-01-01'"),
        (lambda d: d["Steps"][0].update(DependsOn=["Missing"]), "unknown step 'Missing'"),
        (lambda d: d["Steps"][0].update(Type="Lambda"), "Type 'Lambda'"),
        (
            lambda d: d["Steps"][0]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0][
                "S3Output"
            ].update(LocalPath="/etc"),
            "outside /opt/ml/processing/",
        ),
    ],
)
def test_a_bad_definition_is_refused_before_anything_is_written(tmp_path, change, message):
    definition = _definition()
    change(definition)
    with pytest.raises(DefinitionError, match=message):
        execute(definition, workspace=tmp_path / "ws")
    assert not (tmp_path / "ws").exists()
