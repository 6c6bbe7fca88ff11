"""The README's lifecycle walk stays true: every command parses, and the examples answer."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from {{ cookiecutter.package_name }}.cli import make_cli

from sagepipe.serving import endpoints

from .helpers import PROJECT_ROOT, post, run_cli

SLUG = "{{ cookiecutter.project_slug }}"
ANSWER = re.compile(r"^[01],0\.\d+$")
# Walking click's parse by hand reads Context.protected_args, deprecated in click 8.2.
pytestmark = pytest.mark.filterwarnings("ignore:'protected_args' is deprecated")


def lifecycle_lines() -> list[str]:
    """The shell lines of the README's lifecycle block, continuations joined."""
    text = (PROJECT_ROOT / "README.md").read_text()
    block = text.split("the rest of the lifecycle", 1)[1].split("```bash\n", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    return [line.strip() for line in block.splitlines() if line.strip()]


def project_commands() -> list[list[str]]:
    """Each `<slug> ...` command of the block, as argument lists without the slug."""
    commands = []
    for line in lifecycle_lines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words and words[0] == SLUG:
                commands.append(words[1:])
    return commands


def _parse(group: click.Group, args: list[str]) -> click.Command:
    """Parse ``args`` down to the leaf command the way click would, without running it."""
    context = group.make_context(SLUG, list(args), resilient_parsing=False)
    command: click.Command = group
    rest = [*context.protected_args, *context.args]
    while isinstance(command, click.Group) and rest:
        name, sub, rest = command.resolve_command(context, rest)
        assert sub is not None, name
        context = sub.make_context(str(name), rest, parent=context)
        command = sub
        rest = [*getattr(context, "protected_args", []), *context.args]
    return command


def test_the_walk_covers_the_lifecycle() -> None:
    names = {args[0] for args in project_commands()}
    assert {
        "registry",
        "deploy",
        "smoke-test",
        "promote",
        "batch-transform",
        "shadow-report",
        "endpoints",
        "undeploy",
    } <= names
    assert any(line.startswith("curl ") for line in lifecycle_lines())


def test_every_readme_command_parses_with_the_real_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    (PROJECT_ROOT / "customers.csv").touch()  # the README makes it one line earlier
    try:
        for args in project_commands():
            _parse(make_cli(), args)
    finally:
        (PROJECT_ROOT / "customers.csv").unlink()


def test_the_curl_example_answers_as_the_readme_says(server: endpoints.EndpointState) -> None:
    (curl,) = [line for line in lifecycle_lines() if line.startswith("curl ")]
    words = shlex.split(curl)
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = words[words.index("--data-binary") + 1].encode()
    (documented,) = [line.split("e.g. ", 1)[1] for line in lifecycle_lines() if 'answers "' in line]

    status, answer, _ = post(server.url, body, headers["Content-Type"], headers["Accept"])

    assert status == 200
    assert ANSWER.match(answer.decode().strip()), answer
    assert ANSWER.match(documented)


def test_the_batch_transform_example_runs(workspace: Path, tmp_path: Path) -> None:
    lines = (PROJECT_ROOT / "data" / "raw" / "churn.csv").read_text().splitlines()[1:41]
    (tmp_path / "customers.csv").write_text("\n".join(lines) + "\n")
    (args,) = [a for a in project_commands() if a[0] == "batch-transform"]
    args = [str(tmp_path / a) if a in ("customers.csv", "predictions/") else a for a in args]

    result = run_cli(workspace, *args, "--no-progress")

    assert result.returncode == 0, result.stderr
    (output,) = (tmp_path / "predictions").iterdir()
    rows = [row.split(",") for row in output.read_text().splitlines()]
    assert [row[0] for row in rows] == [line.split(",")[0] for line in lines]
    assert all(len(row) == 2 for row in rows)
