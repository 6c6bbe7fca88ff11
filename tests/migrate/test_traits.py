"""Real-notebook traits: every metric the notebook shows survives the migration.

One fixture notebook per trait (tests/migrate/fixtures/traits, made by
make_trait_fixtures.py with saved outputs). Each is planned, applied and verified: the
notebook runs in-process with the same metric recording, the migrated steps run in order,
and every metric (and every number the saved outputs show) must agree to 1e-9. The slow
test runs the same pipelines through the project's `run --pipeline NAME`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sagepipe.migrate.cli import migrate
from sagepipe.migrate.project import Project
from sagepipe.migrate.verify import verify

EXPECTED = {
    "printed_only": {"accuracy_score_y_test_pred", "f1_score_y_test_pred", "rmse_y_test_proba"},
    "last_expression": {
        "forest_score_X_test_y_test",
        "cross_val_score_forest_X_train_y_train_cv_3_0",
        "cross_val_score_forest_X_train_y_train_cv_3_1",
        "cross_val_score_forest_X_train_y_train_cv_3_2",
        "classification_report_y_test_forest_predict_X_test",
    },
    "loop_dicts": {
        "results_logreg",
        "results_tree",
        "history_0_k",
        "history_0_auc",
        "history_1_k",
        "history_1_auc",
        "model_score_X_test_y_test",
        "model_score_X_test_y_test_2",
    },
    "shared_random_state": {"mae"},
    "try_except_import": {"rmse", "weights_norm"},
    "html_headings": {
        "r2_score_test_price_predicted",
        "mean_absolute_error_test_price_predicted",
    },
    "no_headings": {"acc"},
    "many_cells": {"accuracy_score_y_test_logreg_predict_X_test", "auc"},
    "prepared_features": {"auc"},
    "prepared_array": {"auc"},
    "chained_fit": {"baseline_score_X_test_y_test", "auc"},
}


def migrate_trait(root: Path, name: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    runner = CliRunner()
    planned = runner.invoke(
        migrate, ["plan", str(root / "notebooks" / f"{name}.ipynb"), "--project", str(root)]
    )
    assert planned.exit_code == 0, planned.output
    plan = Path(planned.stdout.strip().splitlines()[-1])
    applied = runner.invoke(migrate, ["apply", str(plan), "--project", str(root)])
    assert applied.exit_code == 0, applied.output
    return plan, yaml.safe_load(plan.read_text())


def project_of(root: Path) -> Project:
    return Project(root, next(p.name for p in (root / "src").iterdir()))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_metric_the_notebook_shows_is_reproduced(make_project, name: str) -> None:
    root = make_project(f"traits/{name}.ipynb")
    plan, _ = migrate_trait(root, name)
    report = verify(project_of(root), plan, runner="direct", notebook_runner="in-process")
    assert report.differences == [] and report.problem is None
    assert set(report.metrics) == EXPECTED[name]
    for entry in report.metrics.values():
        assert entry["same"]
        if isinstance(entry["notebook"], float):
            assert abs(entry["notebook"] - entry["pipeline"]) <= 1e-9 * abs(entry["notebook"])
    # every number the saved outputs show was found among the pipeline's metrics
    assert report.shown and all(s["matched"] is not None for s in report.shown)


def test_a_metric_lost_by_the_pipeline_fails_verify_and_is_named(make_project) -> None:
    root = make_project("traits/printed_only.ipynb")
    plan, _ = migrate_trait(root, "printed_only")
    step = next((root / "src").glob("*/steps/printed_only/evaluate.py"))
    text = step.read_text()
    lines = [line for line in text.splitlines() if "f1_score" not in line or "import" in line]
    step.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        migrate,
        [
            "verify",
            str(plan),
            "--runner",
            "direct",
            "--notebook-runner",
            "in-process",
            "--project",
            str(root),
        ],
    )
    assert result.exit_code == 1
    assert "metric f1_score_y_test_pred" in result.output and "is absent" in result.output


def test_verify_refuses_to_say_reproduces_when_there_is_no_metric(make_project) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_project()
    notebook = new_notebook()
    notebook.cells = [
        new_code_cell("import pandas as pd\ndf = pd.read_csv('data/houses.csv')"),
        new_code_cell("df['double'] = df['price'] * 2\ntotal = df['double'].sum()"),
    ]
    nbformat.write(notebook, root / "notebooks" / "nometric.ipynb")
    plan, _ = migrate_trait(root, "nometric")
    result = CliRunner().invoke(
        migrate,
        [
            "verify",
            str(plan),
            "--runner",
            "direct",
            "--notebook-runner",
            "in-process",
            "--project",
            str(root),
        ],
    )
    assert result.exit_code == 1
    assert "no metric found" in result.output and "reproduces" not in result.output


def test_values_that_cannot_be_files_are_each_a_plan_line(make_project) -> None:
    root = make_project("traits/try_except_import.ipynb", "traits/shared_random_state.ipynb")
    _, document = migrate_trait(root, "try_except_import")
    decisions = {d["name"]: d for d in document["values_that_are_not_files"]}
    assert decisions["root_mean_squared_error"]["kind"] == "import inside try/except"
    assert decisions["standardise"]["kind"] == "lambda"
    assert decisions["linalg"]["kind"] == "module or function alias"
    assert all(
        d["decision"].startswith("code, not data: re-created in") for d in decisions.values()
    )
    evaluate = next((root / "src").glob("*/steps/try_except_import/evaluate.py")).read_text()
    assert "except ImportError:" in evaluate  # the import is code, re-run in the step
    _, document = migrate_trait(root, "shared_random_state")
    (rng,) = document["values_that_are_not_files"]
    assert rng["name"] == "rng" and "exact state is saved after preprocess" in rng["decision"]
    train = next((root / "src").glob("*/steps/shared_random_state/train.py")).read_text()
    assert "rng = load_value(" in train


def test_steps_follow_roles_not_cells(make_project) -> None:
    root = make_project("traits/many_cells.ipynb", "traits/html_headings.ipynb")
    _, document = migrate_trait(root, "many_cells")
    steps = [s["name"] for s in document["steps"]]
    assert steps == ["preprocess", "train", "evaluate", "metrics_report"]
    cells = {c["cell"]: c for c in document["cells"]}
    # the title "Customer churn classifier" does not make the loading cell a training step
    assert cells[2]["role"] == "preprocess"
    assert sum(1 for c in cells.values() if c["role"] == "skip") >= 35  # the plots
    report = next(s for s in document["steps"] if s["name"] == "metrics_report")
    assert report["kind"] == "Processing" and set(report["inputs"]) == {
        "from train",
        "from evaluate",
    }
    _, document = migrate_trait(root, "html_headings")
    reasons = {c["cell"]: c["reason"] for c in document["cells"]}
    assert reasons[3] == "heading 'Load the data'" and reasons[5] == "heading 'Train the model'"
    assert [s["name"] for s in document["steps"]] == ["preprocess", "train", "evaluate"]


def test_percent_script_comment_headings_set_roles(make_project) -> None:
    root = make_project()
    (root / "notebooks" / "commented.py").write_text(
        "# %%\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
        "# %% Load the data\nhouses = pd.read_csv('data/houses.csv')\n"
        "# %%\n# ## Fit the model\nX = houses[['area', 'rooms']]\n"
        "model = LinearRegression()\n"
        "# %%\nmodel.fit(X, houses['price'])\n"
    )
    result = CliRunner().invoke(
        migrate, ["plan", str(root / "notebooks" / "commented.py"), "--project", str(root)]
    )
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(Path(result.stdout.strip().splitlines()[-1]).read_text())
    reasons = {c["cell"]: (c["role"], c["reason"]) for c in document["cells"]}
    assert reasons[1] == ("preprocess", "heading 'Load the data'")
    assert reasons[2] == ("train", "heading 'Fit the model'")


@pytest.mark.slow
def test_migrated_pipelines_reproduce_their_notebooks_through_run_pipeline(bake_project) -> None:
    """All eight fixtures in one baked project, each run by `run --pipeline NAME`."""
    import os
    import shutil
    import subprocess
    import sys

    from conftest import FIXTURES
    from sagepipe.migrate.apply import load_migration
    from sagepipe.migrate.stepio import read_metrics
    from sagepipe.migrate.verify import run_notebook_in_process

    project = bake_project()
    shutil.copytree(FIXTURES / "data", project / "notebooks" / "data", dirs_exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "GX_ANALYTICS_ENABLED": "false"}
    cli = [sys.executable, "-m", project.name.replace("-", "_")]
    listed = None
    for name in sorted(EXPECTED):
        shutil.copy(FIXTURES / "traits" / f"{name}.ipynb", project / "notebooks")
        plan, _ = migrate_trait(project, name)
        listed = subprocess.run(
            [*cli, "pipelines"], cwd=project, env=env, capture_output=True, text=True, check=True
        ).stdout
        run = subprocess.run(
            [*cli, "run", "--pipeline", name, "--no-cache", "--json"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        execution = json.loads(run.stdout)
        migration, _ = load_migration(project_of(project), plan)
        expected = run_notebook_in_process(migration)
        # the evaluation step: the gathered report, or the one Processing step with metrics
        reporting = [s for s in migration.steps if s.records_metrics]
        final = next((s for s in reporting if s.report), reporting[0])
        folder = next(
            (project / ".mlops" / "s3").glob(
                f"*/*/{execution['PipelineExecutionId']}/{final.name.title().replace('_', '')}"
                "/output/output_dir"
            )
        )
        written = read_metrics(folder)
        wanted = {}
        for step, entry in expected.items():
            for key, value in entry["metrics"].items():
                wanted[key if key not in wanted else f"{step}_{key}"] = value
        assert set(wanted) == EXPECTED[name]
        for key, value in wanted.items():
            got = written.get(key, written.get(next((k for k in written if k.endswith(key)), "")))
            if isinstance(value, float):
                assert abs(got - value) <= 1e-9 * max(1.0, abs(value)), key
            else:
                assert got == value, key
    assert listed is not None and all(name in listed for name in EXPECTED)


def test_migrated_pipelines_are_listed_and_an_unknown_name_is_one_line(
    make_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from sagepipe.project import ProjectAdapter, ProjectError

    root = make_project("traits/no_headings.ipynb")
    migrate_trait(root, "no_headings")
    package = project_of(root).package
    monkeypatch.syspath_prepend(str(root / "src"))
    (root / "src" / package / "pipeline.py").write_text("def build_pipeline(settings): ...\n")
    default = {"name": ""}
    project = ProjectAdapter(
        package=package,
        load_settings=lambda: SimpleNamespace(default_pipeline=default["name"]),
        root=lambda: root,
        workspace=lambda: root / ".mlops",
        stage_data=lambda workspace, settings, data: [],
    )
    # pipeline.py and the migrated module are registered alike, by file name
    assert {n: p.module for n, p in project.pipelines().items()} == {
        "project": f"{package}.pipeline",
        "no_headings": f"{package}.pipeline_no_headings",
    }
    module = (root / "src" / package / "pipeline_no_headings.py").read_text()
    assert "'NoHeadingsDataDir': ('notebooks/data', ['customers.csv'])" in module.replace('"', "'")
    assert "RegisterModel(" in module
    assert "model_statistics=MetricsSource(evaluate_report.uri)" in module
    settings = project.load_settings()
    with pytest.raises(ProjectError, match=r"pipeline 'churn': .*known: no_headings"):
        project.pipeline("churn", settings)
    assert project.pipeline(None, settings).name == "project"
    default["name"] = "no_headings"
    assert project.pipeline(None, project.load_settings()).name == "no_headings"
    assert project.pipeline("project", project.load_settings()).name == "project"


@pytest.mark.slow
def test_compile_pipeline_and_the_default_setting_pick_the_migrated_pipeline(
    bake_project, tmp_path: Path
) -> None:
    import os
    import shutil
    import subprocess
    import sys

    from conftest import FIXTURES

    project = bake_project()
    shutil.copytree(FIXTURES / "data", project / "notebooks" / "data", dirs_exist_ok=True)
    shutil.copy(FIXTURES / "traits" / "no_headings.ipynb", project / "notebooks")
    migrate_trait(project, "no_headings")
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "GX_ANALYTICS_ENABLED": "false"}
    cli = [sys.executable, "-m", project.name.replace("-", "_")]

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], cwd=project, env={**env, **extra}, capture_output=True, text=True
        )

    compiled = run("compile", "--pipeline", "no_headings", "-o", str(tmp_path / "a.json"))
    assert compiled.returncode == 0, compiled.stderr
    steps = json.loads((tmp_path / "a.json").read_text())["Steps"]
    assert [s["Type"] for s in steps] == [
        "Processing",  # preprocess
        "Training",
        "Processing",  # evaluate
        "Processing",  # RequestRows: the rows the data-quality baseline is taken from
        "QualityCheck",  # BaselineTrainingData
        "Condition",
    ]
    # registration sits behind the Condition on the evaluation report's metric
    register = steps[-1]["Arguments"]["IfSteps"][0]
    assert register["Type"] == "RegisterModel"
    drift = register["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    assert drift["Statistics"]["S3Uri"] == {
        "Get": "Steps.BaselineTrainingData.BaselineUsedForDriftCheckStatistics"
    }
    assert register["Arguments"]["ModelPackageGroupName"] == "churn-model-models-no-headings"
    # one setting makes it the default: compile without --pipeline compiles it, and its
    # model goes to the project's group (what deploy and batch-transform serve)
    default = run("compile", "-o", str(tmp_path / "b.json"), MLOPS_DEFAULT_PIPELINE="no_headings")
    assert default.returncode == 0, default.stderr
    chosen = json.loads((tmp_path / "b.json").read_text())["Steps"]
    assert [s["Name"] for s in chosen] == [s["Name"] for s in steps]
    chosen_register = chosen[-1]["Arguments"]["IfSteps"][0]
    assert chosen_register["Arguments"]["ModelPackageGroupName"] == "churn-model-models"
    listed = run("pipelines", MLOPS_DEFAULT_PIPELINE="no_headings")
    assert "* no_headings" in listed.stdout and "  (project)" in listed.stdout
    unknown = run("run", "--pipeline", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: pipeline 'nope'")
