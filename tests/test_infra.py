"""The generated infrastructure and CI: linters, a deploy on moto, security properties.

Every provider's bake is checked: cfn-lint on its CloudFormation stacks, actionlint on the
GitHub workflows, the buildspecs' structure, and each stack deployed into moto's
CloudFormation on a loopback moto server. moto cannot create some resource types (listed in
MOTO_CANNOT_CREATE); the deploy test stands each of those in with a fixed ARN-shaped string
so that the rest of the stack is created for real, and the security tests read what moto
cannot create straight from the templates.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from baking import Baker
from cfn_yaml import load_template

BIN = Path(sys.executable).parent
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
SLUG = "churn-model"
PROJECT_STACK = f"{SLUG}-project"
REPOSITORY = "acme/churn-model"

# Per provider: the CI configs (beside the shared infra/project.yml) and its CI stack.
PROVIDERS = {
    "github": ([".github/workflows/ci.yml", ".github/workflows/deploy.yml"], "ci-github.yml"),
    "gitlab": ([".gitlab-ci.yml"], "ci-gitlab.yml"),
    "codebuild": (
        ["buildspec.yml", "buildspec-deploy.yml", "buildspec-promote.yml"],
        "ci-codebuild.yml",
    ),
}

# Resource types moto 5's CloudFormation has no model for (it skips them or fails on a
# reference to them); the deploy test stands in whatever the installed moto cannot create,
# and test_only_the_documented_types_are_stood_in keeps this list (and docs/aws.md) honest.
MOTO_CANNOT_CREATE = {
    "AWS::S3::BucketPolicy",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::IAM::RolePolicy",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::IAM::OIDCProvider",
    "AWS::Events::Connection",
    "AWS::Events::ApiDestination",
    "AWS::CodeBuild::Project",
    "AWS::CodePipeline::Pipeline",
}

# Parameters a real deploy has to be given (see infra/README.md).
CI_STACK_PARAMETERS = {
    "ci-github.yml": {"GitHubRepository": REPOSITORY, "DispatchToken": "token-for-tests"},
    "ci-gitlab.yml": {
        "GitLabProjectPath": REPOSITORY,
        "GitLabProjectId": "4242",
        "TriggerToken": "token-for-tests",
    },
    "ci-codebuild.yml": {
        "ConnectionArn": f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/"
        "0a1b2c3d-0000-1111-2222-333344445555",
        "FullRepositoryId": REPOSITORY,
        "RepositoryUrl": f"https://github.com/{REPOSITORY}.git",
    },
}

# Static AWS credentials in any form a CI file could carry them.
STATIC_KEY = re.compile(
    r"AKIA[0-9A-Z]{16}|aws_access_key_id|aws_secret_access_key|aws-access-key-id"
    r"|aws-secret-access-key|AWS_SESSION_TOKEN",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def projects(bake_project: Baker) -> dict[str, Path]:
    """One default bake per CI provider, by provider."""
    return {provider: bake_project(ci_provider=provider) for provider in PROVIDERS}


@pytest.fixture(params=sorted(PROVIDERS))
def provider_project(request: pytest.FixtureRequest, projects: dict[str, Path]) -> tuple[str, Path]:
    """Each provider's bake in turn."""
    return request.param, projects[request.param]


