"""Validate every answer before Cookiecutter writes a single project file.

Cookiecutter renders this file with Jinja before running it, so the answers arrive as
the JSON text in ``ANSWERS_JSON``. Everything else is plain, importable Python: the
template's tests import this module and call :func:`validate` directly.

A bad answer prints one line on stderr (the value, the rule it breaks and how to fix it)
and exits with status 1. ``local_extensions.py`` runs the same :func:`validate` earlier,
before Cookiecutter creates the project folder, so in practice this hook is the second
line of defence (for tools that bypass the extension).
Standard library only: the hook runs in whatever Python runs Cookiecutter.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping

# Rendered by Cookiecutter: backslashes and quotes are escaped so that any answer,
# whatever characters it holds, stays inside this string literal.
ANSWERS_JSON = """{{ cookiecutter | jsonify | replace('\\', '\\\\') | replace('"', '\\"') }}"""

SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
CI_PROVIDERS = ("github", "gitlab", "codebuild", "none")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")

MAX_NAME_LENGTH = 50
MAX_TEXT_LENGTH = 200

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
# aws partition regions: eu-west-1, us-gov-west-1, ap-southeast-2, cn-north-1, il-central-1 ...
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# Import names the generated project depends on or ships beside its package; a package
# with one of these names would shadow the real module on sys.path.
TAKEN_IMPORT_NAMES = frozenset(
    {
        "boto3",
        "botocore",
        "click",
        "data",
        "docs",
        "great_expectations",
        "gunicorn",
        "hatchling",
        "jinja2",
        "joblib",
        "moto",
        "mypy",
        "nbclient",
        "nbformat",
        "notebooks",
        "nox",
        "numpy",
        "pandas",
        "pip",
        "pytest",
        "requests",
        "ruff",
        "sagemaker",
        "sagemaker_core",
        "sagepipe",
        "scipy",
        "setuptools",
        "sklearn",
        "src",
        "test",
        "tests",
        "tqdm",
        "yaml",
    }
)
# Distribution names the project depends on: a project with the same name cannot be
# installed next to its own dependency.
TAKEN_DISTRIBUTION_NAMES = frozenset(
    {name.replace("_", "-") for name in TAKEN_IMPORT_NAMES}
    | {"scikit-learn", "great-expectations", "sagemaker-core", "pyyaml"}
)
# Names Windows refuses as file or folder names; the slug becomes a folder.
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
# sys.stdlib_module_names exists from Python 3.10; older interpreters get the names
# that most often collide.
STDLIB_FALLBACK = frozenset(
    {
        "abc",
        "ast",
        "code",
        "collections",
        "copy",
        "csv",
        "datetime",
        "email",
        "enum",
        "functools",
        "io",
        "json",
        "logging",
        "math",
        "os",
        "pathlib",
        "platform",
        "queue",
        "random",
        "re",
        "secrets",
        "select",
        "site",
        "socket",
        "statistics",
        "string",
        "sys",
        "test",
        "threading",
        "time",
        "token",
        "types",
        "typing",
        "uuid",
        "warnings",
    }
)


class InvalidAnswer(ValueError):
    """An answer that breaks a rule; the message is the one line shown to the user.

    ``key`` names the answer to change (None when the answers as a whole are unusable).
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def stdlib_module_names() -> frozenset[str]:
    """Top-level standard-library module names of the running interpreter."""
    names = getattr(sys, "stdlib_module_names", None)
    return frozenset(names) if names else STDLIB_FALLBACK


def _problem(key: str, value: object, rule: str, fix: str) -> InvalidAnswer:
    shown = json.dumps(value, ensure_ascii=False)
    return InvalidAnswer(f"{key}={shown} is invalid: {rule}; {fix}", key)


def check_text(key: str, value: str, *, allow_empty: bool = False) -> None:
    """Free text (name, description, author) must be one printable line of sane length."""
    if not value.strip() and not allow_empty:
        raise _problem(key, value, "it must not be empty", f"pass {key}='Some text'")
    if CONTROL_CHARACTERS.search(value):
        raise _problem(key, value, "it must be one line without control characters", "remove them")
    if len(value) > MAX_TEXT_LENGTH:
        raise _problem(key, value, f"it is longer than {MAX_TEXT_LENGTH} characters", "shorten it")


def suggest_slug(value: str) -> str:
    """A valid slug close to value (ASCII letters and digits, single dashes)."""
    # NFKD splits accents off their letters, so "Café" suggests "cafe", not "caf".
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_value.lower())
    slug = "-".join(words).lstrip("0123456789-")[:MAX_NAME_LENGTH].rstrip("-")
    return slug or "my-project"


def check_project_slug(slug: str) -> None:
    """The slug names the folder, the distribution and the console script."""
    fix = f"pass project_slug={suggest_slug(slug)} (lowercase letters, digits and single dashes)"
    if not SLUG_PATTERN.match(slug):
        rule = "it must start with a letter and hold only a-z, 0-9 and single inner dashes"
        raise _problem("project_slug", slug, rule, fix)
    if len(slug) > MAX_NAME_LENGTH:
        rule = f"it is longer than {MAX_NAME_LENGTH} characters"
        raise _problem("project_slug", slug, rule, "pass a shorter project_slug")
    if slug in TAKEN_DISTRIBUTION_NAMES:
        rule = "it is the name of a package the project depends on"
        raise _problem("project_slug", slug, rule, f"pass project_slug=my-{slug}-project")
    if slug in WINDOWS_RESERVED:
        rule = "Windows reserves it as a device name"
        raise _problem("project_slug", slug, rule, f"pass project_slug={slug}-project")


