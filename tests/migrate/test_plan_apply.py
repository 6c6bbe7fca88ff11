"""`migrate plan` and `migrate apply` through the CLI, on a small project."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from sagepipe.migrate.cli import migrate


def invoke(root: Path, *args: str):
    return CliRunner().invoke(migrate, [*args, "--project", str(root)])


def plan(root: Path, notebook: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    result = invoke(root, "plan", str(root / "notebooks" / notebook))
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    return path, yaml.safe_load(path.read_text())


def test_plan_is_written_to_migrations_and_leaves_the_notebook_alone(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    notebook = root / "notebooks" / "churn_messy.ipynb"
    before = hashlib.sha256(notebook.read_bytes()).hexdigest()
    path, document = plan(root, "churn_messy.ipynb")
    assert path == root / "migrations" / "churn_messy.yaml"
    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == before
    assert document["notebook"] == "notebooks/churn_messy.ipynb"


def test_plan_shows_roles_steps_and_data_flow(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    _, document = plan(root, "churn_messy.ipynb")
    roles = {c["cell"]: c["role"] for c in document["cells"]}
    assert roles == {
        0: "shared",
        1: "parameters",
        2: "preprocess",
        3: "preprocess",
        4: "shared",
        5: "preprocess",
        6: "skip",
        7: "preprocess",
        8: "train",
        9: "evaluate",
        10: "register",
    }
    steps = {s["name"]: s for s in document["steps"]}
    assert list(steps) == ["preprocess", "train", "evaluate", "register"]
    assert steps["train"]["inputs"] == {"from preprocess": ["X_train", "y_train"]}
    assert steps["train"]["kind"] == "Training"
    # models were changed by fit in train, so evaluate reads them from train.
    assert steps["evaluate"]["inputs"]["from train"] == ["models"]
    assert steps["evaluate"]["metrics"] == ["scores", "auc"]
    assert {p["name"]: p["value"] for p in document["parameters"]} == {
        "TEST_SIZE": 0.25,
        "SEED": 42,
        "N_TREES": 60,
    }
    assert document["data_inputs"][0]["files"] == ["customers.csv"]
    assert document["helpers"] == [
        {"name": "add_features", "cell": 4, "globals_as_parameters": ["ref_charge"]}
    ]


def test_plan_reports_magics_pip_and_out_of_order_cells(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    _, document = plan(root, "churn_messy.ipynb")
    assert document["dependencies"] == ["scikit-learn", "joblib"]
    todo_lines = [t["line"] for t in document["todos"]]
    assert todo_lines == [
        "%matplotlib inline",
        "!pip install -q scikit-learn joblib",
        "%%time",
        "!ls -la",
    ]
    assert any("cell 5 ran as execution 6, before cell 4" in w for w in document["warnings"])


def test_star_imports_are_expanded_to_the_names_used(make_project) -> None:
    root = make_project("houses_percent.py")
    _, document = plan(root, "houses_percent.py")
    assert document["star_imports"] == [{"cell": 1, "module": "math", "expanded_to": ["log"]}]
    assert invoke(root, "apply", str(root / "migrations" / "houses_percent.yaml")).exit_code == 0
    code = next((root / "src").glob("*/steps/houses_percent/preprocess.py")).read_text()
    assert "from math import log" in code and "import *" not in code


def test_apply_writes_steps_that_cite_their_cells(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    result = invoke(root, "apply", str(path))
    assert result.exit_code == 0, result.output
    package = next(p for p in (root / "src").iterdir())
    steps = package / "steps" / "churn_messy"
    assert sorted(p.name for p in steps.glob("*.py")) == [
        "__init__.py",
        "_io.py",
        "evaluate.py",
        "helpers.py",
        "preprocess.py",
        "register.py",
        "train.py",
    ]
    # ruff (when installed) formats the code: compare with one kind of quotes
    preprocess = (steps / "preprocess.py").read_text().replace("'", '"')
    cited = re.findall(r"# --- notebook cell (\d+)", preprocess)
    assert cited == ["2", "3", "5", "7"]
    # the parameters cell became typed arguments with the notebook's values as defaults
    assert "TEST_SIZE: float = 0.25" in preprocess and "SEED: int = 42" in preprocess
    # the helper takes the global it read, and the call passes it
    assert "def add_features(frame, *, ref_charge):" in (steps / "helpers.py").read_text()
    assert "add_features(df, ref_charge=ref_charge)" in preprocess
    # no pickled globals: values go through files
    assert 'save_value(output_dir, "X_train", X_train)' in preprocess
    assert "pickle" not in preprocess
    # the pipeline lands beside pipeline.py, where every pipeline*.py is registered
    assert not (package / "pipelines").exists()
    pipeline = (package / "pipeline_churn_messy.py").read_text().replace("'", '"')
    assert "Training(" in pipeline and 'ParameterFloat("TestSize", default=0.25)' in pipeline
    assert "from .steps.churn_messy.train import train" in pipeline
    assert "settings" not in pipeline.split("def build_pipeline")[0].replace(
        "from sagepipe.project import PipelineSettings", ""
    )  # the engine hands the settings in; the module imports no project settings
    assert (root / "tests" / "migrated" / "test_churn_messy.py").is_file()


def test_pip_install_goes_into_the_project_dependencies_once(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    for _ in range(2):
        assert invoke(root, "apply", str(path)).exit_code == 0
    text = (root / "pyproject.toml").read_text()
    assert text.count('"joblib"') == 1
    assert text.count("scikit-learn") == 1  # already there: not added twice


def test_apply_again_keeps_user_edits_when_the_plan_is_unchanged(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    assert invoke(root, "apply", str(path)).exit_code == 0
    step = next((root / "src").glob("*/steps/churn_messy/train.py"))
    edited = step.read_text().replace("max_iter=500", "max_iter=900")
    step.write_text(edited)
    result = invoke(root, "apply", str(path))
    assert result.exit_code == 0, result.output
    assert "kept your edits: " in result.output
    assert step.read_text() == edited


def test_apply_stops_on_conflict_and_writes_nothing(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    assert invoke(root, "apply", str(path)).exit_code == 0
    train = next((root / "src").glob("*/steps/churn_messy/train.py"))
    train.write_text(train.read_text() + "\n# my edit\n")
    preprocess = train.with_name("preprocess.py")
    before = preprocess.read_text()
    # The reviewer changes a parameter: both files would be regenerated.
    path.write_text(path.read_text().replace("value: 60", "value: 80"))
    result = invoke(root, "apply", str(path))
    assert result.exit_code == 1
    assert "conflict, nothing written" in result.output and "train.py was edited" in result.output
    assert preprocess.read_text() == before
    assert "# my edit" in train.read_text()


def test_untouched_files_follow_plan_edits(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    assert invoke(root, "apply", str(path)).exit_code == 0
    text = path.read_text().replace("value: 60", "value: 80")
    # move cell 10 (joblib.dump) into the evaluate step
    text = text.replace("  role: register\n  step: register", "  role: evaluate\n  step: evaluate")
    path.write_text(text)
    assert invoke(root, "apply", str(path)).exit_code == 0
    steps = next((root / "src").glob("*/steps/churn_messy"))
    assert "N_TREES: int = 80" in (steps / "train.py").read_text()
    assert "# --- notebook cell 10" in (steps / "evaluate.py").read_text()


def test_bad_plan_edit_is_one_line_and_exit_1(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    path.write_text(path.read_text().replace("role: train", "role: training", 1))
    result = invoke(root, "apply", str(path))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "cell 8 has role 'training'; use one of preprocess, train" in result.output
    assert not list((root / "src").glob("*/steps/churn_messy"))


def test_apply_refuses_a_plan_for_an_edited_notebook(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    path, _ = plan(root, "churn_messy.ipynb")
    notebook = root / "notebooks" / "churn_messy.ipynb"
    notebook.write_text(notebook.read_text().replace("N_TREES = 60", "N_TREES = 61"))
    result = invoke(root, "apply", str(path))
    assert result.exit_code == 1
    assert "the notebook changed since churn_messy.yaml was written" in result.output


def test_tags_and_step_comments_name_the_steps(make_project) -> None:
    root = make_project("sections_h2.ipynb")
    _, document = plan(root, "sections_h2.ipynb")
    steps = {s["name"]: s for s in document["steps"]}
    assert list(steps) == ["preprocess", "split", "fit", "evaluate"]
    assert steps["fit"]["kind"] == "Training" and steps["split"]["role"] == "preprocess"
    # the scaler was fitted in `fit`, so `evaluate` reads it (and the model) from there
    assert steps["evaluate"]["inputs"]["from fit"] == ["clf", "scaler", "X_tr_s"]
    reasons = {c["cell"]: c["reason"] for c in document["cells"]}
    assert reasons[7] == "cell tag 'step:split'" and reasons[9] == "comment '# step: fit'"
    assert reasons[3] == "heading 'Load'"


def test_folder_parameters_never_shadow_notebook_variables(make_project) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_project()
    notebook = new_notebook()
    notebook.cells = [
        new_code_cell("import pandas as pd\ndata_dir = 'data'\noutput_dir = 'results'"),
        new_code_cell("df = pd.read_csv('data/customers.csv')\nprint(data_dir, output_dir)"),
    ]
    nbformat.write(notebook, root / "notebooks" / "clash.ipynb")
    path, _ = plan(root, "clash.ipynb")
    assert invoke(root, "apply", str(path)).exit_code == 0
    code = next((root / "src").glob("*/steps/clash/preprocess.py")).read_text()
    assert "input_data_dir: Path" in code and "step_output_dir: Path" in code
    compile(code, "preprocess.py", "exec")


def test_folder_constant_becomes_an_input_folder_and_the_step_runs(make_project, tmp_path) -> None:
    import importlib
    import sys

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_project()
    notebook = new_notebook()
    notebook.cells = [
        new_code_cell("import pandas as pd\nDATA_DIR = 'data'\nMIN_TENURE = 12"),
        new_code_cell(
            "df = pd.read_csv(DATA_DIR + '/customers.csv')\n"
            "df = df[df.tenure >= MIN_TENURE]\ndf.to_csv('long_tenure.csv')"
        ),
    ]
    nbformat.write(notebook, root / "notebooks" / "folder.ipynb")
    path, document = plan(root, "folder.ipynb")
    assert document["data_inputs"][0]["folder"] == "notebooks/data"
    assert [p["name"] for p in document["parameters"]] == ["MIN_TENURE"]
    assert invoke(root, "apply", str(path)).exit_code == 0
    package = next(p.name for p in (root / "src").iterdir())
    sys.path.insert(0, str(root / "src"))
    try:
        module = importlib.import_module(f"{package}.steps.folder.preprocess")
        module.preprocess(
            data_dir=root / "notebooks" / "data", output_dir=tmp_path / "out", MIN_TENURE=60
        )
    finally:
        sys.path.remove(str(root / "src"))
    written = (tmp_path / "out" / "long_tenure.csv").read_text().splitlines()
    assert len(written) > 1 and all(int(line.split(",")[3]) >= 60 for line in written[1:])
