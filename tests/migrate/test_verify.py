"""`migrate verify`: the notebook (nbclient) against the migrated steps.

Slow: each test starts a kernel and runs a notebook that imports pandas and
scikit-learn (about 20 s here). The local-executor run is in test_migrate_baked.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagepipe.migrate.cli import migrate

pytestmark = pytest.mark.slow


def migrate_notebook(root: Path, notebook: str) -> Path:
    runner = CliRunner()
    planned = runner.invoke(
        migrate, ["plan", str(root / "notebooks" / notebook), "--project", str(root)]
    )
    assert planned.exit_code == 0, planned.output
    plan = Path(planned.stdout.strip().splitlines()[-1])
    applied = runner.invoke(migrate, ["apply", str(plan), "--project", str(root)])
    assert applied.exit_code == 0, applied.output
    return plan


def verify(root: Path, plan: Path):
    return CliRunner().invoke(
        migrate,
        [
            "verify",
            str(plan),
            "--runner",
            "direct",
            "--json",
            "--timeout",
            "120",
            "--project",
            str(root),
        ],
    )


@pytest.mark.parametrize(
    ("notebook", "metrics"),
    [
        ("churn_messy.ipynb", {"auc", "scores_forest", "scores_logreg"}),
        ("houses_percent.py", {"mae_ridge", "mae_boost", "r2"}),
        ("sections_h2.ipynb", {"f1", "cv_0", "cv_1", "cv_2"}),
    ],
)
def test_migrated_steps_reproduce_the_notebook(
    make_project, notebook: str, metrics: set[str]
) -> None:
    root = make_project(notebook)
    plan = migrate_notebook(root, notebook)
    result = verify(root, plan)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and set(report["metrics"]) == metrics
    for entry in report["metrics"].values():
        assert isinstance(entry["notebook"], float) and entry["notebook"] == entry["pipeline"]
    shapes = [v for row in report["steps"] for v in row["values"].values()]
    assert shapes and all(v["notebook"]["shape"] == v["pipeline"]["shape"] for v in shapes)


def test_mismatch_is_reported_at_the_step_where_it_starts(make_project) -> None:
    root = make_project("churn_messy.ipynb")
    plan = migrate_notebook(root, "churn_messy.ipynb")
    step = next((root / "src").glob("*/steps/churn_messy/preprocess.py"))
    step.write_text(
        step.read_text().replace(
            "    df = pd.read_csv(DATA)\n", "    df = pd.read_csv(DATA).iloc[:-20]\n"
        )
    )
    result = CliRunner().invoke(
        migrate, ["verify", str(plan), "--runner", "direct", "--project", str(root)]
    )
    assert result.exit_code == 1
    assert "mismatch starts at step 'preprocess': X_train" in result.output