def run_tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a console script installed next to this Python."""
    return subprocess.run(
        [str(BIN / name), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


# ---- linters --------------------------------------------------------------------------


def test_every_stack_passes_cfn_lint_and_a_broken_one_does_not(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    # One cfn-lint run (it takes seconds to start): the shared project stack, each
    # provider's CI stack, and a template CloudFormation rejects, which guards the check.
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
        "    Properties:\n      VersioningConfiguration: {Status: Sometimes}\n"
    )
    templates = [projects["github"] / "infra/project.yml", broken]
    templates += [projects[name] / "infra" / stack for name, (_, stack) in PROVIDERS.items()]
    result = run_tool("cfn-lint", "--format", "parseable", "--", *map(str, templates), cwd=tmp_path)
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert findings, result.stderr
    assert {line.split(":", 1)[0] for line in findings} == {str(broken)}, result.stdout


def test_github_workflows_pass_actionlint(projects: dict[str, Path]) -> None:
    project = projects["github"]
    result = run_tool("actionlint", *PROVIDERS["github"][0], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_context_used_where_it_is_not_available(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\nenv:\n  A: x\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    env:\n      B: ${{ env.A }}\n    steps:\n      - run: echo\n"
    )
    assert run_tool("actionlint", str(workflow), cwd=tmp_path).returncode != 0


def test_gitlab_config_passes_the_published_schema(projects: dict[str, Path]) -> None:
    project = projects["gitlab"]
    result = run_tool(
        "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml", cwd=project
    )
    assert result.returncode == 0, result.stdout + result.stderr


# What CodeBuild accepts in a buildspec, version 0.2 (AWS's buildspec reference).
BUILDSPEC_KEYS = {"version", "run-as", "env", "proxy", "batch", "phases", "reports"}
BUILDSPEC_KEYS |= {"artifacts", "cache"}
ENV_KEYS = {"shell", "variables", "parameter-store", "exported-variables", "secrets-manager"}
ENV_KEYS |= {"git-credential-helper"}
PHASES = {"install", "pre_build", "build", "post_build"}
PHASE_KEYS = {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
CACHE_KEYS = {"key", "fallback-keys", "action", "paths"}


def buildspec_problems(spec: Any) -> list[str]:
    """Every way spec breaks the buildspec 0.2 structure CodeBuild accepts."""
    if not isinstance(spec, dict):
        return ["not a mapping"]
    problems = [f"unknown key {key!r}" for key in sorted(set(spec) - BUILDSPEC_KEYS)]
    if spec.get("version") != 0.2:
        problems.append(f"version {spec.get('version')!r} is not 0.2")
    env = spec.get("env", {})
    problems += [f"unknown env key {key!r}" for key in sorted(set(env) - ENV_KEYS)]
    for name, value in env.get("variables", {}).items():
        if not isinstance(value, str):
            problems.append(f"env variable {name} is {type(value).__name__}, not a string")
    phases = spec.get("phases")
    if not isinstance(phases, dict) or not phases:
        return [*problems, "no phases"]
    problems += [f"unknown phase {name!r}" for name in sorted(set(phases) - PHASES)]
    for name, phase in phases.items():
        problems += [f"{name}: unknown key {key!r}" for key in sorted(set(phase) - PHASE_KEYS)]
        commands = phase.get("commands", [])
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            problems.append(f"{name}: commands must be a list of strings")
        for runtime, version in phase.get("runtime-versions", {}).items():
            if not isinstance(version, str):
                problems.append(f"{name}: runtime {runtime} version must be a string")
    cache = spec.get("cache", {})
    problems += [f"unknown cache key {key!r}" for key in sorted(set(cache) - CACHE_KEYS)]
    return problems


def test_buildspecs_have_the_structure_codebuild_accepts(projects: dict[str, Path]) -> None:
    project = projects["codebuild"]
    for name in PROVIDERS["codebuild"][0]:
        spec = yaml.safe_load((project / name).read_text())
        assert buildspec_problems(spec) == [], name
        assert spec["phases"]["build"]["commands"], name


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"version": 0.1, "phases": {"build": {"commands": ["x"]}}}, "version"),
        ({"version": 0.2, "phases": {"compile": {"commands": ["x"]}}}, "unknown phase"),
        ({"version": 0.2, "phases": {"build": {"commands": "x"}}}, "list of strings"),
        ({"version": 0.2, "env": {"variables": {"A": 1}}, "phases": {"build": {}}}, "string"),
        ({"version": 0.2, "phases": {"build": {}}, "caches": {}}, "unknown key"),
    ],
)
def test_buildspec_check_rejects_what_codebuild_rejects(spec: dict[str, Any], problem: str) -> None:
    assert any(problem in found for found in buildspec_problems(spec))


# ---- what the CI configs do -------------------------------------------------------------


def test_every_ci_config_runs_checks_pipeline_image_training_deploy_and_promote(
    provider_project: tuple[str, Path],
) -> None:
    provider, project = provider_project
    text = "\n".join((project / name).read_text() for name in PROVIDERS[provider][0])
    for session in ("lint", "typecheck", "tests", "notebooks", "secrets", "pipeline"):
        assert f"nox -s {session}" in text
    assert "sha256sum requirements.lock | cut -c1-12" in text
    assert "docker build" in text and "docker push" in text
    for command in (
        "run --target sagemaker --wait",
        "deploy --stage staging --target sagemaker",
        "smoke-test --stage staging --target sagemaker",
        "promote --target sagemaker",
    ):
        assert command in text, (provider, command)
    assert "requirements.lock" in text  # the uv cache key


def test_no_ci_file_or_stack_holds_static_aws_keys(provider_project: tuple[str, Path]) -> None:
    provider, project = provider_project
    files = [*PROVIDERS[provider][0], "infra/project.yml", f"infra/{PROVIDERS[provider][1]}"]
    for name in files:
        assert not STATIC_KEY.search((project / name).read_text()), name
    for name in files[-2:]:
        types = {r["Type"] for r in load_template(project / name)["Resources"].values()}
        assert "AWS::IAM::AccessKey" not in types and "AWS::IAM::User" not in types


def test_static_key_pattern_finds_the_usual_forms() -> None:
    for leak in ("AKIAABCDEFGHIJKLMNOP", "aws-secret-access-key: x", "AWS_SECRET_ACCESS_KEY"):
        assert STATIC_KEY.search(leak)


def test_github_deploy_gates_promotion_behind_the_production_environment(
    projects: dict[str, Path],
) -> None:
    deploy = yaml.safe_load((projects["github"] / ".github/workflows/deploy.yml").read_text())
    assert set(deploy[True]) == {"workflow_dispatch"}  # EventBridge or a person starts it
    jobs = deploy["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["promote"]["environment"] == "production"
    assert jobs["promote"]["needs"] == "staging"


def test_gitlab_promotion_is_manual_blocking_and_in_a_named_environment(
    projects: dict[str, Path],
) -> None:
    config = yaml.safe_load((projects["gitlab"] / ".gitlab-ci.yml").read_text())
    promote = config["promote"]
    assert promote["environment"]["name"] == "production"
    assert promote["allow_failure"] is False
    assert all(rule.get("when") == "manual" for rule in promote["rules"])
    assert config[".aws"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    assert config["variables"]["SECRET_DETECTION_EXCLUDED_PATHS"].startswith(".cache")
    assert config[".uv"]["cache"]["key"]["files"] == ["requirements.lock"]


def test_codebuild_pipeline_has_a_manual_approval_between_staging_and_production(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["codebuild"] / "infra/ci-codebuild.yml")
    stages = template["Resources"]["DeployPipeline"]["Properties"]["Stages"]
    assert [stage["Name"] for stage in stages] == ["Source", "Staging", "Approval", "Production"]
    approval = stages[2]["Actions"][0]["ActionTypeId"]
    assert (approval["Category"], approval["Provider"]) == ("Approval", "Manual")


# ---- security properties, read from the templates ------------------------------------


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements, each with Action and Resource as lists."""
    found = policy_document["Statement"]
    found = found if isinstance(found, list) else [found]
    return [
        {
            **s,
            "Action": s["Action"] if isinstance(s["Action"], list) else [s["Action"]],
            "Resource": s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]],
        }
        for s in found
    ]


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement granted to role: inline policies and RolePolicy resources."""
    resources = template["Resources"]
    documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::RolePolicy" and r["Properties"]["RoleName"] == {"Ref": role}
    ]
    return [s for document in documents for s in statements(document)]


# The only actions AWS does not let a policy scope to a resource that the role needs.
UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
}


def test_execution_role_has_no_wildcard_action_and_no_scopable_action_on_every_resource(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["github"] / "infra/project.yml")
    granted = role_statements(template, "SageMakerExecutionRole")
    assert len(granted) >= 8
    for statement in granted:
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in statement["Action"]), statement
        if "*" in statement["Resource"]:
            assert set(statement["Action"]) <= UNSCOPABLE, statement
    # Objects only under the project's prefix of its own bucket.
    s3 = [s for s in granted if any(a.startswith("s3:") for a in s["Action"])]
    object_resources = [r for s in s3 if "s3:GetObject" in s["Action"] for r in s["Resource"]]
    assert object_resources == [{"Fn::Sub": "${ProjectBucket.Arn}/${ProjectSlug}/*"}]


def test_ci_policies_have_no_wildcard_actions_and_pass_the_role_only_to_sagemaker(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["github"] / "infra/project.yml")
    for name in ("CiBuildPolicy", "CiDeployPolicy"):
        granted = statements(template["Resources"][name]["Properties"]["PolicyDocument"])
        for statement in granted:
            assert not any("*" in action for action in statement["Action"]), statement
            if "*" in statement["Resource"]:
                assert statement["Action"] == ["ecr:GetAuthorizationToken"], statement
        (passing,) = [s for s in granted if "iam:PassRole" in s["Action"]]
        assert passing["Resource"] == [{"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}]
        assert passing["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }


def test_the_monitoring_scheduler_may_only_start_monitoring_jobs_as_the_execution_role(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["github"] / "infra/project.yml")
    granted = role_statements(template, "MonitoringSchedulerRole")
    actions = {action for statement in granted for action in statement["Action"]}
    assert actions == {"sagemaker:CreateProcessingJob", "sagemaker:AddTags", "iam:PassRole"}
    (start,) = [s for s in granted if "sagemaker:CreateProcessingJob" in s["Action"]]
    (resource,) = start["Resource"]
    assert resource["Fn::Sub"].endswith(":processing-job/${ProjectSlug}-monitor-*")
    (passing,) = [s for s in granted if "iam:PassRole" in s["Action"]]
    assert passing["Resource"] == [{"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_governance_policy_passes_each_role_only_to_its_service_and_scopes_its_actions(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["github"] / "infra/project.yml")
    granted = statements(template["Resources"]["GovernancePolicy"]["Properties"]["PolicyDocument"])
    passed = {
        s["Resource"][0]["Fn::GetAtt"][0]: s["Condition"]["StringEquals"]["iam:PassedToService"]
        for s in granted
        if "iam:PassRole" in s["Action"]
    }
    assert passed == {
        "SageMakerExecutionRole": "sagemaker.amazonaws.com",
        "MonitoringSchedulerRole": "scheduler.amazonaws.com",
    }
    for statement in granted:
        assert not any("*" in action for action in statement["Action"]), statement
        if "*" in statement["Resource"]:
            assert statement["Action"] == ["scheduler:ListSchedules"], statement


def imported_policies(template: dict[str, Any], role: str) -> list[str]:
    """The project-stack exports whose policies role attaches."""
    attached = template["Resources"][role]["Properties"]["ManagedPolicyArns"]
    return [arn["Fn::ImportValue"]["Fn::Sub"].split("-", 1)[1] for arn in attached]


def test_ci_roles_get_their_rights_only_from_the_project_stack(
    projects: dict[str, Path],
) -> None:
    github = load_template(projects["github"] / "infra/ci-github.yml")
    gitlab = load_template(projects["gitlab"] / "infra/ci-gitlab.yml")
    codebuild = load_template(projects["codebuild"] / "infra/ci-codebuild.yml")
    for template in (github, gitlab):
        assert imported_policies(template, "BuildRole") == ["CiBuildPolicyArn"]
        assert imported_policies(template, "DeployRole") == ["CiDeployPolicyArn"]
        assert "Policies" not in template["Resources"]["BuildRole"]["Properties"]
    assert imported_policies(codebuild, "CodeBuildServiceRole") == [
        "CiBuildPolicyArn",
        "CiDeployPolicyArn",
    ]


def trust_conditions(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """The Condition of every statement in role's trust policy."""
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
    return [s.get("Condition", {}) for s in trust["Statement"]]


