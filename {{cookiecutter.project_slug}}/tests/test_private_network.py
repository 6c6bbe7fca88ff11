"""Private operation from settings: MLOPS_SUBNETS & co. reach every compiled job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.cli import make_cli
from {{ cookiecutter.package_name }}.pipeline import compile_definition

# What infra/project.yml outputs with NetworkIsolation=true (PrivateSubnetIds,
# JobSecurityGroupId) and its DataKeyArn.
PRIVATE = {
    "MLOPS_SUBNETS": "subnet-0abc1234,subnet-0def5678",
    "MLOPS_SECURITY_GROUP_IDS": "sg-0abc1234",
    "MLOPS_KMS_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/"
    "0a1b2c3d-0000-1111-2222-333344445555",
}


def test_private_settings_put_every_job_in_the_vpc_with_the_key() -> None:
    compiled = compile_definition(settings.load("prod", environ=PRIVATE))
    jobs = [step for step in compiled.definition["Steps"] if step["Type"] == "Processing"]
    jobs += [step for step in compiled.definition["Steps"] if step["Type"] == "Training"]
    assert len(jobs) == 4
    for step in jobs:
        arguments = step["Arguments"]
        vpc = arguments.get("VpcConfig") or arguments["NetworkConfig"]["VpcConfig"]
        assert vpc == {
            "SecurityGroupIds": ["sg-0abc1234"],
            "Subnets": ["subnet-0abc1234", "subnet-0def5678"],
        }
        assert PRIVATE["MLOPS_KMS_KEY_ID"] in json.dumps(arguments)


def test_default_settings_compile_no_network() -> None:
    text = compile_definition(settings.load("dev", environ={})).to_json().decode()
    assert "VpcConfig" not in text and "NetworkConfig" not in text


def test_bad_subnet_setting_fails_compile_in_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SUBNETS", "subnet-nope")
    monkeypatch.setenv("MLOPS_SECURITY_GROUP_IDS", "sg-0abc1234")
    target = tmp_path / "definition.json"
    result = CliRunner().invoke(
        make_cli(), ["compile", "-o", str(target), "--workspace", str(tmp_path / "ws")]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(
        "error: environment MLOPS_SUBNETS='subnet-nope' is not a list of subnet ids: "
    ), lines[0]
    assert "such as subnet-0abc1234" in lines[0]
    assert not target.exists() and not (tmp_path / "ws").exists()
