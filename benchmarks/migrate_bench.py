"""Benchmark: `migrate plan` + `migrate apply` on a 100-cell notebook (target: under 5 s),
and `migrate verify` against its parts (target: within 2.5x of one notebook run plus one
pipeline run).

The notebook imitates a long course notebook: a load cell, many plot and describe cells,
cleaning, features, three models with their metrics (printed, last expressions, a loop
filling a dict). Plan and apply never run the notebook, so the time is parsing, analysis
and code generation, plus interpreter start-up: each command runs as a user types it.

    python benchmarks/migrate_bench.py            # prints the figures
    python benchmarks/migrate_bench.py --repeat 5
    python benchmarks/migrate_bench.py --verify   # also verify vs nbclient + `run --pipeline`

The verify figure runs in a baked project: `migrate verify` (the notebook in a kernel, the
pipeline on the local executor, every metric compared) is timed against the notebook run
alone with nbclient plus `run --pipeline course --no-cache`, each as its own process,
interleaved (verify, notebook, pipeline, verify, ...) so a load change hits all three.

``bench_migrate()`` returns a report Section for benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
FRAMEWORK_SRC = TEMPLATE / "{{cookiecutter.project_slug}}" / "src"
DATA = TEMPLATE / "tests" / "migrate" / "fixtures" / "data"
TARGET_SECONDS = 5.0
MIGRATE = "from sagepipe.migrate.cli import migrate; migrate()"


def hundred_cells() -> list[tuple[str, str]]:
    """(kind, source) of a 100-cell notebook: 12 markdown, 88 code."""
    cells: list[tuple[str, str]] = [
        ("markdown", "# Churn classifier: a long course notebook"),
        (
            "code",
            "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
            "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
            "from sklearn.tree import DecisionTreeClassifier\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.metrics import accuracy_score, f1_score, roc_auc_score\n"
            "from sklearn.model_selection import train_test_split, cross_val_score",
        ),
        ("code", "SEED = 7\nTEST_SIZE = 0.3"),
        ("markdown", "## Load the data"),
        ("code", "df = pd.read_csv('data/customers.csv')"),
        ("markdown", "## Explore"),
    ]
    columns = ["tenure", "monthly_charges", "age"]
    while len(cells) < 80:
        column = columns[len(cells) % 3]
        cells.append(("code", f"df['{column}'].hist(bins={len(cells) % 9 + 5})\nplt.show()"))
        cells.append(("code", f"df['{column}'].describe()"))
    cells += [
        ("markdown", "## Clean"),
        ("code", "df = df.drop_duplicates().dropna(subset=['age'])"),
        ("code", "df['month_to_month'] = (df['contract'] == 'month-to-month').astype(int)"),
        ("markdown", "## Features"),
        (
            "code",
            "FEATURES = ['age', 'tenure', 'monthly_charges', 'month_to_month']\n"
            "X_train, X_test, y_train, y_test = train_test_split(\n"
            "    df[FEATURES], df['churned'], test_size=TEST_SIZE, random_state=SEED)",
        ),
        ("markdown", "## Train"),
        ("code", "logreg = LogisticRegression(max_iter=1000).fit(X_train, y_train)"),
        (
            "code",
            "tree = DecisionTreeClassifier(max_depth=4, random_state=SEED)\n"
            "tree.fit(X_train, y_train)",
        ),
        (
            "code",
            "forest = RandomForestClassifier(n_estimators=30, random_state=SEED)\n"
            "forest.fit(X_train, y_train)",
        ),
        ("markdown", "## Evaluate"),
        ("code", "print(accuracy_score(y_test, logreg.predict(X_test)))"),
        ("code", "tree.score(X_test, y_test)"),
        (
            "code",
            "scores = {}\n"
            "for name, model in {'logreg': logreg, 'tree': tree, 'forest': forest}.items():\n"
            "    scores[name] = f1_score(y_test, model.predict(X_test))",
        ),
        ("code", "auc = roc_auc_score(y_test, forest.predict_proba(X_test)[:, 1])\nauc"),
        ("code", "cross_val_score(forest, X_train, y_train, cv=3)"),
        ("markdown", "## Plots of the results"),
    ]
    while len(cells) < 100:
        cells.append(
            ("code", "plt.figure()\nplt.bar(list(scores), list(scores.values()))\nplt.show()")
        )
    return cells[:100]


def write_notebook(path: Path) -> None:
    """Write the 100-cell notebook as nbformat 4 JSON (no Jupyter needed)."""
    import json

    cells = []
    for kind, source in hundred_cells():
        cell = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )


def make_project(root: Path) -> None:
    """A minimal project (pyproject, src/<package>) with the notebook and its data."""
    (root / "src" / "bench" / "steps").mkdir(parents=True)
    (root / "src" / "bench" / "__init__.py").write_text("")
    (root / "src" / "bench" / "steps" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench"\nversion = "0"\ndependencies = [\n    "pandas",\n]\n'
        # plan and apply read the adapter's name, never import it
        '\n[tool.sagepipe]\nadapter = "bench.adapter:project"\n'
    )
    (root / "notebooks").mkdir()
    shutil.copytree(DATA, root / "notebooks" / "data")
    write_notebook(root / "notebooks" / "course.ipynb")


def timed(argv: list[str], cwd: Path, src: Path = FRAMEWORK_SRC) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children), ``src`` on the path."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(src), "GX_ANALYTICS_ENABLED": "false"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-3:])} failed: {result.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def measure(repeat: int = 3) -> dict[str, float]:
    """Median seconds (wall and CPU) of plan, apply and both, each in a fresh project."""
    plans, applies, cpus, steps = [], [], [], 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="migrate-bench-") as scratch:
            root = Path(scratch)
            make_project(root)
            plan = timed([sys.executable, "-c", MIGRATE, "plan", "notebooks/course.ipynb"], root)
            apply = timed([sys.executable, "-c", MIGRATE, "apply", "migrations/course.yaml"], root)
            plans.append(plan[0])
            applies.append(apply[0])
            cpus.append(plan[1] + apply[1])
            steps = len(list((root / "src" / "bench" / "steps" / "course").glob("*.py"))) - 2
    plan_s, apply_s = statistics.median(plans), statistics.median(applies)
    return {
        "plan": plan_s,
        "apply": apply_s,
        "total": plan_s + apply_s,
        "cpu": statistics.median(cpus),
        "steps": steps,
        "repeat": repeat,
    }


VERIFY_TARGET_RATIO = 2.5
RUN_NOTEBOOK = """\
import sys
import nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def bake_project(scratch: Path) -> Path:
    """A default bake of the template, with the 100-cell notebook planned and applied."""
    from cookiecutter.main import cookiecutter

    project = Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, output_dir=str(scratch), overwrite_if_exists=True
        )
    )
    shutil.copytree(DATA, project / "notebooks" / "data", dirs_exist_ok=True)
    write_notebook(project / "notebooks" / "course.ipynb")
    src = project / "src"
    for argv in (["plan", "notebooks/course.ipynb"], ["apply", "migrations/course.yaml"]):
        timed([sys.executable, "-c", MIGRATE, *argv], project, src)
    return project