def test_github_roles_trust_only_main_and_the_deploy_environments_of_one_repository(
    projects: dict[str, Path],
) -> None:
    template = load_template(projects["github"] / "infra/ci-github.yml")
    prefix = "token.actions.githubusercontent.com"
    (build,) = trust_conditions(template, "BuildRole")
    (deploy,) = trust_conditions(template, "DeployRole")
    assert set(build) == {"StringEquals"} and set(deploy) == {"StringEquals"}  # no StringLike
    assert build["StringEquals"][f"{prefix}:aud"] == "sts.amazonaws.com"
    assert build["StringEquals"][f"{prefix}:sub"] == {
        "Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main"
    }
    assert deploy["StringEquals"][f"{prefix}:sub"] == [
        {"Fn::Sub": "repo:${GitHubRepository}:environment:staging"},
        {"Fn::Sub": "repo:${GitHubRepository}:environment:production"},
    ]


def test_gitlab_roles_trust_only_main_of_one_project(projects: dict[str, Path]) -> None:
    template = load_template(projects["gitlab"] / "infra/ci-gitlab.yml")
    for role in ("BuildRole", "DeployRole"):
        (condition,) = trust_conditions(template, role)
        assert set(condition) == {"StringEquals"}
        assert condition["StringEquals"]["gitlab.com:sub"] == {
            "Fn::Sub": "project_path:${GitLabProjectPath}:ref_type:branch:ref:main"
        }


