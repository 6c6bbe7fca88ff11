"""Private operation: with a Network, every job's arguments carry VPC, isolation and KMS."""

from __future__ import annotations

from typing import Any

import pytest

from compiled_example import compile_example
from definition_schema import schema_errors
from sagepipe import GraphError
from sagepipe.network import Network, network_from_text

SUBNETS = ("subnet-0abc1234", "subnet-0def5678")
GROUPS = ("sg-0abc1234",)
KEY = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-1111-2222-333344445555"
VPC = {"SecurityGroupIds": list(GROUPS), "Subnets": list(SUBNETS)}


def jobs(definition: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The arguments of every step of this type, Condition branches included."""
    found = []
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop()
        if step["Type"] == kind:
            found.append(step["Arguments"])
        if step["Type"] == "Condition":
            pending += step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]
    return found


@pytest.fixture(scope="module")
def private() -> dict[str, Any]:
    return compile_example(network=Network(SUBNETS, GROUPS, KEY)).definition


def test_processing_jobs_run_isolated_in_the_vpc_with_the_key(private: dict[str, Any]) -> None:
    processing = jobs(private, "Processing")
    assert processing
    for arguments in processing:
        assert arguments["NetworkConfig"] == {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": True,
            "VpcConfig": VPC,
        }
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
        if "ProcessingOutputConfig" in arguments:
            assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == KEY


def test_training_jobs_run_in_the_vpc_with_the_key_but_can_fetch_their_code(
    private: dict[str, Any],
) -> None:
    training = jobs(private, "Training")
    assert training
    for arguments in training:
        assert arguments["VpcConfig"] == VPC
        assert arguments["EnableInterContainerTrafficEncryption"] is True
        # Script mode downloads sagemaker_submit_directory itself: isolation would break it.
        assert "EnableNetworkIsolation" not in arguments
        assert arguments["ResourceConfig"]["VolumeKmsKeyId"] == KEY
        assert arguments["OutputDataConfig"]["KmsKeyId"] == KEY


def test_private_definition_is_schema_valid(private: dict[str, Any]) -> None:
    assert schema_errors(private) == []


def test_without_a_network_no_job_mentions_one() -> None:
    text = compile_example().to_json().decode()
    for key in ("NetworkConfig", "VpcConfig", "KmsKeyId", "EnableNetworkIsolation"):
        assert key not in text


def test_key_alone_encrypts_without_a_vpc() -> None:
    definition = compile_example(network=Network(kms_key_id=KEY)).definition
    for arguments in jobs(definition, "Processing"):
        assert "NetworkConfig" not in arguments
        assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY


def test_settings_text_becomes_a_network_or_none() -> None:
    assert network_from_text("", " ", "") is None
    network = network_from_text(" subnet-0abc1234, subnet-0def5678 ", "sg-0abc1234", KEY)
    assert network == Network(SUBNETS, GROUPS, KEY)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"subnets": ("subnet-nope",), "security_group_ids": GROUPS}, "'subnet-nope'"),
        ({"subnets": SUBNETS, "security_group_ids": ("default",)}, "'default'"),
        ({"subnets": SUBNETS}, "both subnets and security groups"),
        ({"kms_key_id": "my key"}, "'my key'"),
    ],
)
def test_bad_network_settings_fail_in_one_line(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(GraphError, match=message) as raised:
        Network(**arguments)
    assert "\n" not in str(raised.value)
