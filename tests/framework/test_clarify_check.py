"""ClarifyCheck: bias metrics, SHAP, the SDK's ClarifyCheckStep shape, local semantics."""

from __future__ import annotations

import copy
import io
import json
import math
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from definition_schema import schema_errors
from sagepipe import (
    BiasConfig,
    ClarifyCheck,
    DataBiasCheckConfig,
    DataConfig,
    GraphError,
    MetricsSource,
    ModelBiasCheckConfig,
    ModelExplainabilityCheckConfig,
    ModelMetrics,
    ModelPredictedLabelConfig,
    ParameterBoolean,
    ParameterString,
    Pipeline,
    RegisterModel,
    SHAPConfig,
    compile_pipeline,
)
from sagepipe.clarify import bias
from sagepipe.clarify.analysis import ConfigError, Dataset, analyse
from sagepipe.clarify.shap import kernel_shap
from sagepipe.local import execute
from sagepipe.registry import ModelRegistry

SDK = Path(__file__).resolve().parent / "sdk_v2" / "clarify"
BUCKET = "cc-bucket"
GROUP = "cc-models"
ROLE = "arn:aws:iam::111122223333:role/Role"

# -- the small table the metrics are checked on ---------------------------------------
# Facet d = rows 0-3 (sex == 1), facet a = rows 4-9.
#   labels     d: 1 0 0 0          a: 1 1 1 0 1 0
#   predicted  d: 1 1 0 0          a: 1 1 0 0 1 1
FACET = np.array([True] * 4 + [False] * 6)
LABEL = np.array([1, 0, 0, 0, 1, 1, 1, 0, 1, 0], dtype=bool)
PREDICTED = np.array([1, 1, 0, 0, 1, 1, 0, 0, 1, 1], dtype=bool)


def test_pre_training_metrics_match_the_hand_computed_values() -> None:
    g = bias.Groups(facet=FACET, label=LABEL)
    # n_a = 6, n_d = 4: CI = (6 - 4) / 10
    assert bias.ci(g) == pytest.approx(0.2)
    # q_a = 4/6, q_d = 1/4: DPL = 2/3 - 1/4 = 5/12
    assert bias.dpl(g) == pytest.approx(5 / 12)
    # Pa = (neg 1/3, pos 2/3), Pd = (3/4, 1/4)
    p_a, p_d = np.array([1 / 3, 2 / 3]), np.array([3 / 4, 1 / 4])
    assert bias.kl(g) == pytest.approx(1 / 3 * math.log(4 / 9) + 2 / 3 * math.log(8 / 3))
    p = (p_a + p_d) / 2  # (13/24, 11/24)
    js = 0.5 * (sum(p_a * np.log(p_a / p)) + sum(p_d * np.log(p_d / p)))
    assert bias.js(g) == pytest.approx(js)
    # |Pa - Pd| = (5/12, 5/12): LP = sqrt(2) 5/12, TVD = (5/12 + 5/12) / 2, KS = 5/12
    assert bias.lp(g) == pytest.approx(math.sqrt(2) * 5 / 12)
    assert bias.tvd(g) == pytest.approx(5 / 12)
    assert bias.ks(g) == pytest.approx(5 / 12)
    # One group: CDD = DD = d's share of negatives (3 of 5) - of positives (1 of 5)
    grouped = bias.Groups(facet=FACET, label=LABEL, group=np.array(["x"] * 10))
    assert bias.cdd(grouped) == pytest.approx(3 / 5 - 1 / 5)


def test_post_training_metrics_match_the_hand_computed_values() -> None:
    g = bias.Groups(facet=FACET, label=LABEL, predicted=PREDICTED)
    # confusion  d: TP 1, FP 1, FN 0, TN 2     a: TP 3, FP 1, FN 1, TN 1
    assert bias.METRICS["DPPL"](g) == pytest.approx(4 / 6 - 2 / 4)  # q^_a - q^_d
    assert bias.di(g) == pytest.approx((2 / 4) / (4 / 6))
    dca, dcr = bias.dca_dcr(g)
    assert dca == pytest.approx(4 / 4 - 1 / 2)  # c = n(1) / n^(1)
    assert dcr == pytest.approx(3 / 2 - 2 / 2)  # r_d - r_a, r = n(0) / n^(0)
    rd, sd = bias.rd_sd(g)
    assert rd == pytest.approx(3 / 4 - 1 / 1)  # recall_a - recall_d
    assert sd == pytest.approx(2 / 3 - 1 / 2)  # specificity_d - specificity_a
    dar, drr = bias.dar_drr(g)
    assert dar == pytest.approx(3 / 4 - 1 / 2)  # precision_a - precision_d
    assert drr == pytest.approx(2 / 2 - 1 / 2)  # TN_d / n^_d(0) - TN_a / n^_a(0)
    assert bias.ad(g) == pytest.approx(4 / 6 - 3 / 4)  # accuracy_a - accuracy_d
    assert bias.te(g) == pytest.approx(0 / 1 - 1 / 1)  # FN_d/FP_d - FN_a/FP_a