def measure_verify(repeat: int = 3) -> dict[str, float]:
    """Median seconds of verify, of the notebook alone (nbclient) and of one pipeline run."""
    verifies, notebooks, pipelines = [], [], []
    with tempfile.TemporaryDirectory(prefix="migrate-verify-bench-") as scratch:
        project = bake_project(Path(scratch))
        src = project / "src"
        module = project.name.replace("-", "_")
        for _ in range(repeat):
            verifies.append(
                timed(
                    [sys.executable, "-c", MIGRATE, "verify", "migrations/course.yaml"],
                    project,
                    src,
                )[0]
            )
            notebooks.append(
                timed(
                    [
                        sys.executable,
                        "-c",
                        RUN_NOTEBOOK,
                        "notebooks/course.ipynb",
                        str(project / "notebooks"),
                    ],
                    project,
                    src,
                )[0]
            )
            pipelines.append(
                timed(
                    [sys.executable, "-m", module, "run", "--pipeline", "course", "--no-cache"],
                    project,
                    src,
                )[0]
            )
    verify_s = statistics.median(verifies)
    notebook_s, pipeline_s = statistics.median(notebooks), statistics.median(pipelines)
    return {
        "verify": verify_s,
        "notebook": notebook_s,
        "pipeline": pipeline_s,
        "ratio": verify_s / (notebook_s + pipeline_s),
        "repeat": repeat,
    }


def bench_migrate(repeat: int = 3):  # type: ignore[no-untyped-def]
    """The benchmark as a report Section (for benchmarks/run.py)."""
    from report import Row, Section, seconds

    figures = measure(repeat)
    section = Section("Migrate a 100-cell notebook")
    section.rows.append(
        Row(
            "migrate plan + apply",
            "100 cells (88 code), 10 KB",
            seconds(figures["total"]),
            f"{figures['cpu']:.2f} s CPU",
            f"{figures['total']:.2f} s",
            f"< {TARGET_SECONDS:.0f} s",
            figures["total"] < TARGET_SECONDS,
        )
    )
    return section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verify", action="store_true", help="also time migrate verify")
    options = parser.parse_args()
    figures = measure(options.repeat)
    verdict = "met" if figures["total"] < TARGET_SECONDS else "MISSED"
    print(
        f"plan {figures['plan']:.2f} s + apply {figures['apply']:.2f} s = {figures['total']:.2f} s "
        f"wall, {figures['cpu']:.2f} s CPU (median of {figures['repeat']}; "
        f"{figures['steps']} step modules generated); "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    if options.verify:
        check = measure_verify(options.repeat)
        verdict = "met" if check["ratio"] <= VERIFY_TARGET_RATIO else "MISSED"
        print(
            f"verify {check['verify']:.1f} s vs notebook (nbclient) {check['notebook']:.1f} s + "
            f"pipeline (run --pipeline) {check['pipeline']:.1f} s: "
            f"{check['ratio']:.2f}x (median of {check['repeat']}, interleaved); "
            f"target <= {VERIFY_TARGET_RATIO}x: {verdict}; load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
