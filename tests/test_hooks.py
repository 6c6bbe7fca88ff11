"""Unit tests of the hooks' logic, imported straight from hooks/ (no bake)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from baking import DEFAULTS, TEMPLATE_DIR


def load_hook(name: str) -> ModuleType:
    """Import hooks/<name>.py as a module, the way the tests see plain Python."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
_extension_spec = importlib.util.spec_from_file_location(
    "local_extensions", TEMPLATE_DIR / "local_extensions.py"
)
assert _extension_spec and _extension_spec.loader
local_extensions = importlib.util.module_from_spec(_extension_spec)
_extension_spec.loader.exec_module(local_extensions)
post_gen = load_hook("post_gen_project")

GOOD = {
    "project_name": "Churn Model",
    "project_slug": "churn-model",
    "package_name": "churn_model",
    "description": "Predict churn.",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.com",
    "license": "MIT",
    "ci_provider": "github",
    "python_version": "3.11",
    "aws_region": "eu-west-1",
}

# (answer key, bad value, a word the one-line message must contain to name the rule)
BAD_ANSWERS = [
    ("project_name", "", "empty"),
    ("project_name", "   ", "empty"),
    ("project_name", "two\nlines", "control"),
    ("project_name", "x" * 201, "longer"),
    ("project_slug", "", "letter"),
    ("project_slug", "My-Project", "letter"),
    ("project_slug", "my project", "letter"),
    ("project_slug", "my.project", "letter"),
    ("project_slug", "1project", "letter"),
    ("project_slug", "my--project", "dashes"),
    ("project_slug", "-project", "letter"),
    ("project_slug", "project-", "dashes"),
    ("project_slug", "../evil", "letter"),
    ("project_slug", "a/b", "letter"),
    ("project_slug", "proj;rm -rf ~", "letter"),
    ("project_slug", "$(whoami)", "letter"),
    ("project_slug", "café", "letter"),
    ("project_slug", "a" * 51, "longer"),
    ("project_slug", "pandas", "depends"),
    ("project_slug", "scikit-learn", "depends"),
    ("project_slug", "con", "Windows"),
    ("package_name", "", "identifier"),
    ("package_name", "1model", "identifier"),
    ("package_name", "my-model", "identifier"),
    ("package_name", "my.model", "identifier"),
    ("package_name", "MyModel", "identifier"),
    ("package_name", "modèle", "identifier"),
    ("package_name", "my model", "identifier"),
    ("package_name", "m" * 51, "longer"),
    ("package_name", "class", "keyword"),
    ("package_name", "match", "keyword"),
    ("package_name", "json", "standard-library"),
    ("package_name", "logging", "standard-library"),
    ("package_name", "sagemaker", "depends"),
    ("package_name", "sklearn", "depends"),
    ("package_name", "great_expectations", "depends"),
    ("package_name", "sagepipe", "depends"),
    ("package_name", "tests", "depends"),
    ("author_name", "", "empty"),
    ("author_name", "tab\there", "control"),
    ("author_email", "", "name@example.com"),
    ("author_email", "ada", "name@example.com"),
    ("author_email", "ada@example", "name@example.com"),
    ("author_email", "ada @example.com", "name@example.com"),
    ("author_email", "a@b@example.com", "name@example.com"),
    ("license", "GPL", "one of"),
    ("ci_provider", "jenkins", "one of"),
    ("ci_provider", "GitHub", "one of"),
    ("python_version", "3.9", "one of"),
    ("python_version", "3.14", "one of"),
    ("python_version", "3", "one of"),
    ("aws_region", "EU-WEST-1", "region"),
    ("aws_region", "eu-west", "region"),
    ("aws_region", "euwest1", "region"),
    ("aws_region", "eu_west_1", "region"),
    ("aws_region", " eu-west-1", "region"),
    ("aws_region", "eu-west-1; ls", "region"),
]


@pytest.mark.parametrize(("key", "value", "rule_word"), BAD_ANSWERS)
def test_bad_answer_is_rejected_with_one_line_naming_value_rule_and_fix(
    key: str, value: str, rule_word: str
) -> None:
    answers = {**GOOD, key: value}
    # Keep the derived names consistent so the answer under test is the first bad one.
    with pytest.raises(pre_gen.InvalidAnswer) as caught:
        pre_gen.validate(answers)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{key}={json.dumps(value, ensure_ascii=False)} is invalid")
    assert rule_word in message
    assert "pass " in message or "shorten" in message or "remove" in message


def test_at_least_25_bad_inputs_are_covered() -> None:
    assert len(BAD_ANSWERS) >= 25


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"aws_region": "us-gov-west-1"},
        {"aws_region": "ap-southeast-2", "ci_provider": "codebuild"},
        {"aws_region": ""},
        {"description": ""},
        {"project_name": "Détection de fraude", "project_slug": "fraude"},
        {"project_slug": "a", "package_name": "a"},
        {"package_name": "_private_model"},
        {"author_name": 'O\'Brien "Bob" \\ Co'},
        {"python_version": "3.10", "license": "Proprietary", "ci_provider": "none"},
    ],
)
def test_good_answers_pass(overrides: dict[str, str]) -> None:
    pre_gen.validate({**GOOD, **overrides})


def test_codebuild_needs_a_region() -> None:
    with pytest.raises(pre_gen.InvalidAnswer, match="codebuild runs inside AWS"):
        pre_gen.validate({**GOOD, "ci_provider": "codebuild", "aws_region": ""})


def test_missing_answer_is_named() -> None:
    answers = dict(GOOD)
    del answers["aws_region"]
    with pytest.raises(pre_gen.InvalidAnswer, match="aws_region is missing"):
        pre_gen.validate(answers)