def test_flip_test_counts_flips_against_the_nearest_rows_of_the_other_facet() -> None:
    # d rows sit next to a rows; a's neighbours of d rows 0 and 1 are predicted positive.
    features = np.array([[0.0], [1.0], [10.0], [11.0], [0.1], [1.1], [10.1], [11.1]])
    facet = np.array([True] * 4 + [False] * 4)
    predicted = np.array([0, 0, 0, 1, 1, 1, 0, 0], dtype=bool)
    g = bias.Groups(
        facet=facet, label=predicted, predicted=predicted, features=features
    )  # <= 10 rows in a: 1 neighbour, as smclarify
    # d0, d1 flip up (F+ = 2), d3 flips down (F- = 1): FT = (2 - 1) / 4
    assert bias.ft(g) == pytest.approx(0.25)


def test_flip_test_on_many_rows_matches_comparing_every_pair() -> None:
    """The tree search finds the neighbours an all-pairs comparison finds."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(600, 3))
    facet = rng.random(600) < 0.4
    predicted = features[:, 0] + 0.3 * rng.normal(size=600) > 0
    g = bias.Groups(facet=facet, label=predicted, predicted=predicted, features=features)
    x_a, y_a = features[~facet], predicted[~facet]
    up = down = 0
    for row, own in zip(features[facet], predicted[facet], strict=True):
        nearest = np.argsort(np.sum((x_a - row) ** 2, axis=1))[: bias.FT_NEIGHBOURS]
        as_a = y_a[nearest].sum() * 2 > bias.FT_NEIGHBOURS
        up += int(as_a and not own)
        down += int(own and not as_a)
    assert bias.ft(g) == pytest.approx((up - down) / facet.sum())
    assert up + down > 0  # the data does flip some rows: the comparison means something


def test_metrics_that_cannot_be_computed_are_reported_with_the_reason() -> None:
    entries = bias.report(["CDDL", "CI"], bias.Groups(facet=FACET, label=LABEL))
    assert entries[0] == {
        "name": "CDDL",
        "description": "Conditional Demographic Disparity in Labels (CDDL)",
        "value": None,
        "error": "Group variable is empty or not provided (set group_name)",
    }
    assert entries[1]["value"] == pytest.approx(0.2)


def test_shap_values_add_up_to_prediction_minus_expected_value() -> None:
    rng = np.random.default_rng(0)
    rows, baseline = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))

    def model(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return 1 / (1 + np.exp(-(x @ [1.0, -2.0, 0.5, 0.0] + x[:, 0] * x[:, 1])))

    for samples in (None, 8):  # exact (all 14 coalitions) and sampled kernel SHAP
        shap = kernel_shap(model, rows, baseline, num_samples=samples, seed=1)
        assert shap.expected_value == pytest.approx(model(baseline).mean())
        np.testing.assert_allclose(shap.values.sum(axis=1), model(rows) - shap.expected_value)


def test_exact_shap_of_a_linear_model_is_weight_times_distance_to_the_baseline() -> None:
    rows = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])
    baseline = np.array([[0.5, 0.5, 0.5]])
    weights = np.array([2.0, -1.0, 0.25])
    shap = kernel_shap(lambda x: np.asarray(x, dtype=float) @ weights, rows, baseline)
    np.testing.assert_allclose(shap.values, (rows - baseline) * weights, atol=1e-9)
    # An unused feature gets nothing.
    assert shap.global_mean_abs()[2] == pytest.approx(np.mean(np.abs(rows[:, 2] - 0.5)) * 0.25)


# -- data and model of the step tests --------------------------------------------------
def frame(seed: int = 0, *, flip_facet_labels: bool = False, rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    sex = rng.integers(0, 2, rows)
    label = ((x1 + 0.5 * x2 + 0.8 * sex + rng.normal(scale=0.3, size=rows)) > 0.4).astype(int)
    if flip_facet_labels:
        label = np.where(sex == 1, 0, label)
    return pd.DataFrame({"label": label, "x1": x1.round(4), "x2": x2.round(4), "sex": sex})


INFERENCE = """
import numpy as np


def predict_fn(data, model):
    probability = model.predict_proba(np.asarray(data, dtype=float))[:, 1]
    return np.column_stack([(probability >= 0.5).astype(int), probability])