def test_every_service_role_is_assumable_only_from_this_account(
    provider_project: tuple[str, Path],
) -> None:
    provider, project = provider_project
    for name in ("project.yml", PROVIDERS[provider][1]):
        template = load_template(project / "infra" / name)
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            trust = resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            for statement in trust:
                if "Service" in statement["Principal"]:
                    condition = statement["Condition"]["StringEquals"]
                    assert condition["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}, logical


def test_bucket_is_versioned_private_and_ages_run_artifacts(projects: dict[str, Path]) -> None:
    # moto applies only a bucket's encryption from CloudFormation, so read the rest here.
    template = load_template(projects["github"] / "infra/project.yml")
    bucket = template["Resources"]["ProjectBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    runs = rules["run-artifacts-to-intelligent-tiering"]
    assert runs["Prefix"] == {"Fn::Sub": "${ProjectSlug}/"}
    assert "ExpirationInDays" not in runs  # registered versions point at these models
    assert rules["overwritten-versions-expire"]["NoncurrentVersionExpiration"]
    assert rules["ci-scratch-expires"]["Prefix"] == "ci/"
    key = template["Resources"]["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True


def test_repository_scans_on_push_and_keeps_tags_immutable(projects: dict[str, Path]) -> None:
    template = load_template(projects["github"] / "infra/project.yml")
    repository = template["Resources"]["ImageRepository"]["Properties"]
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["ImageTagMutability"] == "IMMUTABLE"


def test_bucket_policy_denies_every_request_without_tls(projects: dict[str, Path]) -> None:
    # moto cannot create bucket policies from CloudFormation, so read the template.
    template = load_template(projects["github"] / "infra/project.yml")
    policy = template["Resources"]["ProjectBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = statements(policy)
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", ["s3:*"])
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2  # the bucket and every object in it


def test_approval_rules_match_approved_versions_of_the_project_group_only(
    provider_project: tuple[str, Path],
) -> None:
    provider, project = provider_project
    template = load_template(project / "infra" / PROVIDERS[provider][1])
    pattern = template["Resources"]["ApprovedModelRule"]["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"]
    assert pattern["detail"]["ModelPackageGroupName"] == [
        {"Fn::ImportValue": {"Fn::Sub": "${ProjectStackName}-ModelPackageGroupName"}}
    ]


# ---- deploy on moto's CloudFormation ---------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client factory for the moto server, whose state is reset for each test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_url, region_name=REGION)

    return client


# Of the stood-in types, the ones whose Ref is an ARN; the others' Ref is a name.
REF_IS_ARN = {"AWS::IAM::OIDCProvider"}


def stand_in(logical: str, resource_type: str, attribute: str | None = None) -> str:
    """The fixed string a resource moto cannot create is replaced by (a name or an ARN)."""
    if attribute is None and resource_type not in REF_IS_ARN:
        return f"stand-in-{logical}"
    service = resource_type.split("::")[1].lower()
    suffix = f"/{attribute}" if attribute else ""
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:stand-in/{logical}{suffix}"


def without_uncreatable(template: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """template minus the resources moto cannot create, references to them stood in."""
    resources = template["Resources"]
    dropped = {name: r["Type"] for name, r in resources.items() if not moto_can_create(r["Type"])}

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in dropped:
                return stand_in(node["Ref"], dropped[node["Ref"]])
            if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in dropped:
                name, attribute = node["Fn::GetAtt"]
                return stand_in(name, dropped[name], attribute)
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                return {"Fn::Sub": re.sub(r"\$\{([^}]+)\}", sub_variable, node["Fn::Sub"])}
            return {key: replace(value) for key, value in node.items()}
        if isinstance(node, list):
            return [replace(value) for value in node]
        return node

    def sub_variable(match: re.Match[str]) -> str:
        name, _, attribute = match.group(1).partition(".")
        if name in dropped:
            return stand_in(name, dropped[name], attribute or None)
        return match.group(0)

    kept = {name: r for name, r in resources.items() if name not in dropped}
    return {**replace({**template, "Resources": kept})}, set(dropped.values())


def expected_resources(template: dict[str, Any], parameters: dict[str, str]) -> set[str]:
    """Logical ids of the resources whose condition holds (conditions: Equals on a Ref)."""
    values = {
        name: parameters.get(name, str(spec.get("Default", "")))
        for name, spec in template.get("Parameters", {}).items()
    }
    holds = {}
    for name, condition in template.get("Conditions", {}).items():
        reference, expected = condition["Fn::Equals"]
        holds[name] = values[reference["Ref"]] == expected
    return {
        name
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or holds[resource["Condition"]]
    }


def deploy(aws: Any, name: str, path: Path, **parameters: str) -> dict[str, Any]:
    """Create the stack on moto; return its outputs by key."""
    template, _ = without_uncreatable(load_template(path))
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    created = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    # Every resource moto was left with, and whose condition holds, has been created.
    assert {r["LogicalResourceId"] for r in created} - {""} == expected_resources(
        template, parameters
    )
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def moto_can_create(resource_type: str) -> bool:
    """Whether the installed moto has a CloudFormation model for this resource type."""
    from moto.cloudformation.parsing import get_model_map

    return resource_type in get_model_map()


def test_only_the_documented_types_are_stood_in(projects: dict[str, Path]) -> None:
    # A newer moto may learn some of MOTO_CANNOT_CREATE (then they are deployed for real);
    # a type it cannot create must never be stood in without being listed (and documented).
    stood_in = set()
    for provider, (_, stack) in PROVIDERS.items():
        for name in ("project.yml", stack):
            template = load_template(projects[provider] / "infra" / name)
            stood_in |= set(without_uncreatable(template)[1])
    assert stood_in <= MOTO_CANNOT_CREATE
    assert "AWS::S3::Bucket" not in stood_in and "AWS::IAM::Role" not in stood_in


def test_project_stack_deploys_with_the_bucket_key_repository_and_role_it_promises(
    aws: Any, projects: dict[str, Path]
) -> None:
    outputs = deploy(aws, PROJECT_STACK, projects["github"] / "infra/project.yml")
    bucket = outputs["BucketName"]
    assert bucket == f"{SLUG}-{ACCOUNT}"
    s3 = aws("s3")
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": outputs["DataKeyArn"],
    }
    key_id = outputs["DataKeyArn"].rsplit("/", 1)[1]
    assert aws("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    (repository,) = aws("ecr").describe_repositories(repositoryNames=[SLUG])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    # moto stores the scan setting in CloudFormation's casing and so never reports it:
    # test_repository_scans_on_push reads it from the template.
    assert outputs["ImageRepositoryUri"] == repository["repositoryUri"]
    role = aws("iam").get_role(RoleName=outputs["SageMakerExecutionRoleArn"].rsplit("/", 1)[1])
    trust = role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert outputs["ModelPackageGroupName"] == f"{SLUG}-models"
    assert "PrivateSubnetIds" not in outputs  # the network exists only when asked for
    scheduler = aws("iam").get_role(
        RoleName=outputs["MonitoringSchedulerRoleArn"].rsplit("/", 1)[1]
    )
    trust = scheduler["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    governance = aws("iam").get_policy(PolicyArn=outputs["GovernancePolicyArn"])["Policy"]
    assert governance["AttachmentCount"] == 0  # attached by whoever schedules monitoring


def test_project_stack_with_network_isolation_creates_private_subnets_and_endpoints(
    aws: Any, projects: dict[str, Path]
) -> None:
    outputs = deploy(
        aws, PROJECT_STACK, projects["github"] / "infra/project.yml", NetworkIsolation="true"
    )
    ec2 = aws("ec2")
    subnet_ids = outputs["PrivateSubnetIds"].split(",")
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    # moto gives every subnet public IPs whatever CloudFormation says: read the template.
    resources = load_template(projects["github"] / "infra/project.yml")["Resources"]
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):
        assert resources[subnet]["Properties"]["MapPublicIpOnLaunch"] is False
    (vpc_id,) = {s["VpcId"] for s in subnets}
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    assert gateways == []  # no way out to the internet
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    services = {e["ServiceName"].rsplit(".", 1)[-1] for e in endpoints["VpcEndpoints"]}
    assert {"s3", "api", "dkr", "runtime", "logs", "sts"} <= services
    (group,) = ec2.describe_security_groups(GroupIds=[outputs["JobSecurityGroupId"]])[
        "SecurityGroups"
    ]
    assert group["VpcId"] == vpc_id


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_ci_stack_deploys_on_the_project_stack_with_its_roles_and_approval_rule(
    aws: Any, projects: dict[str, Path], provider: str
) -> None:
    project = projects[provider]
    stack_file = PROVIDERS[provider][1]
    deploy(aws, PROJECT_STACK, project / "infra/project.yml")
    outputs = deploy(
        aws,
        f"{SLUG}-{stack_file[:-4]}",
        project / "infra" / stack_file,
        **CI_STACK_PARAMETERS[stack_file],
    )
    events = aws("events")
    rule = events.describe_rule(Name=outputs["ApprovedModelRuleArn"].rsplit("/", 1)[1])
    pattern = json.loads(rule["EventPattern"])
    # The group name came through the project stack's export.
    assert pattern["detail"] == {
        "ModelPackageGroupName": [f"{SLUG}-models"],
        "ModelApprovalStatus": ["Approved"],
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    iam = aws("iam")
    invoker = iam.get_role(RoleName=target["RoleArn"].rsplit("/", 1)[1])["Role"]
    assert invoker["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    if provider == "codebuild":
        role_arn = outputs["CodeBuildServiceRoleArn"]
        # The rule starts the deploy CodePipeline (stood in: moto cannot create it).
        assert target["Arn"] == f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:stand-in-DeployPipeline"
    else:
        role_arn = outputs["BuildRoleArn"]
        trust = iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
        statement = trust["AssumeRolePolicyDocument"]["Statement"][0]
        subject = next(v for k, v in statement["Condition"]["StringEquals"].items() if "sub" in k)
        assert REPOSITORY in subject and "main" in subject
        assert "InputTransformer" in target  # the approved version's ARN goes to CI
    # moto ignores ManagedPolicyArns: test_ci_roles_get_their_rights_only_from_the_project
    # stack reads them from the template.
    assert iam.get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]["Arn"] == role_arn


def test_secret_scan_skips_the_ci_download_cache(
    projects: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GitLab keeps pip/uv caches in .cache/ inside the checkout, and its python image has no
    # git, so `nox -s secrets` falls back to walking the folder: the cache must be skipped.
    import runpy

    project = tmp_path / "checkout"
    (project / ".cache" / "uv").mkdir(parents=True)
    (project / ".cache" / "uv" / "wheel.py").write_text("KEY = 'AKIAABCDEFGHIJKLMNOP'\n")
    (project / "src").mkdir()
    (project / "src" / "code.py").write_text("x = 1\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", "")  # no git: the fallback that walks the folder
    noxfile = runpy.run_path(str(projects["gitlab"] / "noxfile.py"))
    assert noxfile["project_files"]() == ["src/code.py"]
