"""``model-card`` and ``lineage`` of a version the pipeline registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

import conftest

SCHEMA = conftest.PROJECT_ROOT / "src" / "sagepipe" / "governance"
SCHEMA_FILE = SCHEMA / "model-card-content.schema.json"


def _version(workspace: Path) -> str:
    return str(conftest.registered_versions(workspace)[0]["ModelPackageVersion"])


def test_model_card_validates_against_sagemakers_content_schema(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    workspace = warm_workspace["workspace"]
    out = tmp_path / "card.json"
    done = conftest.run_cli(
        "model-card", _version(workspace), "-o", out, "--html", "--workspace", workspace
    )
    assert done.returncode == 0, done.stderr
    card = json.loads(out.read_text())
    jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text())).validate(card)
    assert card["intended_uses"]["risk_rating"] in {"High", "Medium", "Low", "Unknown"}
    job = card["training_details"]["training_job_details"]
    assert {p["name"] for p in job["hyper_parameters"]} >= {"MaxIter", "LearningRate"}
    assert any(m["name"] == "accuracy" for m in job["training_metrics"])
    [evaluation] = card["evaluation_details"]
    names = {m["name"] for m in evaluation["metric_groups"][0]["metric_data"]}
    assert {"accuracy", "auc", "f1"} <= names
    custom = card["additional_information"]["custom_details"]
    assert custom["pipeline_execution_id"] == warm_workspace["execution"]["PipelineExecutionId"]
    assert custom["ModelDataQuality.Statistics"].endswith("statistics.json")
    assert "<h2>intended uses</h2>" in out.with_suffix(".html").read_text()


def test_model_card_refuses_a_risk_rating_outside_the_schema(
    warm_workspace: dict[str, Any], tmp_path: Path
) -> None:
    team = tmp_path / "card.toml"
    team.write_text('[intended_uses]\nrisk_rating = "Extreme"\n')
    workspace = warm_workspace["workspace"]
    done = conftest.run_cli(
        "model-card", _version(workspace), "--card-file", team, "--workspace", workspace
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: model card field intended_uses.risk_rating:")
    assert "fix it in the model card file" in done.stderr


def test_lineage_shows_data_code_steps_image_and_baselines(
    warm_workspace: dict[str, Any],
) -> None:
    workspace = warm_workspace["workspace"]
    done = conftest.run_cli("lineage", _version(workspace), "--json", "--workspace", workspace)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["execution"]["id"] == warm_workspace["execution"]["PipelineExecutionId"]
    steps = {s["name"]: s["status"] for s in document["execution"]["steps"]}
    assert steps["BaselineTrainingData"] == "Succeeded" and steps["Train"] == "Succeeded"
    assert len(document["data"]["digest"]) == 64 and len(document["code"]["digest"]) == 64
    assert document["image"] and document["model_data"]["sha256"]
    assert "DriftCheckBaselines.ModelDataQuality.Statistics" in document["baselines"]
    tree = conftest.run_cli("lineage", _version(workspace), "--workspace", workspace)
    assert tree.returncode == 0 and "├── baselines" in tree.stdout