"""


def write_model(workspace: Path, data: pd.DataFrame) -> str:
    model = LogisticRegression().fit(data[["x1", "x2", "sex"]].to_numpy(), data["label"])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    archive = workspace / "s3" / BUCKET / "model" / "model.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in (
            ("model.joblib", buffer.getvalue()),
            ("code/inference.py", INFERENCE.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return f"s3://{BUCKET}/model/model.tar.gz"


def write_data(workspace: Path, name: str, data: pd.DataFrame) -> str:
    path = workspace / "s3" / BUCKET / "data" / name / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    data.to_csv(path, index=False)
    return f"s3://{BUCKET}/data/{name}"


def definition(*, facet: str = "sex", num_samples: int = 20, **options) -> dict:
    dataset = ParameterString("Dataset", default=f"s3://{BUCKET}/data/train")
    skip = ParameterBoolean("SkipCheck", default=True)
    register_new = ParameterBoolean("RegisterNewBaseline", default=True)
    model = f"s3://{BUCKET}/model/model.tar.gz"
    flags = dict(
        skip_check=skip, register_new_baseline=register_new, model_package_group_name=GROUP
    )
    flags.update(options)
    sex = BiasConfig(label_values_or_threshold=[1], facet_name=facet, facet_values_or_threshold=[1])
    data_bias = ClarifyCheck(
        "DataBias", DataBiasCheckConfig(DataConfig(dataset, label="label"), sex), **flags
    )
    model_bias = ClarifyCheck(
        "ModelBias",
        ModelBiasCheckConfig(
            DataConfig(dataset, label="label"),
            sex,
            model=model,
            model_predicted_label_config=ModelPredictedLabelConfig(label=0),
        ),
        **flags,
    )
    explain = ClarifyCheck(
        "Explain",
        ModelExplainabilityCheckConfig(
            DataConfig(dataset, label="label"),
            model=model,
            explainability_config=SHAPConfig(num_samples=num_samples, seed=0),
            model_scores=1,
        ),
        **flags,
    )
    register = RegisterModel(
        "Register",
        model=model,
        group=GROUP,
        approval_status="Approved",
        image_uri="image:latest",
        metrics=ModelMetrics(
            bias_pre_training=MetricsSource(data_bias.calculated_baseline_constraints),
            bias_post_training=MetricsSource(model_bias.calculated_baseline_constraints),
            explainability=MetricsSource(explain.calculated_baseline_constraints),
        ),
        drift_check_baselines=ModelMetrics(
            bias_pre_training=MetricsSource(data_bias.baseline_used_for_drift_check_constraints),
            bias_post_training=MetricsSource(model_bias.baseline_used_for_drift_check_constraints),
            explainability=MetricsSource(explain.baseline_used_for_drift_check_constraints),
        ),
    )
    pipeline = Pipeline(
        "cc",
        parameters=[dataset, skip, register_new],
        steps=[data_bias, model_bias, explain, register],
    )
    compiled = compile_pipeline(pipeline, bucket=BUCKET, role=ROLE, image_uri="image:latest")
    return json.loads(compiled.to_json()), compiled


def run(workspace: Path, definition_and_compiled, **kwargs):
    doc, compiled = definition_and_compiled
    for uri, body in compiled.artifacts.items():  # what `sagepipe run` publishes
        target = workspace / "s3" / uri.removeprefix("s3://")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    # As on SageMaker, every check that is ready starts: with fewer workers than checks,
    # one check's failure would keep the others (whose failures these tests read) from
    # starting, and which one starts first depends on the last run's durations.
    kwargs.setdefault("max_workers", 3)
    return execute(doc, workspace=workspace, **kwargs)


def read(workspace: Path, uri: str) -> dict:
    return json.loads((workspace / "s3" / uri.removeprefix("s3://")).read_text())


# -- the SDK's shape -------------------------------------------------------------------
def sdk_steps() -> dict[str, dict]:
    doc = json.loads((SDK / "definition.json").read_text())
    return {s["Name"]: s for s in doc["Steps"]}


def sdk_config(step: dict) -> dict:
    uri = step["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    return json.loads((SDK / "s3" / uri.removeprefix("s3://")).read_text())


def _ours_like_the_sdk_example() -> dict[str, dict]:
    """The example's three checks written with our API, on the same image and outputs."""
    from sagepipe import ExecutionVariables, Join

    train = ParameterString("Train", default="s3://sdk-v2-bucket/train")
    image = sdk_steps()["DataBiasCheckStep"]["Arguments"]["AppSpecification"]["ImageUri"]

    def data(step: str) -> DataConfig:
        out = Join(
            on="/",
            values=["s3:/", "sdk-v2-bucket", "model-monitor-clarify",
                    ExecutionVariables.PIPELINE_EXECUTION_ID, step],
        )  # fmt: skip
        return DataConfig(train, label=0, s3_output_path=out)

    group = "model-monitor-clarify-group"
    flags = {}
    for check in ("DataBias", "ModelBias", "ModelExplainability"):
        flags[check] = dict(
            skip_check=ParameterBoolean(f"Skip{check}Check", default=False),
            register_new_baseline=ParameterBoolean(f"RegisterNew{check}Baseline", default=False),
            supplied_baseline_constraints=ParameterString(
                f"{check}SuppliedBaselineConstraints", default=""
            ),
            model_package_group_name=group,
            image_uri=image,
            instance_type="ml.c5.xlarge",
            volume_size_gb=120,
        )
    sex = BiasConfig(
        label_values_or_threshold=[15.0], facet_name=8, facet_values_or_threshold=[0.5]
    )
    model = "s3://sdk-v2-bucket/model.tar.gz"
    steps = [
        ClarifyCheck("DataBiasCheckStep", DataBiasCheckConfig(data("databiascheckstep"), sex),
                     **flags["DataBias"]),
        ClarifyCheck("ModelBiasCheckStep",
                     ModelBiasCheckConfig(data("modelbiascheckstep"), sex, model=model),
                     **flags["ModelBias"]),
        ClarifyCheck("ModelExplainabilityCheckStep",
                     ModelExplainabilityCheckConfig(data("modelexplainabilitycheckstep"),
                                                    model=model,
                                                    explainability_config=SHAPConfig(
                                                        num_samples=10, seed=123)),
                     **flags["ModelExplainability"]),
    ]  # fmt: skip
    declared = [train] + [
        flag[key]
        for flag in flags.values()
        for key in ("skip_check", "register_new_baseline", "supplied_baseline_constraints")
    ]
    compiled = compile_pipeline(
        Pipeline("ours", parameters=declared, steps=steps), bucket="sdk-v2-bucket", role=ROLE
    )
    doc = json.loads(compiled.to_json())
    out = {}
    for step in doc["Steps"]:
        uri = step["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
        step["_config"] = json.loads(compiled.artifacts[uri])
        out[step["Name"]] = step
    return out


def _comparable(step: dict) -> dict:
    """A step without what differs on purpose (documented in clarify_check.py)."""
    step = copy.deepcopy(step)
    step.pop("_config", None)
    step.pop("ModelName", None)  # ours: a 'model' input instead of a SageMaker model
    step.pop("FailOnViolation", None)  # ours: written only when not the default True
    args = step["Arguments"]
    args.pop("StoppingCondition", None)
    inputs = [i for i in args["ProcessingInputs"] if i["InputName"] != "model"]
    inputs[0]["S3Input"]["S3Uri"] = "<analysis_config.json>"
    inputs[1]["S3Input"]["S3Uri"] = "<dataset>"
    args["ProcessingInputs"] = inputs
    args["RoleArn"] = "<role>"
    return step


def test_compiles_to_the_shape_the_sdk_emits_for_clarify_check_step() -> None:
    sdk, ours = sdk_steps(), _ours_like_the_sdk_example()
    for name in ("DataBiasCheckStep", "ModelBiasCheckStep", "ModelExplainabilityCheckStep"):
        assert sdk[name]["FailOnViolation"] is True  # what ours leaves implicit
        theirs = _comparable(sdk[name])
        for key in ("SkipCheck", "RegisterNewBaseline", "SuppliedBaselineConstraints"):
            theirs[key] = {"Get": theirs[key]["Get"]}
        assert _comparable(ours[name]) == theirs
    # The analysis configs are the SDK's too, but for the shadow endpoint's instance keys.
    assert ours["DataBiasCheckStep"]["_config"] == sdk_config(sdk["DataBiasCheckStep"])
    for name in ("ModelBiasCheckStep", "ModelExplainabilityCheckStep"):
        expected = sdk_config(sdk[name])
        expected["predictor"] = {}
        assert ours[name]["_config"] == expected
    inputs = ours["ModelBiasCheckStep"]["Arguments"]["ProcessingInputs"]
    assert [i["InputName"] for i in inputs] == ["analysis_config", "dataset", "model"]


def test_register_model_records_bias_and_explainability_like_the_sdk() -> None:
    sdk = next(s for s in json.loads((SDK / "definition.json").read_text())["Steps"]
               if s["Type"] == "RegisterModel")["Arguments"]  # fmt: skip
    doc, _ = definition()
    ours = doc["Steps"][-1]["Arguments"]
    assert sorted(ours["ModelMetrics"]["Bias"]) == sorted(sdk["ModelMetrics"]["Bias"])
    assert sorted(ours["ModelMetrics"]["Explainability"]) == ["Report"]
    assert ours["ModelMetrics"]["Bias"]["PreTrainingReport"]["S3Uri"] == {
        "Get": "Steps.DataBias.CalculatedBaselineConstraints"
    }
    drift = ours["DriftCheckBaselines"]
    assert set(drift["Bias"]) == set(sdk["DriftCheckBaselines"]["Bias"]) - {"ConfigFile"}
    assert drift["Explainability"]["Constraints"]["S3Uri"] == {
        "Get": "Steps.Explain.BaselineUsedForDriftCheckConstraints"
    }


def test_compiled_definition_validates_against_the_public_schema_but_its_bias_gap() -> None:
    # The public schema's ModelMetrics.Bias knows only "Report"; the SageMaker API and the
    # SDK (see sdk_v2/clarify/definition.json) use PreTrainingReport/PostTrainingReport.
    errors = schema_errors(definition()[0])
    assert [e for e in errors if "PreTrainingReport" not in e] == [
        e for e in errors if e.startswith("['Steps', 3]: {")
    ]
    assert any("'PostTrainingReport', 'PreTrainingReport' were unexpected" in e for e in errors)
    clarify_steps = {**definition()[0], "Steps": definition()[0]["Steps"][:3]}
    assert schema_errors(clarify_steps) == []


# -- running locally -------------------------------------------------------------------
def test_first_run_computes_analysis_and_registers_it(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition())
    assert execution.status == "Succeeded", execution.failure_reason
    package = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1)
    pre_uri = package.model_metrics["Bias"]["PreTrainingReport"]["S3Uri"]
    assert pre_uri.endswith("/DataBias/output/analysis.json")
    assert package.drift_check_baselines["Bias"]["PreTrainingConstraints"]["S3Uri"] == pre_uri
    pre = read(tmp_path, pre_uri)["pre_training_bias_metrics"]
    assert pre["label"] == "label" and pre["label_value_or_threshold"] == "1"
    metrics = {m["name"]: m for m in pre["facets"]["sex"][0]["metrics"]}
    assert sorted(metrics) == sorted(bias.PRE_TRAINING)
    d = data["sex"] == 1
    assert metrics["CI"]["value"] == pytest.approx(((~d).sum() - d.sum()) / len(data))
    assert metrics["DPL"]["value"] == pytest.approx(
        data["label"][~d].mean() - data["label"][d].mean()
    )
    post = read(tmp_path, package.model_metrics["Bias"]["PostTrainingReport"]["S3Uri"])
    post_metrics = {
        m["name"]: m for m in post["post_training_bias_metrics"]["facets"]["sex"][0]["metrics"]
    }
    assert isinstance(post_metrics["DPPL"]["value"], float)
    assert isinstance(post_metrics["FT"]["value"], float)
    explain_uri = package.model_metrics["Explainability"]["Report"]["S3Uri"]
    shap = read(tmp_path, explain_uri)["explanations"]["kernel_shap"]["label0"]
    assert sorted(shap["global_shap_values"]) == ["sex", "x1", "x2"]
    assert shap["global_shap_values"]["x1"] > shap["global_shap_values"]["x2"] > 0
    folder = tmp_path / "s3" / explain_uri.removeprefix("s3://").rsplit("/", 1)[0]
    local = pd.read_csv(folder / "explanations_shap" / "out.csv")
    assert list(local.columns) == ["x1", "x2", "sex"] and len(local) == len(data)
    assert "<h1>Analysis Report</h1>" in (folder / "report.html").read_text()


