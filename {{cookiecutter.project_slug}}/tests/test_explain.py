"""``explain VERSION``: bias and SHAP of a version the pipeline registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

import conftest


def _version(workspace: Path) -> str:
    return str(conftest.registered_versions(workspace)[0]["ModelPackageVersion"])


def test_explain_writes_clarify_analysis_and_report(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    workspace = warm_workspace["workspace"]
    out = tmp_path / "explain"
    done = conftest.run_cli(
        "explain", _version(workspace), "--max-rows", "60", "-o", out, "--workspace", workspace
    )
    assert done.returncode == 0, done.stderr
    analysis = json.loads((out / "analysis.json").read_text())
    pre = analysis["pre_training_bias_metrics"]
    assert pre["label"] == "churned" and pre["label_value_or_threshold"] == "1"
    [split] = pre["facets"]["contract"]
    assert split["value_or_threshold"] == "month-to-month"
    assert {m["name"] for m in split["metrics"]} >= {"CI", "DPL", "KL", "JS", "TVD", "KS"}
    post = analysis["post_training_bias_metrics"]["facets"]["contract"][0]["metrics"]
    by_name = {m["name"]: m for m in post}
    assert isinstance(by_name["DPPL"]["value"], float)
    shap = analysis["explanations"]["kernel_shap"]["label0"]
    assert set(shap["global_shap_values"]) >= {"tenure_months", "contract"}
    assert "churned" not in shap["global_shap_values"]  # the label is not a feature
    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    assert len(local) == 60 and set(local.columns) == set(shap["global_shap_values"])
    # Scores are churn probabilities, so attributions are not the 0/1 label's multiples.
    assert local.abs().to_numpy().max() < 1
    assert "Post-training bias" in (out / "report.html").read_text()


def test_explain_refuses_an_unknown_facet_in_one_line(warm_workspace: dict[str, Any]) -> None:
    workspace = warm_workspace["workspace"]
    done = conftest.run_cli(
        "explain", _version(workspace), "--facet", "gender", "--workspace", workspace
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: facet column 'gender' is not in the dataset")
    assert len(done.stderr.strip().splitlines()) == 1
