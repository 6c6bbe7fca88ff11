"""The pipeline's baselines: data and model quality, bias and explainability, registered.

The compiled definition has the five check steps in the SageMaker SDK's shape and
RegisterModel reads their properties; a run registers a version whose ``ModelMetrics``
and ``DriftCheckBaselines`` point at files in Model Monitor's and Clarify's layouts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

import conftest
from {{ cookiecutter.package_name }} import columns, settings
from {{ cookiecutter.package_name }}.pipeline import CHECK_SWITCHES, compile_definition
from {{ cookiecutter.package_name }}.steps.preprocess import EXPLAIN_SAMPLE_ROWS

CHECKS = {
    "BaselineTrainingData": ("QualityCheck", "DATA_QUALITY", "data_quality"),
    "BaselineTrainingBias": ("ClarifyCheck", "DATA_BIAS", "data_bias"),
    "BaselineModelQuality": ("QualityCheck", "MODEL_QUALITY", "model_quality"),
    "BaselineModelBias": ("ClarifyCheck", "MODEL_BIAS", "model_bias"),
    "BaselineModelExplainability": ("ClarifyCheck", "MODEL_EXPLAINABILITY", "model_explainability"),
}
SECTIONS = ("ModelDataQuality", "ModelQuality", "Bias", "Explainability")


@pytest.fixture(scope="module")
def compiled() -> Any:
    return compile_definition(settings.load("dev", environ={}))


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(branch, []):
                found[inner["Name"]] = inner
    return found


def test_each_check_compiles_to_the_sdk_shape_with_its_own_switches(compiled: Any) -> None:
    definition = compiled.definition
    steps = _steps(definition)
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    group = settings.load("dev", environ={}).model_package_group
    for name, (step_type, check_type, switch) in CHECKS.items():
        step = steps[name]
        skip, register = CHECK_SWITCHES[switch]
        assert step["Type"] == step_type and step["CheckType"] == check_type
        assert step["SkipCheck"] == {"Get": f"Parameters.{skip}"}
        assert step["RegisterNewBaseline"] == {"Get": f"Parameters.{register}"}
        # The first run has no Approved baseline: skip the check, register the new one.
        assert defaults[skip] is True and defaults[register] is True
        assert step["ModelPackageGroupName"] == group
        # Independent checks wait only for their inputs, never for each other.
        assert "DependsOn" not in step
        outputs = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        assert len(outputs) == 1
    clarify_inputs = {
        name: [i["InputName"] for i in steps[name]["Arguments"]["ProcessingInputs"]]
        for name, (kind, _, _) in CHECKS.items()
        if kind == "ClarifyCheck"
    }
    assert clarify_inputs == {
        "BaselineTrainingBias": ["analysis_config", "dataset"],
        "BaselineModelBias": ["analysis_config", "dataset", "model"],
        "BaselineModelExplainability": ["analysis_config", "dataset", "model"],
    }
    model = steps["BaselineModelBias"]["Arguments"]["ProcessingInputs"][2]["S3Input"]["S3Uri"]
    assert model == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    quality_env = steps["BaselineModelQuality"]["Arguments"]["Environment"]
    assert quality_env["analysis_type"] == "MODEL_QUALITY"
    assert (
        quality_env["inference_attribute"],
        quality_env["probability_attribute"],
        quality_env["ground_truth_attribute"],
    ) == ("prediction", "probability", "label")
    dataset = steps["BaselineModelQuality"]["Arguments"]["ProcessingInputs"][0]["S3Input"]
    assert "Steps.Evaluate" in json.dumps(dataset["S3Uri"])


def test_bias_checks_use_the_facet_explain_uses(compiled: Any) -> None:
    configs = [
        json.loads(body)
        for uri, body in compiled.artifacts.items()
        if str(uri).endswith("analysis_config.json")
    ]
    bias = [c for c in configs if "facet" in c]
    assert len(bias) == 2  # pre-training and post-training
    for config in bias:
        assert config["facet"] == [
            {"name_or_index": columns.BIAS_FACET, "value_or_threshold": [columns.BIAS_FACET_VALUE]}
        ]
        assert config["label"] == columns.TARGET
        assert config["label_values_or_threshold"] == [columns.POSITIVE_LABEL]
    [shap] = [c["methods"]["shap"] for c in configs if "shap" in c["methods"]]
    assert 0 < shap["num_samples"] < 2 ** len(columns.FEATURES) - 2  # sampled, not exact
    from {{ cookiecutter.package_name }}.deploy.explain import DEFAULT_FACET, DEFAULT_FACET_VALUE

    assert (DEFAULT_FACET, DEFAULT_FACET_VALUE) == (columns.BIAS_FACET, columns.BIAS_FACET_VALUE)


def test_register_model_records_every_baseline_in_both_sections(compiled: Any) -> None:
    register = _steps(compiled.definition)["RegisterModel"]["Arguments"]
    metrics, drift = register["ModelMetrics"], register["DriftCheckBaselines"]
    assert set(SECTIONS) <= set(metrics) and set(drift) == set(SECTIONS)

    def get(source: dict[str, Any]) -> str:
        return str(source["S3Uri"]["Get"])

    # ModelMetrics: what this run calculated (Clarify's files are "reports" there).
    assert metrics["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][-1] == (
        "evaluation.json"
    )
    assert get(metrics["ModelQuality"]["Constraints"]) == (
        "Steps.BaselineModelQuality.CalculatedBaselineConstraints"
    )
    assert get(metrics["ModelDataQuality"]["Statistics"]) == (
        "Steps.BaselineTrainingData.CalculatedBaselineStatistics"
    )
    assert get(metrics["Bias"]["PreTrainingReport"]) == (
        "Steps.BaselineTrainingBias.CalculatedBaselineConstraints"
    )
    assert get(metrics["Bias"]["PostTrainingReport"]) == (
        "Steps.BaselineModelBias.CalculatedBaselineConstraints"
    )
    assert get(metrics["Explainability"]["Report"]) == (
        "Steps.BaselineModelExplainability.CalculatedBaselineConstraints"
    )
    # DriftCheckBaselines: what later checks compare against.
    assert {
        section: {kind: get(source) for kind, source in block.items()}
        for section, block in drift.items()
    } == {
        "ModelDataQuality": {
            "Statistics": "Steps.BaselineTrainingData.BaselineUsedForDriftCheckStatistics",
            "Constraints": "Steps.BaselineTrainingData.BaselineUsedForDriftCheckConstraints",
        },
        "ModelQuality": {
            "Statistics": "Steps.BaselineModelQuality.BaselineUsedForDriftCheckStatistics",
            "Constraints": "Steps.BaselineModelQuality.BaselineUsedForDriftCheckConstraints",
        },
        "Bias": {
            "PreTrainingConstraints": (
                "Steps.BaselineTrainingBias.BaselineUsedForDriftCheckConstraints"
            ),
            "PostTrainingConstraints": (
                "Steps.BaselineModelBias.BaselineUsedForDriftCheckConstraints"
            ),
        },
        "Explainability": {
            "Constraints": "Steps.BaselineModelExplainability.BaselineUsedForDriftCheckConstraints"
        },
    }


def _path(workspace: Path, source: dict[str, Any]) -> Path:
    uri = str(source["S3Uri"])
    assert uri.startswith("s3://"), uri
    path = workspace / "s3" / uri[len("s3://") :]
    assert path.is_file(), f"{uri} does not exist at {path}"
    return path


def _file(workspace: Path, source: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(_path(workspace, source).read_text())
    return document


def _latest(workspace: Path) -> dict[str, Any]:
    versions = conftest.registered_versions(workspace)
    return max(versions, key=lambda p: p["ModelPackageVersion"])


def test_a_run_registers_baseline_files_in_model_monitor_and_clarify_layouts(
    warm_workspace: dict[str, Any],
) -> None:
    workspace = warm_workspace["workspace"]
    package = _latest(workspace)
    metrics, drift = package["ModelMetrics"], package["DriftCheckBaselines"]
    assert set(SECTIONS) <= set(metrics) and set(SECTIONS) <= set(drift)
    features = set(columns.FEATURES)
    # Model Monitor data quality: one entry per feature (the label left out).
    for block in (metrics["ModelDataQuality"], drift["ModelDataQuality"]):
        statistics = _file(workspace, block["Statistics"])
        assert {f["name"] for f in statistics["features"]} == features
        assert statistics["dataset"]["item_count"] > 0
        constraints = _file(workspace, block["Constraints"])
        assert {f["name"] for f in constraints["features"]} == features
    # Model Monitor model quality of the Evaluate step's predictions.
    quality = _file(workspace, drift["ModelQuality"]["Statistics"])
    evaluation = _file(workspace, metrics["ModelQuality"]["Statistics"])
    measured = quality["binary_classification_metrics"]["accuracy"]["value"]
    # The same predictions as evaluation.json's (which rounds to 6 decimals).
    assert measured == pytest.approx(
        evaluation["binary_classification_metrics"]["accuracy"]["value"], abs=1e-6
    )
    for block in (metrics["ModelQuality"], drift["ModelQuality"]):
        constraints = _file(workspace, block["Constraints"])["binary_classification_constraints"]
        assert constraints["accuracy"]["threshold"] <= measured
    # Clarify: pre- and post-training bias on the facet, SHAP over the features.
    for key, source in (
        ("pre_training_bias_metrics", metrics["Bias"]["PreTrainingReport"]),
        ("pre_training_bias_metrics", drift["Bias"]["PreTrainingConstraints"]),
        ("post_training_bias_metrics", metrics["Bias"]["PostTrainingReport"]),
        ("post_training_bias_metrics", drift["Bias"]["PostTrainingConstraints"]),
    ):
        report = _file(workspace, source)[key]
        assert report["label"] == columns.TARGET
        [split] = report["facets"][columns.BIAS_FACET]
        assert split["value_or_threshold"] == columns.BIAS_FACET_VALUE
        names = {m["name"] for m in split["metrics"]}
        assert ("CI" in names) if key.startswith("pre") else ("DPPL" in names)
    for source in (metrics["Explainability"]["Report"], drift["Explainability"]["Constraints"]):
        shap = _file(workspace, source)["explanations"]["kernel_shap"]["label0"]
        assert set(shap["global_shap_values"]) == features
        assert any(value > 0 for value in shap["global_shap_values"].values())
    analysis = _path(workspace, drift["Explainability"]["Constraints"])
    with (analysis.parent / "explanations_shap" / "out.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert len(rows) - 1 == EXPLAIN_SAMPLE_ROWS  # the documented sample, not the whole split


def test_lineage_lists_every_baseline(warm_workspace: dict[str, Any]) -> None:
    workspace = warm_workspace["workspace"]
    version = str(_latest(workspace)["ModelPackageVersion"])
    done = conftest.run_cli("lineage", version, "--json", "--workspace", workspace)
    assert done.returncode == 0, done.stderr
    baselines = json.loads(done.stdout)["baselines"]
    for key in (
        "DriftCheckBaselines.ModelQuality.Constraints",
        "DriftCheckBaselines.Bias.PreTrainingConstraints",
        "DriftCheckBaselines.Bias.PostTrainingConstraints",
        "DriftCheckBaselines.Explainability.Constraints",
        "ModelMetrics.ModelQuality.Statistics",
    ):
        assert key in baselines, sorted(baselines)


def test_the_clarify_analyses_run_in_the_project_image_environment_like_the_jobs(
    warm_workspace: dict[str, Any],
) -> None:
    """The model is analysed in the lock it was trained in, by the jobs' interpreter."""
    execution = warm_workspace["execution"]["PipelineExecutionId"]
    folder = warm_workspace["workspace"] / "executions" / execution

    def interpreter(name: str) -> str:
        first = (folder / name / "job.log").read_text().splitlines()[0]
        assert first.startswith("$ "), first
        return first.split()[1]

    trained_with = interpreter("Train")
    for name in ("BaselineTrainingBias", "BaselineModelBias", "BaselineModelExplainability"):
        assert interpreter(name) == trained_with, name