def test_check_against_the_approved_baseline_fails_on_bias_drift_and_passes_clean(
    tmp_path: Path,
) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    assert run(tmp_path, definition()).status == "Succeeded"
    checking = {"SkipCheck": "false", "RegisterNewBaseline": "false"}
    write_data(tmp_path, "clean", data)
    clean = run(
        tmp_path, definition(), parameters={**checking, "Dataset": f"s3://{BUCKET}/data/clean"}
    )
    assert clean.status == "Succeeded", clean.failure_reason
    assert clean.steps["DataBias"].properties["ViolationCount"] == 0
    # RegisterNewBaseline=false: the baseline used is the one checked against.
    first = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1)
    assert (
        clean.steps["DataBias"].properties["BaselineUsedForDriftCheckConstraints"]
        == (first.drift_check_baselines["Bias"]["PreTrainingConstraints"]["S3Uri"])
    )
    write_data(tmp_path, "biased", frame(flip_facet_labels=True))
    biased = run(
        tmp_path, definition(), parameters={**checking, "Dataset": f"s3://{BUCKET}/data/biased"}
    )
    assert biased.status == "Failed"
    reason = biased.steps["DataBias"].failure_reason or ""
    assert "bias_drift_check violation(s)" in reason and "constraint_violations.json" in reason
    assert biased.steps["Register"].status == "NotExecuted"