def check_package_name(name: str) -> None:
    """The import name must be importable and must not shadow another module."""
    suggestion = suggest_slug(name).replace("-", "_")
    fix = f"pass package_name={suggestion} (lowercase letters, digits and underscores)"
    if not PACKAGE_PATTERN.match(name) or not name.isidentifier():
        rule = "it must be a lowercase Python identifier (a-z, 0-9, _; not starting with a digit)"
        raise _problem("package_name", name, rule, fix)
    if len(name) > MAX_NAME_LENGTH:
        rule = f"it is longer than {MAX_NAME_LENGTH} characters"
        raise _problem("package_name", name, rule, "pass a shorter package_name")
    if keyword.iskeyword(name) or name in getattr(keyword, "softkwlist", ()):
        rule = "it is a Python keyword"
        raise _problem("package_name", name, rule, f"pass package_name={name}_project")
    if name in stdlib_module_names():
        rule = "it shadows a standard-library module"
        raise _problem("package_name", name, rule, f"pass package_name={name}_project")
    if name in TAKEN_IMPORT_NAMES:
        rule = "it shadows a module the project depends on or ships"
        raise _problem("package_name", name, rule, f"pass package_name=my_{name}")


def check_email(email: str) -> None:
    """An address of the form name@domain.tld."""
    if not EMAIL_PATTERN.match(email):
        rule = "it must look like name@example.com"
        raise _problem("author_email", email, rule, "pass author_email=you@example.com")


def check_region(region: str) -> None:
    """An AWS region code in lowercase, e.g. eu-west-1 (empty means: decide later)."""
    if region == "":
        return
    if not REGION_PATTERN.match(region):
        rule = "it must be a lowercase AWS region code"
        raise _problem("aws_region", region, rule, "pass aws_region=eu-west-1 (or empty)")


def _check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        rule = f"it must be one of {', '.join(allowed)}"
        raise _problem(key, value, rule, f"pass {key}={allowed[0]}")


def check_combinations(answers: Mapping[str, str]) -> None:
    """Answers that are valid alone but do not work together."""
    if answers["ci_provider"] == "codebuild" and answers["aws_region"] == "":
        # CodeBuild itself runs in a region, so "decide later" is not an option there.
        rule = "ci_provider=codebuild runs inside AWS and needs a region"
        raise _problem("aws_region", "", rule, "pass aws_region=eu-west-1 or another ci_provider")


CHECKS: tuple[tuple[str, Callable[[str], None]], ...] = (
    ("project_name", lambda v: check_text("project_name", v)),
    ("project_slug", check_project_slug),
    ("package_name", check_package_name),
    ("description", lambda v: check_text("description", v, allow_empty=True)),
    ("author_name", lambda v: check_text("author_name", v)),
    ("author_email", check_email),
    ("license", lambda v: _check_choice("license", v, LICENSES)),
    ("ci_provider", lambda v: _check_choice("ci_provider", v, CI_PROVIDERS)),
    ("python_version", lambda v: _check_choice("python_version", v, SUPPORTED_PYTHONS)),
    ("aws_region", check_region),
)


def derived_slug(project_name: str) -> str:
    """The slug cookiecutter.json derives from the name (the same expression, in Python)."""
    return project_name.lower().strip().replace(" ", "-").replace("_", "-")


def derived_package(project_slug: str) -> str:
    """The package name cookiecutter.json derives from the slug."""
    return project_slug.replace("-", "_")


def _derivation(key: str, answers: Mapping[str, object]) -> tuple[str, str] | None:
    """(source answer, its value) when ``key``'s value is what the template derives from it."""
    value = answers.get(key)
    name, slug = answers.get("project_name"), answers.get("project_slug")
    if key == "project_slug" and isinstance(name, str) and value == derived_slug(name):
        return "project_name", name
    if key == "package_name" and isinstance(slug, str) and value == derived_package(slug):
        if isinstance(name, str) and slug == derived_slug(name):
            return "project_name", name  # derived twice: the user only typed the name
        return "project_slug", slug
    return None


def validate(answers: Mapping[str, object]) -> None:
    """Raise InvalidAnswer for the first answer (in prompt order) that breaks a rule."""
    for key, check in CHECKS:
        if key not in answers:
            raise InvalidAnswer(f"{key} is missing: the template needs it; pass {key}=...", key)
        value = answers[key]
        if not isinstance(value, str):
            raise _problem(key, value, "it must be a string", f"pass {key} as text")
        try:
            check(value)
        except InvalidAnswer as error:
            source = _derivation(key, answers)
            if source is None:
                raise
            # The user never typed this value: say where it came from and what to change.
            shown = json.dumps(source[1], ensure_ascii=False)
            raise InvalidAnswer(
                f"{error} ({key} was derived from {source[0]}={shown}: change {source[0]}, "
                f"or pass {key} yourself)",
                key,
            ) from None
    check_combinations({key: str(answers[key]) for key, _ in CHECKS})


def load_answers(rendered: str) -> dict[str, object]:
    """Parse the answers Cookiecutter rendered into ANSWERS_JSON."""
    answers = json.loads(rendered)
    if not isinstance(answers, dict):
        raise InvalidAnswer("the rendered answers are not a JSON object; run through cookiecutter")
    return answers


def main() -> int:
    """Validate the rendered answers; print one line and return 1 on the first bad one."""
    try:
        validate(load_answers(ANSWERS_JSON))
    except (InvalidAnswer, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
