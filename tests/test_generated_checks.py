"""Static checks of generated projects: no Jinja left, every config parses and validates."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from baking import DEFAULTS, LEFTOVER_JINJA, TEMPLATE_DIR, Baker, files_under, text_files
from cfn_yaml import load_template

BIN = Path(sys.executable).parent
# Template syntax in files copied verbatim: a reference to an answer or a Jinja statement.
JINJA_IN_VERBATIM = re.compile(
    r"\{\{-?\s*cookiecutter|\{%-?\s*(if|elif|else|endif|for|endfor|raw|endraw|set|now)\b"
)
# `${{ github.ref }}`: an Actions expression, not a template leftover.
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^{}]*\}\}")

# One bake per CI provider, other options varied; enough for the static checks below.
VARIANTS = [
    {"ci_provider": "github", "python_version": "3.11", "license": "MIT"},
    {"ci_provider": "gitlab", "python_version": "3.12", "license": "Apache-2.0"},
    {"ci_provider": "codebuild", "python_version": "3.10", "license": "BSD-3-Clause"},
    {"ci_provider": "none", "python_version": "3.13", "license": "Proprietary"},
]


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: v["ci_provider"])
def project(request: pytest.FixtureRequest, bake_project: Baker) -> Path:
    """A baked project per CI provider."""
    return bake_project(
        **request.param,
        project_name='Quote "Tester" O\'Neil',
        project_slug="quote-tester",
        package_name="quote_tester",
        description='Handles "quotes", back\\slashes & <angle> brackets.',
        author_name="Zoë O'Neil",
    )


def copied_without_render(relative: str) -> bool:
    """Whether cookiecutter copies this path verbatim (cookiecutter.json's _copy_without_render)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    patterns = DEFAULTS["_copy_without_render"]
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


def test_no_jinja_left_in_any_generated_file(project: Path) -> None:
    leftovers = []
    for path in text_files(project):
        relative = path.relative_to(project).as_posix()
        text = path.read_text(encoding="utf-8")
        if copied_without_render(relative):
            # Copied verbatim (framework code, notebooks, data): Python's own `{{` escapes and
            # `{x:.1%}` formats are legal there, but no template reference may be.
            found = [match.group(0) for match in JINJA_IN_VERBATIM.finditer(text)]
        else:
            if relative.startswith(".github/workflows/"):
                # GitHub's own expression syntax, kept on purpose with {% raw %}.
                text = GITHUB_EXPRESSION.sub("", text)
            found = LEFTOVER_JINJA.findall(text)
        if found:
            leftovers.append(f"{relative}: {sorted(set(found))}")
    assert leftovers == []


def test_every_yaml_toml_and_json_file_parses(project: Path) -> None:
    parsed = 0
    for relative in sorted(files_under(project)):
        path = project / relative
        if path.suffix in {".yml", ".yaml"} and relative.startswith("infra/"):
            assert load_template(path)["Resources"], relative  # CloudFormation's tags
        elif path.suffix in {".yml", ".yaml"}:
            assert yaml.safe_load(path.read_text(encoding="utf-8")) is not None, relative
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in {".json", ".ipynb"}:
            json.loads(path.read_text(encoding="utf-8"))
        else:
            continue
        parsed += 1
    assert parsed >= 3  # pyproject.toml, .pre-commit-config.yaml, .cookiecutter.json at least


def test_free_text_answers_survive_into_pyproject(project: Path) -> None:
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert metadata["description"] == 'Handles "quotes", back\\slashes & <angle> brackets.'
    assert metadata["authors"][0]["name"] == "Zoë O'Neil"
    assert metadata["name"] == "quote-tester"
    assert metadata["scripts"]["quote-tester"] == "quote_tester.cli:main"


def run_tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a console script installed next to this Python."""
    return subprocess.run(
        [str(BIN / name), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_ci_config_validates_against_its_published_schema(project: Path) -> None:
    if (project / ".github/workflows/ci.yml").exists():
        schema = "vendor.github-workflows"
        configs = [".github/workflows/ci.yml", ".github/workflows/deploy.yml"]
    elif (project / ".gitlab-ci.yml").exists():
        schema, configs = "vendor.gitlab-ci", [".gitlab-ci.yml"]
    else:
        pytest.skip("check-jsonschema has no schema for buildspec.yml (see test_infra.py)")
    result = run_tool("check-jsonschema", "--builtin-schema", schema, *configs, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    # Guards the check above: the bundled schema really rejects an invalid workflow.
    workflow = tmp_path / "ci.yml"
    workflow.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps: nope\n")
    result = run_tool(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        str(workflow),
        cwd=tmp_path,
    )
    assert result.returncode != 0


def test_pre_commit_config_is_valid_and_has_the_expected_hooks(project: Path) -> None:
    result = run_tool("pre-commit", "validate-config", ".pre-commit-config.yaml", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hook_ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    expected = {"ruff", "ruff-format", "nbstripout", "check-yaml", "check-toml"}
    assert expected | {"check-added-large-files", "detect-secrets"} <= hook_ids


def test_pre_commit_nox_and_these_tests_lint_with_one_ruff_version(project: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generated_noxfile", project / "noxfile.py")
    assert spec and spec.loader
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (rev,) = [repo["rev"] for repo in config["repos"] if repo["repo"].endswith("/ruff-pre-commit")]

    requirement = noxfile.ruff_requirement(project / ".pre-commit-config.yaml")

    assert requirement == f"ruff=={rev.removeprefix('v')}"
    # The template's own tests lint generated code with that ruff (tests/requirements.txt),
    # so an untouched project passes its pre-commit hook.
    assert requirement in (TEMPLATE_DIR / "tests" / "requirements.txt").read_text().split()
    version = run_tool("ruff", "--version", cwd=project).stdout.split()[1]
    assert requirement == f"ruff=={version}"


def test_github_workflow_runs_each_commit_once_and_grants_oidc_only_to_aws_jobs(
    bake_project: Baker,
) -> None:
    project = bake_project(ci_provider="github")
    text = (project / ".github/workflows/ci.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow[True]  # YAML 1.1 reads the bare key `on` as a boolean
    # Branches run on push to main only and pull requests on pull_request only: no
    # commit of a pull request runs twice.
    assert set(triggers) == {"push", "pull_request"}
    assert triggers["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert "permissions" not in jobs["checks"]
    assert jobs["image-and-train"]["permissions"]["id-token"] == "write"
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-access-key-id" not in text
    steps = " ".join(step.get("run", "") for step in jobs["checks"]["steps"])
    for session in ("lint", "typecheck", "tests", "pipeline"):
        assert f"nox -s {session}" in steps


def test_gitlab_and_codebuild_run_the_nox_sessions(bake_project: Baker) -> None:
    gitlab = yaml.safe_load((bake_project(ci_provider="gitlab") / ".gitlab-ci.yml").read_text())
    scripts = " ".join(
        " ".join(job.get("script", [])) for job in gitlab.values() if isinstance(job, dict)
    )
    buildspec = yaml.safe_load(
        (
            bake_project(ci_provider="codebuild", aws_region="us-east-1") / "buildspec.yml"
        ).read_text()
    )
    build = " ".join(buildspec["phases"]["build"]["commands"])
    assert buildspec["version"] == 0.2
    assert buildspec["env"]["variables"]["AWS_DEFAULT_REGION"] == "us-east-1"
    for session in ("lint", "typecheck", "tests"):
        assert f"nox -s {session}" in scripts
        assert f"nox -s {session}" in build


def test_generated_noxfile_sessions_are_small_documented_and_use_uv(
    project: Path,
) -> None:
    source = (project / "noxfile.py").read_text()
    tree = ast.parse(source)
    sessions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]
    assert {"lint", "typecheck", "tests"} <= {node.name for node in sessions}
    for node in sessions:
        docstring = ast.get_docstring(node)
        assert docstring and "\n" not in docstring, node.name
    assert 'nox.options.default_venv_backend = "uv"' in source
    # The runtime dependencies come pinned from the lock the project image is built from.
    assert 'session.install("-e", ".[dev]", "-c", "requirements.lock")' in source


def test_gitignore_keeps_the_workspace_out_of_git(project: Path) -> None:
    ignored = (project / ".gitignore").read_text().splitlines()
    assert ".mlops/" in ignored
    assert ".nox/" in ignored


def test_generated_python_is_ruff_clean_with_a_package_sorting_after_sagepipe(
    bake_project: Baker,
) -> None:
    # Import order depends on the package name (isort sorts first-party names), so lint a
    # name that sorts after `sagepipe`; the slow tier lints the default project.
    project = bake_project(project_name="Weather Model")
    # The same targets as the generated `nox -s lint`.
    targets = ["src", "tests", "noxfile.py"]
    check = run_tool("ruff", "check", "--no-cache", *targets, cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = run_tool("ruff", "format", "--check", "--no-cache", *targets, cwd=project)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.parametrize(
    ("text", "leftover"),
    [
        ("name = {{ cookiecutter.project_slug }}", True),
        ("{% if cookiecutter.license == 'MIT' %}", True),
        ("value }} trailing", True),
        ('{"Std:Join": {"On": sep, "Values": []}}', False),
        ('f"{ratio:.1%}"', False),
        (
            'f"channels={{{name!r}: ...}}"',
            True,
        ),  # in a rendered file this is a leftover
    ],
)
def test_leftover_detector_tells_jinja_from_python(text: str, leftover: bool) -> None:
    assert bool(LEFTOVER_JINJA.search(text)) is leftover