def test_fail_on_violation_off_and_supplied_baseline(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    assert run(tmp_path, definition()).status == "Succeeded"
    baseline = ModelRegistry.for_workspace(tmp_path).describe(GROUP, 1).drift_check_baselines
    supplied = baseline["Bias"]["PreTrainingConstraints"]["S3Uri"]
    write_data(tmp_path, "biased", frame(flip_facet_labels=True))
    doc, compiled = definition(fail_on_violation=False, supplied_baseline_constraints=supplied)
    assert doc["Steps"][0]["FailOnViolation"] is False
    doc["Steps"] = doc["Steps"][:1]
    execution = run(
        tmp_path, (doc, compiled),
        parameters={"SkipCheck": "false", "RegisterNewBaseline": "false",
                    "Dataset": f"s3://{BUCKET}/data/biased"},
    )  # fmt: skip
    assert execution.status == "Succeeded", execution.failure_reason
    props = execution.steps["DataBias"].properties
    assert props["ViolationCount"] > 0 and props["BaselineUsedForDriftCheckConstraints"] == supplied
    out = props["CalculatedBaselineConstraints"].rsplit("/", 1)[0] + "/constraint_violations.json"
    violations = read(tmp_path, out)["violations"]
    assert {v["metric_name"] for v in violations} >= {"DPL"}
    assert all(
        v["facet"] == "sex" and v["constraint_check_type"] == "bias_drift_check" for v in violations
    )


def test_cached_checks_are_reused_until_their_data_changes_never_against_the_registry(
    tmp_path: Path,
) -> None:
    from sagepipe import CacheConfig

    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    cached = definition(cache=CacheConfig(enabled=True))
    first, second = run(tmp_path, cached), run(tmp_path, cached)
    assert first.status == second.status == "Succeeded", second.failure_reason
    names = ("DataBias", "ModelBias", "Explain")
    assert not any(first.steps[n].cache_hit for n in names)
    assert all(second.steps[n].cache_hit for n in names)
    assert (
        second.steps["Explain"].properties["CalculatedBaselineConstraints"]
        == first.steps["Explain"].properties["CalculatedBaselineConstraints"]
    )
    write_model(tmp_path, data.assign(label=1 - data["label"]))  # a different model
    third = run(tmp_path, cached)
    assert third.steps["DataBias"].cache_hit
    assert not third.steps["ModelBias"].cache_hit and not third.steps["Explain"].cache_hit
    # Checked against the latest Approved version: which one that is can change.
    checking = run(tmp_path, cached, parameters={"SkipCheck": "false"})
    assert checking.status == "Succeeded", checking.failure_reason
    assert not any(checking.steps[n].cache_hit for n in names)


def test_a_cached_check_is_recomputed_when_the_engine_code_that_computes_it_changes(
    tmp_path: Path,
) -> None:
    import shutil
    import subprocess
    import sys

    import sagepipe
    from sagepipe import CacheConfig

    workspace = tmp_path / "ws"
    data = frame()
    write_data(workspace, "train", data)
    write_model(workspace, data)
    doc, compiled = definition(cache=CacheConfig(enabled=True))
    assert run(workspace, (doc, compiled)).status == "Succeeded"
    (tmp_path / "definition.json").write_text(json.dumps(doc))
    # The same engine, as a `cruft update` would leave it before and after a change.
    engine = tmp_path / "engine"
    shutil.copytree(
        Path(sagepipe.__file__).parent,
        engine / "sagepipe",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from sagepipe.local import execute; "
        "e = execute(json.load(open(sys.argv[2])), workspace=sys.argv[3]); "
        "print(json.dumps([e.status, {n: s.cache_hit for n, s in e.steps.items()}]))"
    )

    def hits() -> dict[str, bool]:
        argv = [sys.executable, "-c", script, str(engine), str(tmp_path / "definition.json")]
        done = subprocess.run([*argv, str(workspace)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        status, found = json.loads(done.stdout.splitlines()[-1])
        assert status == "Succeeded", done.stderr
        return found

    names = ("DataBias", "ModelBias", "Explain")
    assert all(hits()[n] for n in names)  # same engine code: the entries are reused
    analysis = engine / "sagepipe" / "clarify" / "analysis.py"
    analysis.write_text(analysis.read_text() + "\n# an engine update\n")
    after = hits()
    assert not any(after[n] for n in names), after


def test_the_analyses_run_in_the_project_image_environment_when_there_is_one(
    tmp_path: Path,
) -> None:
    """The lock the model was trained in analyses it, not the executor's own packages."""
    import importlib.metadata
    import sys

    from sagepipe import runtimes

    installed = importlib.metadata.version
    pins = [
        f"{name}=={installed(name)}"
        for name in ("numpy", "scipy", "pandas", "python-dateutil", "six", "joblib", "scikit-learn")
    ]
    # One pin this interpreter does not have, so the project image's environment is a
    # separate one (built by uv from its cache) rather than this interpreter itself.
    lock = tmp_path / "requirements.lock"
    lock.write_text("\n".join([*pins, "threadpoolctl==3.7.0"]) + "\n")
    resolver = runtimes.RuntimeResolver(project_repository="churn-model", lock_file=lock)
    environment = resolver.project_environment()
    assert environment is not None and str(environment.python) != sys.executable

    workspace = tmp_path / "ws"
    data = frame()
    write_data(workspace, "train", data)
    write_model(workspace, data)
    execution = run(workspace, definition(), runtimes=resolver)
    assert execution.status == "Succeeded", execution.failure_reason
    for name in ("DataBias", "ModelBias", "Explain"):
        log = (workspace / "executions" / execution.id / name / "job.log").read_text()
        assert log.startswith(f"$ {environment.python} -m sagepipe.local.clarify_job"), log


def test_independent_checks_run_at_the_same_time(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition(num_samples=200), max_workers=3)
    assert execution.status == "Succeeded", execution.failure_reason
    bias, explain = execution.steps["ModelBias"], execution.steps["Explain"]
    # On worker threads, not the scheduler's: the explainability check (after the bias
    # check in the definition) starts before the bias check has ended.
    assert explain.started is not None and bias.ended is not None
    assert explain.started < bias.ended, (bias.started, bias.ended, explain.started)


def test_each_analysis_runs_as_its_own_job_process_with_its_log(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition())
    assert execution.status == "Succeeded", execution.failure_reason
    for name in ("DataBias", "ModelBias", "Explain"):
        log = (tmp_path / "executions" / execution.id / name / "job.log").read_text()
        # A job of this interpreter (a warm fork on Linux): the model is loaded there,
        # and two analyses use two cores instead of the executor's interpreter lock.
        assert log.startswith("$ ") and " -m sagepipe.local.clarify_job " in log.splitlines()[0]
    assert not list((tmp_path / "executions" / execution.id).glob("cc-*"))  # sandboxes gone


def test_kept_sandboxes_keep_the_analysis_job_runnable_again(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition(), keep_sandboxes=True)
    assert execution.status == "Succeeded", execution.failure_reason
    # The benchmark's baseline replays each job's command line in its folder.
    (kept,) = (tmp_path / "executions" / execution.id).glob("cc-ModelBias-*")
    spec = json.loads((kept / "clarify.json").read_text())
    assert Path(spec["config"]).is_dir() and Path(spec["data"]).is_dir()
    assert (Path(spec["output"]) / "analysis.json").is_file()


def test_a_failing_analysis_job_names_its_log(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition(facet="gender"))
    reason = execution.steps["ModelBias"].failure_reason or ""
    assert reason.startswith("step ModelBias: clarify: facet column 'gender' is not in the")
    assert reason.endswith(f"(log: {tmp_path / 'executions' / execution.id / 'ModelBias'}/job.log)")


def test_no_baseline_to_check_against_fails_with_the_fix(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition(), parameters={"SkipCheck": "false"})
    assert execution.status == "Failed"
    assert "run it with SkipCheck=True and RegisterNewBaseline=True first" in (
        execution.steps["DataBias"].failure_reason or ""
    )


def test_unknown_facet_column_fails_the_step_in_one_line(tmp_path: Path) -> None:
    data = frame()
    write_data(tmp_path, "train", data)
    write_model(tmp_path, data)
    execution = run(tmp_path, definition(facet="gender"))
    reason = execution.steps["DataBias"].failure_reason or ""
    assert execution.status == "Failed" and "\n" not in reason
    assert "facet column 'gender' is not in the dataset (columns: label, x1, x2, sex)" in reason


def test_label_value_not_present_is_refused() -> None:
    data = Dataset(pd.DataFrame({"y": [0, 1, 0], "f": ["a", "b", "a"]}), "y", ["f"])
    config = {
        "label_values_or_threshold": ["yes"],
        "facet": [{"name_or_index": "f", "value_or_threshold": ["a"]}],
        "methods": {"pre_training_bias": {"methods": "all"}},
    }
    with pytest.raises(ConfigError, match=r"label value\(s\) \['yes'\] not present in column 'y'"):
        analyse(config, data)


def test_bad_configs_fail_where_the_graph_is_built() -> None:
    data = DataConfig("s3://b/train", label="y")
    with pytest.raises(GraphError, match="num_samples=0 must be a positive integer"):
        ClarifyCheck(
            "Bad",
            ModelExplainabilityCheckConfig(
                data, model="s3://b/m.tar.gz", explainability_config=SHAPConfig(num_samples=0)
            ),
        )
    with pytest.raises(GraphError, match="must be a non-empty list"):
        ClarifyCheck("Bad", DataBiasCheckConfig(data, BiasConfig([], facet_name="f")))
    with pytest.raises(GraphError, match=r"\['XX'\] not among"):
        ClarifyCheck(
            "Bad", DataBiasCheckConfig(data, BiasConfig([1], facet_name="f"), methods=["XX"])
        )
    with pytest.raises(GraphError, match="must be a DataBiasCheckConfig"):
        ClarifyCheck("Bad", config="s3://x/y")  # type: ignore[arg-type]


def test_the_sdks_data_bias_step_runs_locally(tmp_path: Path) -> None:
    """The real SDK's DataBiasCheckStep (headerless, label index 0, facet index 8)."""
    step = copy.deepcopy(sdk_steps()["DataBiasCheckStep"])
    rng = np.random.default_rng(3)
    rows = 300
    # Column 0 the label, 1-7 features, 8 the one-hot facet (the example's "sex" column).
    table = pd.DataFrame(rng.normal(size=(rows, 7)).round(3))
    table.insert(0, "rings", rng.integers(5, 25, rows).astype(float))
    table["facet"] = rng.integers(0, 2, rows).astype(float)
    path = tmp_path / "s3" / "sdk-v2-bucket" / "train" / "train.csv"
    path.parent.mkdir(parents=True)
    table.to_csv(path, header=False, index=False)
    config_uri = step["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    target = tmp_path / "s3" / config_uri.removeprefix("s3://")
    target.parent.mkdir(parents=True)
    target.write_bytes((SDK / "s3" / config_uri.removeprefix("s3://")).read_bytes())
    step["Arguments"]["ProcessingInputs"][1]["S3Input"]["S3Uri"] = "s3://sdk-v2-bucket/train"
    doc = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "SkipDataBiasCheck", "Type": "Boolean", "DefaultValue": True},
            {"Name": "RegisterNewDataBiasBaseline", "Type": "Boolean", "DefaultValue": True},
            {"Name": "DataBiasSuppliedBaselineConstraints", "Type": "String", "DefaultValue": ""},
        ],
        "Steps": [step],
    }
    execution = execute(doc, workspace=tmp_path)
    assert execution.status == "Succeeded", execution.failure_reason
    uri = execution.steps["DataBiasCheckStep"].properties["CalculatedBaselineConstraints"]
    assert uri.endswith("/databiascheckstep/analysis.json")
    result = read(tmp_path, uri)["pre_training_bias_metrics"]
    # Label threshold 15.0 and facet threshold 0.5, as Clarify reads single numeric values.
    assert result["label_value_or_threshold"] == "15.0"
    [split] = result["facets"]["8"]
    assert split["value_or_threshold"] == "0.5"
    d, positive = table["facet"] > 0.5, table["rings"] > 15.0
    ci = next(m["value"] for m in split["metrics"] if m["name"] == "CI")
    assert ci == pytest.approx(((~d).sum() - d.sum()) / rows)
    dpl = next(m["value"] for m in split["metrics"] if m["name"] == "DPL")
    assert dpl == pytest.approx(positive[~d].mean() - positive[d].mean())


def test_the_sdk_clarify_example_runs_end_to_end_on_aws_images(tmp_path: Path) -> None:
    """The SDK's whole definition: SKLearn preprocessing, XGBoost training, CreateModel,
    the three ClarifyCheck steps (the model served by the XGBoost image's handler) and
    RegisterModel with Bias and Explainability; then a second run checks against them."""
    import shutil

    from sagepipe import runtimes
    from sagepipe.local import namespace

    if not namespace.available()[0]:
        pytest.skip("the preprocess script builds /opt/ml paths at run time: needs a namespace")
    workspace = tmp_path / "ws"
    shutil.copytree(SDK / "s3", workspace / "s3")
    rng = np.random.default_rng(5)
    rows = 240
    raw = pd.DataFrame(rng.normal(size=(rows, 7)).round(3), columns=[f"f{i}" for i in range(7)])
    raw["sex"] = rng.integers(0, 2, rows).astype(float)
    raw.insert(0, "rings", (10 + 4 * raw["f0"] + 3 * raw["sex"]).round(1))
    (workspace / "s3" / "sdk-v2-bucket" / "raw").mkdir(parents=True)
    raw.to_csv(workspace / "s3" / "sdk-v2-bucket" / "raw" / "data.csv", index=False)
    first_run = {
        f"{flag}{check}{suffix}": "true"
        for check in ("DataBias", "ModelBias", "ModelExplainability")
        for flag, suffix in (("Skip", "Check"), ("RegisterNew", "Baseline"))
    }
    resolver = runtimes.RuntimeResolver()
    first = execute(
        SDK / "definition.json", workspace=workspace, runtimes=resolver, parameters=first_run
    )
    assert first.status == "Succeeded", first.failure_reason
    package = ModelRegistry.for_workspace(workspace).describe("model-monitor-clarify-group", 1)
    bias_block = package.model_metrics["Bias"]
    post = read(workspace, bias_block["PostTrainingReport"]["S3Uri"])
    [split] = post["post_training_bias_metrics"]["facets"]["8"]
    assert {m["name"] for m in split["metrics"]} == set(bias.POST_TRAINING)
    shap_uri = package.model_metrics["Explainability"]["Report"]["S3Uri"]
    shap = read(workspace, shap_uri)["explanations"]["kernel_shap"]["label0"]
    # rings depends on f0 (column 1) and the facet (column 8); with the example's 10
    # sampled coalitions per row the ranking below the facet is noisy.
    values = shap["global_shap_values"]
    assert sorted(values) == [str(i) for i in range(1, 9)]
    assert "8" in sorted(values, key=values.get)[-2:]
    assert package.drift_check_baselines["Explainability"]["ConfigFile"]["S3Uri"].endswith(
        "analysis_config.json"
    )
    second = execute(SDK / "definition.json", workspace=workspace, runtimes=resolver)
    assert second.status == "Succeeded", second.failure_reason
    for name in ("DataBiasCheckStep", "ModelBiasCheckStep", "ModelExplainabilityCheckStep"):
        props = second.steps[name].properties
        assert props["ViolationCount"] == 0 and props["SkipCheck"] is False
