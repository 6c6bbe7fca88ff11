"""The model a migrated pipeline registers: found however the notebook binds it, including a
chained ``m = Estimator().fit(...)``, a pipeline's ``make_pipeline(...).fit(...)`` and a
search's ``.fit(...).best_estimator_``; the register role becomes a RegisterModel step."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import joblib
import pytest

from test_gate_and_serving import _notebook_namespace
from test_handler import _migrated
from test_traits import migrate_trait, project_of


def test_a_model_bound_by_a_chained_fit_is_registered(make_project) -> None:
    root = make_project("traits/chained_fit.ipynb")
    _, document = migrate_trait(root, "chained_fit")
    registration = document["registration"]
    # baseline (a fitted make_pipeline) and forest (a search's best_estimator_) are both
    # models; the one fitted last in the training step is registered
    assert (registration["step"], registration["model"]) == ("train", "forest")
    assert not [w for w in document.get("warnings", []) if "register" in w]
    package = root / "src" / project_of(root).package
    train = (package / "steps" / "chained_fit" / "train.py").read_text()
    assert "export_model(" in train and ", forest)  # what serving loads" in train
    module = (package / "pipeline_chained_fit.py").read_text()
    assert "RegisterModel(" in module and "model=train_step" in module


@pytest.mark.parametrize(
    ("name", "model"), [("html_headings", "linear"), ("try_except_import", "ridge")]
)
def test_one_line_fits_in_older_fixtures_are_registered_too(
    make_project, name: str, model: str
) -> None:
    root = make_project(f"traits/{name}.ipynb")
    _, document = migrate_trait(root, name)
    assert document["registration"]["model"] == model


def test_a_fit_whose_value_is_data_is_not_a_model(make_project) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_project()
    cells = [
        new_code_cell(
            "import pandas as pd\nfrom sklearn.preprocessing import StandardScaler\n"
            "from sklearn.linear_model import LinearRegression\n"
            "houses = pd.read_csv('data/houses.csv')"
        ),
        new_code_cell(
            # .fit(...).transform(...) is an array, not a fitted estimator
            "scaled = StandardScaler().fit(houses[['area', 'rooms']]).transform("
            "houses[['area', 'rooms']])\n"
            "linear = LinearRegression().fit(scaled, houses['price'])"
        ),
        new_code_cell("print(linear.score(scaled, houses['price']))"),
    ]
    nbformat.write(new_notebook(cells=cells), root / "notebooks" / "scaled.ipynb")
    _, document = migrate_trait(root, "scaled")
    assert document["registration"]["model"] == "linear"


def test_no_fitted_model_says_so_not_containers(make_project) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    root = make_project()
    cells = [
        new_code_cell("import pandas as pd\nhouses = pd.read_csv('data/houses.csv')"),
        new_markdown_cell("## Train"),
        new_code_cell("import numpy as np\ncoef = np.polyfit(houses['area'], houses['price'], 1)"),
    ]
    nbformat.write(new_notebook(cells=cells), root / "notebooks" / "polyfit.ipynb")
    _, document = migrate_trait(root, "polyfit")
    assert document.get("registration") is None
    (warning,) = [w for w in document["warnings"] if "register" in w]
    assert "no `model.fit(...)` or `model = Estimator(...).fit(...)`" in warning


@pytest.mark.slow
def test_run_pipeline_reproduces_the_chained_fit_notebook_and_registers_its_model(
    bake_project, tmp_path: Path
) -> None:
    from sagepipe.migrate.apply import load_migration
    from sagepipe.migrate.stepio import read_metrics
    from sagepipe.migrate.verify import run_notebook_in_process

    project, run = _migrated(bake_project, "chained_fit")
    ran = run("run", "--pipeline", "chained_fit", "--no-cache", "--json")
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    execution = json.loads(ran.stdout)
    assert execution["Status"] == "Succeeded"
    migration, _ = load_migration(project_of(project), project / "migrations" / "chained_fit.yaml")
    expected = run_notebook_in_process(migration)
    wanted = {k: v for entry in expected.values() for k, v in entry["metrics"].items()}
    assert set(wanted) == {"baseline_score_X_test_y_test", "auc"}
    run_folder = next((project / ".mlops" / "s3").glob(f"*/*/{execution['PipelineExecutionId']}"))
    written = read_metrics(next(run_folder.glob("MetricsReport/output/output_dir")))
    for key, value in wanted.items():
        got = written.get(key, written.get(next((k for k in written if k.endswith(key)), "")))
        assert abs(got - value) <= 1e-9 * max(1.0, abs(value)), key

    # registered: one version in the migrated pipeline's group, holding the tuned forest
    assert execution["Registered"] == [{"Group": "churn-model-models-chained-fit", "Version": 1}]
    listed = run("registry", "list", "--group", "churn-model-models-chained-fit", "--json")
    (package,) = json.loads(listed.stdout)
    assert package["ModelPackageVersion"] == 1 and package["Lineage"]["PipelineName"]
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    (archive,) = run_folder.glob("Train/*/output/model.tar.gz")
    with tarfile.open(archive) as packed:
        packed.extractall(tmp_path / "model", filter="data")
    served = joblib.load(tmp_path / "model" / "model.joblib")
    # the baseline's request rows (training rows) leave in output.tar.gz, never the model
    assert not list((tmp_path / "model").rglob("request-rows.csv"))
    (output_data,) = run_folder.glob("Train/*/output/output.tar.gz")
    with tarfile.open(output_data) as packed:
        assert packed.getnames() == ["request-rows.csv"]
    notebook = _notebook_namespace(project / "notebooks" / "chained_fit.ipynb")
    assert type(served).__name__ == "RandomForestClassifier"
    assert served.get_params()["max_depth"] == notebook["forest"].get_params()["max_depth"]
    assert (
        served.predict_proba(notebook["X_test"]).tolist()
        == notebook["forest"].predict_proba(notebook["X_test"]).tolist()
    )


@pytest.mark.slow
def test_a_local_run_of_a_migrated_pipeline_is_recorded_under_its_own_name(bake_project) -> None:
    # the default pipeline: `run` without --pipeline runs it, and lineage reads its group
    _, run = _migrated(bake_project, "chained_fit", MLOPS_DEFAULT_PIPELINE="chained_fit")
    ran = run("run", "--json")
    execution = json.loads(ran.stdout)
    assert execution["Status"] == "Succeeded", ran.stderr[-2000:]
    assert execution["PipelineName"] == "chained_fit"  # as `pipelines` names it, not churn-model
    listed = json.loads(run("runs", "--json").stdout)
    assert [(r["PipelineExecutionId"], r["PipelineName"]) for r in listed] == [
        (execution["PipelineExecutionId"], "chained_fit")
    ]
    assert json.loads(run("runs", "--pipeline", "chained_fit", "--json").stdout) == listed
    assert json.loads(run("runs", "--pipeline", "project", "--json").stdout) == []
    package = json.loads(run("registry", "describe", "latest").stdout)
    assert package["Lineage"]["PipelineName"] == "chained_fit"
    lineage = json.loads(run("lineage", "1", "--json").stdout)
    assert lineage["execution"]["id"] == execution["PipelineExecutionId"]
    assert lineage["execution"]["pipeline"] == "chained_fit"
