"""The engine reaches a project only through the adapter its pyproject.toml names.

The projects here are not the template's: their package has no ``settings.py`` and its
settings are a small dataclass, so a pass proves that ``migrate`` and "prepare a run"
assume no project layout beyond the adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagepipe.migrate.cli import migrate

ADAPTER = """\
from dataclasses import dataclass
from pathlib import Path

from sagepipe.project import ProjectAdapter

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Config:
    stage: str = "dev"
    pipeline_name: str = "demo"
    bucket: str = "demo-bucket"
    prefix: str = "demo"
    region: str = "eu-west-1"
    role_arn: str = "arn:aws:iam::000000000000:role/Demo"
    image_uri: str = (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    )
    model_package_group: str = "demo-models"
    inference_instance_type: str = "ml.m5.large"
    default_pipeline: str = ""


project = ProjectAdapter(
    package=__name__.rpartition(".")[0],
    load_settings=Config,
    root=lambda: ROOT,
    workspace=lambda: ROOT / ".work",
    stage_data=lambda workspace, settings, data: [],
)
"""


def invoke(root: Path, *args: str):
    return CliRunner().invoke(migrate, [*args, "--project", str(root)])


def applied(root: Path, notebook: str) -> Path:
    planned = invoke(root, "plan", str(root / "notebooks" / notebook))
    assert planned.exit_code == 0, planned.output
    plan = Path(planned.stdout.strip().splitlines()[-1])
    done = invoke(root, "apply", str(plan))
    assert done.exit_code == 0, done.output
    return plan


@pytest.mark.slow
def test_verify_on_the_executor_needs_only_the_adapter(make_project) -> None:
    root = make_project("traits/no_headings.ipynb")
    package = next(p.name for p in (root / "src").iterdir())
    (root / "src" / package / "adapter.py").write_text(ADAPTER)
    plan = applied(root, "no_headings.ipynb")
    result = invoke(
        root, "verify", str(plan), "--runner", "local", "--notebook-runner", "in-process", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["runner"] == "local"
    assert report["metrics"]["acc"]["same"]


def test_a_project_that_names_no_adapter_is_refused_in_one_line(make_project) -> None:
    root = make_project("traits/no_headings.ipynb")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().split("[tool.sagepipe]")[0])
    result = invoke(root, "plan", str(root / "notebooks" / "no_headings.ipynb"))
    assert result.exit_code == 1
    message = result.output.strip()
    assert len(message.splitlines()) == 1
    assert "[tool.sagepipe] adapter is None" in message and "--package" in message
    assert not (root / "migrations").exists()


def test_project_is_the_project_pipelines_name_and_no_migration_takes_it(make_project) -> None:
    root = make_project("traits/no_headings.ipynb")
    notebook = root / "notebooks" / "no_headings.ipynb"
    refused = invoke(root, "plan", str(notebook), "--name", "project")
    assert refused.exit_code == 1
    assert "other than 'project'" in refused.output
    notebook.rename(notebook.with_name("project.ipynb"))
    planned = invoke(root, "plan", str(notebook.with_name("project.ipynb")))
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.strip().endswith("migrations/project_notebook.yaml")
