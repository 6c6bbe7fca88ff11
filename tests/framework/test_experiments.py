"""Every run records its metrics beside its parameters; ``runs compare`` shows them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sagepipe.cli import make_framework_cli
from sagepipe.local import execute
from sagepipe.local.run_metrics import RunMetrics, flatten
from test_compile_runs_locally import stage


def test_flatten_keeps_finite_numbers_under_their_metric_name() -> None:
    document = {
        "binary_classification_metrics": {
            "accuracy": {"value": 0.75, "standard_deviation": 0.01},
            "auc": {"value": "NaN"},
            "flag": {"value": True},
        }
    }
    assert flatten(document) == {"accuracy": 0.75}


def test_runs_record_metrics_and_compare_side_by_side(tmp_path: Path) -> None:
    definition = stage(tmp_path)
    first = execute(definition, workspace=tmp_path, parameters={"NEstimators": "5"})
    second = execute(definition, workspace=tmp_path, parameters={"NEstimators": "9"})
    assert first.status == second.status == "Succeeded"
    assert "accuracy" in first.metrics
    assert RunMetrics(tmp_path / "runs.db").get(first.id) == first.metrics

    cli = make_framework_cli()
    ids = [first.id, second.id]
    done = CliRunner().invoke(
        cli, ["runs", "compare", *ids, "--json", "--workspace", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    rows = json.loads(done.output)
    assert [r["id"] for r in rows] == ids
    assert [r["parameters"]["NEstimators"] for r in rows] == [5, 9]
    assert rows[0]["metrics"]["accuracy"] == first.metrics["accuracy"]

    plot = tmp_path / "accuracy.html"
    table = CliRunner().invoke(
        cli, ["runs", "compare", *ids, "--plot", str(plot), "--workspace", str(tmp_path)]
    )
    assert table.exit_code == 0, table.output
    assert "*param NEstimators" in table.output and "metric accuracy" in table.output
    assert plot.read_text().count("<circle") == 2

    listing = CliRunner().invoke(cli, ["runs", "--workspace", str(tmp_path)])
    assert listing.exit_code == 0 and first.id in listing.output


def test_compare_names_an_unknown_execution(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        make_framework_cli(), ["runs", "compare", "exec-nope", "--workspace", str(tmp_path)]
    )
    assert done.exit_code == 2
    assert "no execution 'exec-nope'" in done.output
