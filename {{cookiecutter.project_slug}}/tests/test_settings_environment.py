"""The ``MLOPS_*`` environment settings: declared once, every name and value checked at load.

Hostile and mistyped values, several per rule, are refused in one line that names the
variable, the rule and the fix; valid values of every rule (including AWS's less common
forms) still load, so the rules are not stricter than the services'.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }} import settings, stage_schema
from {{ cookiecutter.package_name }}.cli import make_cli

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SELF = (Path(__file__).name, Path(stage_schema.__file__).name)  # they name typos on purpose

TYPOS = [
    ("MLOPS_BUKET", "MLOPS_BUCKET"),
    ("MLOPS_ROLE", "MLOPS_ROLE_ARN"),
    ("MLOPS_REGOIN", "MLOPS_REGION"),
    ("MLOPS_SERVER_PROT", "MLOPS_SERVER_PORT"),
    ("MLOPS_SUBNET", "MLOPS_SUBNETS"),
    ("MLOPS_KMS_KEY", "MLOPS_KMS_KEY_ID"),
    ("MLOPS_STAGES", "MLOPS_STAGE"),
]

BAD_VALUES = [
    # S3 bucket naming rules
    ("MLOPS_BUCKET", "../x", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "Upper_Case", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "ab", "3-63 lowercase"),
    ("MLOPS_BUCKET", "a" * 64, "3-63 lowercase"),
    ("MLOPS_BUCKET", "my..bucket", "no '..'"),
    ("MLOPS_BUCKET", "192.168.10.1", "not an IP address"),
    ("MLOPS_BUCKET", "-bucket", "starting and ending with a letter or digit"),
    ("MLOPS_BUCKET", "bucket-", "starting and ending with a letter or digit"),
    ("MLOPS_BUCKET", "xn--bucket", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "team-s3alias", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "my bucket", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "bucket/key", "not a valid S3 bucket name"),
    ("MLOPS_BUCKET", "bucket\n", "not a valid S3 bucket name"),
    # region
    ("MLOPS_REGION", "mars-north-1", "not an AWS region name"),
    ("MLOPS_REGION", "eu-west", "not an AWS region name"),
    ("MLOPS_REGION", "EU-WEST-1", "not an AWS region name"),
    ("MLOPS_REGION", "eu_west_1", "not an AWS region name"),
    ("MLOPS_REGION", "eu-west-1;id", "not an AWS region name"),
    ("MLOPS_REGION", "eu-west-123", "not an AWS region name"),
    # IAM role ARN
    ("MLOPS_ROLE_ARN", "arn:aws:iam::12345:role/x", "not an IAM role ARN"),
    ("MLOPS_ROLE_ARN", "arn:aws:iam::123456789012:user/x", "not an IAM role ARN"),
    ("MLOPS_ROLE_ARN", "arn:aws:iam::123456789012:role/", "not an IAM role ARN"),
    ("MLOPS_ROLE_ARN", "SageMakerExecutionRole", "arn:aws:iam::<12-digit account>"),
    ("MLOPS_ROLE_ARN", "arn:aws:iam::123456789012:role/a b", "not an IAM role ARN"),
    ("MLOPS_ROLE_ARN", "arn:aws:s3:::bucket", "not an IAM role ARN"),
    # counts and other whole numbers
    ("MLOPS_VARIANT_INITIAL_INSTANCE_COUNT", "two", "must be a whole number"),
    ("MLOPS_VARIANT_INITIAL_INSTANCE_COUNT", "2.5", "must be a whole number"),
    ("MLOPS_VARIANT_INITIAL_INSTANCE_COUNT", "1e3", "must be a whole number"),
    ("MLOPS_VARIANT_INITIAL_INSTANCE_COUNT", "0", "must be at least 1"),
    ("MLOPS_VARIANT_INITIAL_INSTANCE_COUNT", "true", "must be a whole number"),
    ("MLOPS_SERVER_WORKERS", "-2", "must be at least 0"),
    ("MLOPS_SMOKE_TEST_BATCH_ROWS", "0", "must be at least 1"),
    ("MLOPS_SERVER_PORT", "0", "between 1 and 65535"),
    ("MLOPS_SERVER_PORT", "70000", "between 1 and 65535"),
    ("MLOPS_SERVER_PORT", "http", "must be a whole number"),
    ("MLOPS_SERVER_PORT", "80.0", "must be a whole number"),
    ("MLOPS_SERVER_PORT", "\u0668\u0660\u0668\u0660", "must be a whole number"),  # Arabic-Indic
    ("MLOPS_SERVER_PORT", "8_080", "must be a whole number"),
    ("MLOPS_SERVER_PORT", " 8080", "must be a whole number"),
    # numbers
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "nan", "finite"),
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "inf", "finite"),
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "-1", "above 0"),
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "soon", "must be a number"),
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "1_0", "must be a number"),
    ("MLOPS_SERVER_TIMEOUT_SECONDS", "0x10", "must be a number"),
    ("MLOPS_CAPTURE_SAMPLING_PERCENTAGE", "101", "at most 100"),
    ("MLOPS_CAPTURE_SAMPLING_PERCENTAGE", "-5", "at least 0"),
    # booleans: only true or false, never "anything non-empty is true"
    ("MLOPS_CAPTURE_ENABLED", "yes", "true or false"),
    ("MLOPS_CAPTURE_ENABLED", "1", "true or false"),
    ("MLOPS_CAPTURE_ENABLED", "off", "true or false"),
    # subnets, security groups, KMS keys
    ("MLOPS_SUBNETS", "subnet-nope", "not a list of subnet ids"),
    ("MLOPS_SUBNETS", "subnet-0abc1234,", "not a list of subnet ids"),
    ("MLOPS_SUBNETS", "sg-0abc1234", "not a list of subnet ids"),
    ("MLOPS_SUBNETS", "subnet-0ABC1234", "not a list of subnet ids"),
    ("MLOPS_SUBNETS", "subnet-0abc1234 subnet-0def5678", "not a list of subnet ids"),
    ("MLOPS_SUBNETS", ",".join(["subnet-0abc1234"] * 17), "up to 16"),
    ("MLOPS_SECURITY_GROUP_IDS", "sg-xyz", "not a list of security group ids"),
    ("MLOPS_SECURITY_GROUP_IDS", "subnet-0abc1234", "not a list of security group ids"),
    ("MLOPS_SECURITY_GROUP_IDS", "sg-0abc12", "not a list of security group ids"),
    ("MLOPS_SECURITY_GROUP_IDS", ",".join(["sg-0abc1234"] * 6), "up to 5"),
    ("MLOPS_KMS_KEY_ID", "my-key", "not a KMS key id, key ARN or alias"),
    ("MLOPS_KMS_KEY_ID", "arn:aws:kms:eu-west-1:123:key/x", "not a KMS key id"),
    ("MLOPS_KMS_KEY_ID", "alias/", "not a KMS key id"),
    ("MLOPS_KMS_KEY_ID", "0a1b2c3d-0000-1111-2222-33334444555", "not a KMS key id"),
    # instance types and images
    ("MLOPS_TRAINING_INSTANCE_TYPE", "m5.large", "not a SageMaker instance type"),
    ("MLOPS_TRAINING_INSTANCE_TYPE", "ml.m5", "not a SageMaker instance type"),
    ("MLOPS_PROCESSING_INSTANCE_TYPE", "ML.M5.LARGE", "not a SageMaker instance type"),
    ("MLOPS_INFERENCE_INSTANCE_TYPE", "ml.m5.large;id", "not a SageMaker instance type"),
    ("MLOPS_VARIANT_INSTANCE_TYPE", "large", "not a SageMaker instance type"),
    ("MLOPS_IMAGE_URI", "my image:tag", "not a container image reference"),
    ("MLOPS_IMAGE_URI", "Upper/Case:tag", "not a container image reference"),
    ("MLOPS_IMAGE_URI", "repo:tag;rm -rf /", "not a container image reference"),
    ("MLOPS_IMAGE_URI", "repo:", "not a container image reference"),
    # SageMaker names, S3 prefixes, folders
    ("MLOPS_PIPELINE_NAME", "-lead", "not a SageMaker pipeline name"),
    ("MLOPS_PIPELINE_NAME", "with_underscore", "not a SageMaker pipeline name"),
    ("MLOPS_PIPELINE_NAME", "p" * 257, "not a SageMaker pipeline name"),
    ("MLOPS_MODEL_PACKAGE_GROUP", "my group", "not a SageMaker model package group name"),
    ("MLOPS_MODEL_PACKAGE_GROUP", "g" * 64, "1-63 letters"),
    ("MLOPS_PREFIX", "/absolute", "not a valid S3 key prefix"),
    ("MLOPS_PREFIX", "a//b", "not a valid S3 key prefix"),
    ("MLOPS_PREFIX", "../up", "not a valid S3 key prefix"),
    ("MLOPS_PREFIX", "a/./b", "not a valid S3 key prefix"),
    ("MLOPS_DATA_DIR", "/etc", "not a folder inside the project"),
    ("MLOPS_DATA_DIR", "../outside", "not a folder inside the project"),
    ("MLOPS_DATA_DIR", "data/../../x", "not a folder inside the project"),
    # choices and small languages
    ("MLOPS_TARGET", "aws", "must be one of local, sagemaker"),
    ("MLOPS_TARGET", "Local", "must be one of local, sagemaker"),
    ("MLOPS_DEPLOYMENT_STRATEGY", "blue-green", "must be one of all-at-once, canary, linear"),
    ("MLOPS_DEFAULT_PIPELINE", "../evil", "not a migrated pipeline's name"),
    ("MLOPS_DEFAULT_PIPELINE", "Churn", "not a migrated pipeline's name"),
    ("MLOPS_TAGS", "team", "not a list of tags"),
    ("MLOPS_TAGS", "=x", "not a list of tags"),
    ("MLOPS_TAGS", "aws:owner=me", "no aws: keys"),
    ("MLOPS_TAGS", "a=b,,c=d", "not a list of tags"),
    ("MLOPS_MODEL_VERSION", "newest", "latest-approved"),
    ("MLOPS_MODEL_VERSION", "0", "latest-approved"),
    ("MLOPS_MODEL_VERSION", "-1", "latest-approved"),
    ("MLOPS_SMOKE_TEST_METRICS", "accuracy,a b", "not a metric name"),
]

GOOD_VALUES = [
    ("MLOPS_BUCKET", "my.team-bucket-01", "bucket"),
    ("MLOPS_BUCKET", "abc", "bucket"),
    ("MLOPS_REGION", "us-gov-west-1", "region"),
    ("MLOPS_REGION", "ap-southeast-5", "region"),
    ("MLOPS_REGION", "cn-north-1", "region"),
    (
        "MLOPS_ROLE_ARN",
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-2024",
        "role_arn",
    ),
    ("MLOPS_ROLE_ARN", "arn:aws-cn:iam::123456789012:role/Pipelines", "role_arn"),
    ("MLOPS_SUBNETS", "subnet-0abc1234def567890,subnet-0def5678", "subnets"),
    ("MLOPS_SECURITY_GROUP_IDS", "sg-0abc1234def567890", "security_group_ids"),
    ("MLOPS_KMS_KEY_ID", "0a1b2c3d-0000-1111-2222-333344445555", "kms_key_id"),
    ("MLOPS_KMS_KEY_ID", "alias/team/data", "kms_key_id"),
    ("MLOPS_KMS_KEY_ID", "mrk-" + "0" * 32, "kms_key_id"),
    ("MLOPS_KMS_KEY_ID", "arn:aws:kms:eu-west-1:123456789012:alias/data", "kms_key_id"),
    ("MLOPS_TRAINING_INSTANCE_TYPE", "ml.g4dn.xlarge", "training_instance_type"),
    ("MLOPS_TRAINING_INSTANCE_TYPE", "ml.p4d.24xlarge", "training_instance_type"),
    ("MLOPS_PROCESSING_INSTANCE_TYPE", "ml.m5d.large", "processing_instance_type"),
    (
        "MLOPS_IMAGE_URI",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-model:0123456789ab",
        "image_uri",
    ),
    ("MLOPS_IMAGE_URI", "localhost:5000/team/tool@sha256:" + "a" * 64, "image_uri"),
    ("MLOPS_PREFIX", "teams/churn", "prefix"),
    ("MLOPS_TAGS", "team=ml,cost=churn", "tags"),
    ("MLOPS_DEFAULT_PIPELINE", "no_headings", "default_pipeline"),
    ("MLOPS_TARGET", "sagemaker", "target"),
]


def _refusal(environ: dict[str, str]) -> str:
    with pytest.raises(ValueError) as info:
        settings.load("staging", environ=environ)
    message = str(info.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(("typo", "meant"), TYPOS, ids=[t[0] for t in TYPOS])
def test_unknown_mlops_variables_are_refused_with_the_closest_name(typo: str, meant: str) -> None:
    message = _refusal({typo: "x"})
    assert f"environment {typo} is not a setting" in message
    assert f"did you mean {meant!r}" in message and "unset it" in message


@pytest.mark.parametrize(
    ("name", "value", "rule"), BAD_VALUES, ids=[f"{b[0]}={b[1][:20]!r}" for b in BAD_VALUES]
)
def test_bad_values_are_refused_naming_the_variable_the_rule_and_the_fix(
    name: str, value: str, rule: str
) -> None:
    message = _refusal({name: value})
    assert message.startswith(f"environment {name}={value!r} "), message
    assert rule in message and message.endswith("fix or unset it"), message


@pytest.mark.parametrize(
    ("name", "value", "key"), GOOD_VALUES, ids=[g[1][:30] for g in GOOD_VALUES]
)
def test_valid_values_of_every_rule_load(name: str, value: str, key: str) -> None:
    assert getattr(settings.load("staging", environ={name: value}), key) == value


@pytest.mark.parametrize("value", ["bogus", "../prod", "prod\n", "Prod"])
def test_an_unknown_stage_is_refused_before_any_file_is_read(value: str) -> None:
    with pytest.raises(ValueError) as info:
        settings.load(environ={"MLOPS_STAGE": value})
    message = str(info.value)
    assert f"stage {value!r}: not one of dev, staging, prod" in message


def test_the_environment_wins_over_the_file_which_wins_over_the_default() -> None:
    loaded = settings.load(
        "prod",
        environ={
            "MLOPS_BUCKET": "team-bucket",
            "MLOPS_SERVER_PORT": "8085",
            "MLOPS_CAPTURE_ENABLED": "false",
            "MLOPS_DEPLOYMENT_ALARMS": "prod-5xx, prod-latency",
            "MLOPS_TRAINING_INSTANCE_TYPE": "",  # empty counts as unset: the file's value
        },
    )
    assert loaded.bucket == "team-bucket" and loaded.server.port == 8085
    assert loaded.capture.enabled is False  # prod.toml says true
    assert loaded.deployment.alarms == ("prod-5xx", "prod-latency")
    assert loaded.training_instance_type == "ml.m5.2xlarge"  # prod.toml
    assert loaded.deployment.linear_step_percentage == 25  # the schema's default
    assert loaded.variant.initial_instance_count == 2  # prod.toml


def test_every_problem_is_counted_in_the_one_line() -> None:
    message = _refusal({"MLOPS_BUKET": "x", "MLOPS_SERVER_PORT": "0", "MLOPS_REGION": "x"})
    assert message.endswith("(and 2 more problems)"), message


def test_each_variable_follows_from_its_key_and_is_declared_once() -> None:
    variables = [key.variable for key in stage_schema.KEYS]
    assert len(variables) == len(set(variables))
    assert stage_schema.BY_PATH["server.port"].variable == "MLOPS_SERVER_PORT"
    assert stage_schema.BY_PATH["bucket"].variable == "MLOPS_BUCKET"
    for key in stage_schema.KEYS:  # every declared key reaches the loaded settings
        holder = getattr(settings.load("dev", environ={}), key.section) if key.section else None
        assert hasattr(holder or settings.load("dev", environ={}), key.name), key.path


def test_every_mlops_variable_the_project_mentions_is_declared() -> None:
    # CI configs, CloudFormation and docs set or name these; a name the schema does not
    # know would be refused at load, so it must not appear anywhere.
    declared = {*stage_schema.BY_VARIABLE, stage_schema.STAGE_VARIABLE}
    mentioned: dict[str, str] = {}
    for path in PROJECT_ROOT.rglob("*"):
        if path.suffix not in (".yml", ".yaml", ".md", ".toml", ".py") or not path.is_file():
            continue
        if {".mlops", ".venv"} & set(path.parts) or path.name in SELF:
            continue
        for name in re.findall(r"\bMLOPS_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(errors="ignore")):
            mentioned.setdefault(name, str(path.relative_to(PROJECT_ROOT)))
    unknown = {n: where for n, where in mentioned.items() if n not in declared}
    assert not unknown, unknown
    assert "MLOPS_BUCKET" in mentioned


def test_compile_reports_an_unknown_variable_in_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGEPIPE_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("MLOPS_BUKET", "team-bucket")
    target = tmp_path / "definition.json"
    result = CliRunner().invoke(make_cli(), ["compile", "-o", str(target)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "MLOPS_BUKET" in lines[0] and "did you mean 'MLOPS_BUCKET'" in lines[0]
    assert not target.exists()


def test_a_bad_stage_file_names_the_line_of_the_bad_key(tmp_path: Path) -> None:
    folder = tmp_path / "stages"
    folder.mkdir()
    text = (settings.STAGES_DIR / "staging.toml").read_text()
    text = text.replace("workers = 0 ", "workers = -3 ", 1)
    (folder / "staging.toml").write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "workers = -3" in row)
    with pytest.raises(ValueError, match=rf"staging\.toml:{line}: server\.workers = -3 must be"):
        settings.load("staging", environ={}, folder=folder)