def test_non_string_answer_is_rejected() -> None:
    with pytest.raises(pre_gen.InvalidAnswer, match="must be a string"):
        pre_gen.validate({**GOOD, "python_version": 3.11})


def test_choices_in_hook_match_cookiecutter_json() -> None:
    assert set(pre_gen.CI_PROVIDERS) == set(DEFAULTS["ci_provider"])
    assert set(pre_gen.SUPPORTED_PYTHONS) == set(DEFAULTS["python_version"])
    assert set(pre_gen.LICENSES) == set(DEFAULTS["license"])


def test_every_question_is_validated() -> None:
    questions = {key for key in DEFAULTS if not key.startswith("_")}
    assert {key for key, _ in pre_gen.CHECKS} == questions


def test_stdlib_names_come_from_the_running_interpreter() -> None:
    assert {"json", "os", "asyncio"} <= pre_gen.stdlib_module_names()


def test_pre_gen_main_reports_unrendered_answers_as_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Run outside cookiecutter the Jinja placeholder is no JSON: a clear failure, not a crash.
    assert pre_gen.main() == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("provider", ["github", "gitlab", "codebuild", "none"])
def test_post_gen_keeps_only_the_chosen_ci_config(tmp_path: Path, provider: str) -> None:
    every = sorted(path for paths in post_gen.CI_FILES.values() for path in paths)
    for relative in every:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x")
    (tmp_path / "README.md").write_text("keep me")
    (tmp_path / "infra" / "project.yml").write_text("shared by every provider")

    post_gen.remove_unchosen_ci(tmp_path, provider)

    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    kept = set(post_gen.CI_FILES.get(provider, ()))
    assert left == {"README.md", "infra/project.yml"} | kept
    assert (tmp_path / ".github").exists() == (provider == "github")


def test_post_gen_leaves_non_empty_github_folder(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("x")
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @team")
    post_gen.remove_unchosen_ci(tmp_path, "gitlab")
    assert (tmp_path / ".github" / "CODEOWNERS").exists()
    assert not (tmp_path / ".github" / "workflows").exists()


def test_post_gen_rejects_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="jenkins"):
        post_gen.remove_unchosen_ci(tmp_path, "jenkins")


def test_answers_file_holds_only_user_answers_sorted_and_stable(tmp_path: Path) -> None:
    context = {
        **GOOD,
        "_template": "/somewhere",
        "_output_dir": "/tmp/x",
        "__prompts__": {},
    }
    first = post_gen.write_answers(tmp_path, context).read_text()
    second = post_gen.write_answers(tmp_path, dict(reversed(list(context.items())))).read_text()
    assert first == second
    assert json.loads(first) == GOOD
    assert list(json.loads(first)) == sorted(GOOD)


@pytest.mark.parametrize(
    ("value", "suggestion"),
    [
        ("My Project!", "my-project"),
        ("2fast 2furious", "fast-2furious"),
        ("Café Model", "cafe-model"),
        ("...", "my-project"),
        ("a" * 80, "a" * 50),
    ],
)
def test_slug_suggestion_is_itself_valid(value: str, suggestion: str) -> None:
    assert pre_gen.suggest_slug(value) == suggestion
    pre_gen.check_project_slug(suggestion)


def test_fix_for_a_bad_slug_suggests_a_valid_one() -> None:
    with pytest.raises(pre_gen.InvalidAnswer, match="pass project_slug=my-project "):
        pre_gen.check_project_slug("My Project")


def test_a_package_name_derived_from_a_typed_slug_names_the_slug() -> None:
    derived = {**GOOD, "project_slug": "json", "package_name": "json"}
    with pytest.raises(pre_gen.InvalidAnswer) as error:
        pre_gen.validate(derived)
    assert 'package_name was derived from project_slug="json"' in str(error.value)
    typed = {**GOOD, "project_slug": "keyword-list", "package_name": "keyword"}
    with pytest.raises(pre_gen.InvalidAnswer) as error:
        pre_gen.validate(typed)
    assert "derived" not in str(error.value)  # the user typed it: no derivation note
    assert error.value.key == "package_name"


def test_an_empty_project_name_is_named_before_the_slug_it_empties() -> None:
    answers = {**GOOD, "project_name": "", "project_slug": "", "package_name": ""}
    with pytest.raises(pre_gen.InvalidAnswer, match=r'^project_name="" is invalid: .*empty'):
        pre_gen.validate(answers)


def test_the_extension_checks_the_folder_name_template_only() -> None:
    from jinja2 import Environment

    environment = Environment(extensions=[local_extensions.ValidateAnswers])
    with pytest.raises(local_extensions.AnswersRejected):
        environment.from_string("{{cookiecutter.project_slug}}").render(
            cookiecutter={**GOOD, "project_slug": "a/../b"}
        )
    assert environment.from_string("{{ x }}").render(x="a/../b") == "a/../b"
    rendered = environment.from_string("{{cookiecutter.project_slug}}").render(cookiecutter=GOOD)
    assert rendered == "churn-model"


def test_interactive_users_are_told_which_answer_to_change_and_how_to_keep_the_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = {**GOOD, "author_email": "nope", "_template": "gh:acme/mlops-template"}

    with pytest.raises(local_extensions.AnswersRejected):
        local_extensions.check(answers)

    error, hint = capsys.readouterr().err.splitlines()
    assert error.startswith('error: author_email="nope" is invalid')
    assert hint.startswith("to keep your other answers, change only author_email: ")
    assert "cookiecutter --no-input gh:acme/mlops-template" in hint
    assert "project_name='Churn Model'" in hint and "author_email=..." in hint
    assert "cookiecutter --replay gh:acme/mlops-template" in hint
