"""Model Monitor's files: baselines, violations and model quality over captured traffic."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sagepipe.monitor import profile as profiles
from sagepipe.monitor.baseline import baseline
from sagepipe.monitor.container import run as run_job
from sagepipe.monitor.job import monitor
from sagepipe.serving.capture import CaptureWriter, record

FEATURES = ["age", "income", "plan", "visits"]
PLANS = ["basic", "plus", "pro"]


def table(rows: int, seed: int, *, income_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": np.round(rng.normal(50_000 + income_shift, 8_000, rows), 2),
            "plan": rng.choice(PLANS, rows, p=[0.5, 0.3, 0.2]),
            "visits": rng.poisson(3, rows),
            "label": rng.integers(0, 2, rows),
        }
    )
    frame.loc[rng.random(rows) < 0.01, "age"] = np.nan
    return frame


def write_capture(root: Path, frame: pd.DataFrame, *, columns=FEATURES, prefix="e") -> None:
    writer = CaptureWriter(root, "ep")
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for i, row in enumerate(frame[columns].itertuples(index=False)):
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["" if pd.isna(v) else v for v in row])
        reply = {"predictions": [{"label": int(frame["label"].iloc[i]), "probability": 0.9}]}
        writer.write(
            "AllTraffic",
            record(
                event_id=f"{prefix}{i}",
                request=buffer.getvalue().encode(),
                request_type="text/csv",
                response=json.dumps(reply).encode(),
                response_type="application/json",
                latency_ms=1.0,
                when=when + timedelta(seconds=i),
            ),
            when,
        )
    writer.close()


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    train = table(4000, seed=1)
    train.to_csv(tmp_path / "train.csv", index=False)
    baseline(tmp_path / "train.csv", tmp_path / "baseline", exclude=["label"])
    return tmp_path / "baseline"


def run(base: Path, capture: Path, out: Path, **kw):
    return monitor(
        capture / "ep" / "AllTraffic",
        base / "statistics.json",
        base / "constraints.json",
        out,
        **kw,
    )


def test_baseline_statistics_follow_model_monitor_layout_and_values(tmp_path, base):
    stats = json.loads((base / "statistics.json").read_text())
    frame = pd.read_csv(tmp_path / "train.csv")
    assert stats["version"] == 0.0
    assert stats["dataset"] == {"item_count": 4000}
    by_name = {f["name"]: f for f in stats["features"]}
    assert list(by_name) == FEATURES  # the excluded label is not baselined
    income = by_name["income"]
    assert income["inferred_type"] == "Fractional"
    numeric = income["numerical_statistics"]
    assert set(numeric) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert numeric["mean"] == pytest.approx(frame["income"].mean())
    assert numeric["std_dev"] == pytest.approx(frame["income"].std(ddof=0))
    assert numeric["min"] == frame["income"].min() and numeric["max"] == frame["income"].max()
    kll = numeric["distribution"]["kll"]
    assert set(kll["sketch"]["parameters"]) == {"c", "k"}
    assert len(kll["sketch"]["data"][0]) == profiles.SKETCH_SIZE
    assert len(kll["buckets"]) == profiles.BUCKETS
    assert {"lower_bound", "upper_bound", "count"} == set(kll["buckets"][0])
    assert sum(b["count"] for b in kll["buckets"]) == pytest.approx(4000)
    age = by_name["age"]["numerical_statistics"]["common"]
    assert age["num_missing"] == frame["age"].isna().sum()
    assert age["num_present"] == frame["age"].notna().sum()
    assert by_name["visits"]["inferred_type"] == "Integral"
    plan = by_name["plan"]
    assert plan["inferred_type"] == "String"
    counts = {
        b["value"]: b["count"]
        for b in plan["string_statistics"]["distribution"]["categorical"]["buckets"]
    }
    assert counts == frame["plan"].value_counts().to_dict()
    assert plan["string_statistics"]["distinct_count"] == 3.0


def test_suggested_constraints_follow_model_monitor_layout(base):
    constraints = json.loads((base / "constraints.json").read_text())
    by_name = {f["name"]: f for f in constraints["features"]}
    assert by_name["plan"]["string_constraints"]["domains"] == PLANS
    assert by_name["income"]["num_constraints"] == {"is_non_negative": True}
    assert 0.9 < by_name["age"]["completeness"] < 1.0
    config = constraints["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled"
    assert set(config["distribution_constraints"]) == {
        "perform_comparison",
        "comparison_threshold",
        "comparison_method",
        "categorical_comparison_threshold",
        "categorical_drift_method",
    }


def test_clean_traffic_gives_no_violation(tmp_path, base):
    write_capture(tmp_path / "capture", table(800, seed=2))
    result = run(base, tmp_path / "capture", tmp_path / "out", html=True)
    assert result.events == 800 and result.rows == 800
    assert result.violations == []
    assert all(not d.drifted for d in result.drifts)
    assert json.loads((tmp_path / "out" / "constraint_violations.json").read_text()) == {
        "violations": []
    }
    assert "no violations" in (tmp_path / "out" / "report.html").read_text()


def test_drift_injected_in_one_feature_is_reported_on_that_feature(tmp_path, base):
    write_capture(tmp_path / "capture", table(800, seed=2, income_shift=6_000))
    result = run(base, tmp_path / "capture", tmp_path / "out", html=True)
    assert [(v["feature_name"], v["constraint_check_type"]) for v in result.violations] == [
        ("income", "baseline_drift_check")
    ]
    written = json.loads((tmp_path / "out" / "constraint_violations.json").read_text())
    assert written["violations"][0]["feature_name"] == "income"
    report = (tmp_path / "out" / "report.html").read_text()
    assert "baseline_drift_check" in report and report.count("<svg") == len(FEATURES)


def test_categorical_shift_and_unknown_values_are_flagged(tmp_path, base):
    frame = table(600, seed=3)
    frame.loc[: len(frame) // 2, "plan"] = "pro"
    frame.loc[0, "plan"] = "platinum"
    write_capture(tmp_path / "capture", frame)
    result = run(base, tmp_path / "capture", tmp_path / "out")
    found = {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}
    assert found == {("plan", "baseline_drift_check"), ("plan", "categorical_values_check")}


def test_type_completeness_missing_and_extra_columns_are_flagged(tmp_path, base):
    frame = table(300, seed=4)
    frame["visits"] = frame["visits"].astype(str)
    frame.loc[:10, "visits"] = "many"
    frame.loc[: len(frame) // 2, "income"] = np.nan
    frame["extra"] = 1
    # age left out entirely: the request has plan, income, visits and one more column
    write_capture(tmp_path / "capture", frame, columns=["age", "income", "plan", "visits", "extra"])
    result = run(base, tmp_path / "capture", tmp_path / "out")
    found = {(v["feature_name"], v["constraint_check_type"]) for v in result.violations}
    assert ("visits", "data_type_check") in found
    assert ("income", "completeness_check") in found
    assert ("_c4", "extra_column_check") in found

    json_root = tmp_path / "json-capture"
    writer = CaptureWriter(json_root, "ep")
    when = datetime(2026, 1, 2, 3, tzinfo=timezone.utc)
    body = {"instances": [{"income": 50000.0, "plan": "basic", "visits": 3}]}
    writer.write(
        "AllTraffic",
        record(
            event_id="j1",
            request=json.dumps(body).encode(),
            request_type="application/json",
            response=b"{}",
            response_type="application/json",
            latency_ms=1.0,
            when=when,
        ),
        when,
    )
    writer.close()
    missing = run(base, json_root, tmp_path / "out-json")
    assert ("age", "missing_column_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in missing.violations
    }


def test_since_skips_older_traffic(tmp_path, base):
    write_capture(tmp_path / "capture", table(100, seed=5, income_shift=9_000))
    later = datetime(2026, 1, 3, tzinfo=timezone.utc)
    result = run(base, tmp_path / "capture", tmp_path / "out", since=later)
    assert result.events == 0 and result.violations == []


def test_model_quality_from_ground_truth_matched_by_event_id(tmp_path, base):
    frame = table(200, seed=6)
    write_capture(tmp_path / "capture", frame)  # predictions are the true labels
    truth = frame["label"].to_numpy().copy()
    truth[:40] = 1 - truth[:40]  # 40 of 200 labels disagree with the predictions
    lines = [
        json.dumps(
            {
                "groundTruthData": {"data": str(int(t)), "encoding": "CSV"},
                "eventMetadata": {"eventId": f"e{i}"},
                "eventVersion": "0",
            }
        )
        for i, t in enumerate(truth)
    ]
    (tmp_path / "truth.jsonl").write_text("\n".join(lines) + "\n")
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            "accuracy": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}
        },
    }
    result = run(
        base,
        tmp_path / "capture",
        tmp_path / "out",
        ground_truth=tmp_path / "truth.jsonl",
        quality_constraints=constraints,
    )
    metrics = result.quality["binary_classification_metrics"]
    assert result.matched_rows == 200
    assert metrics["accuracy"]["value"] == pytest.approx(160 / 200)
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[t][p] for t in "01" for p in "01") == 200
    assert [v["metric_name"] for v in result.quality_violations] == ["accuracy"]
    assert result.quality_violations[0]["constraint_check_type"] == "LessThanThreshold"
    assert not result.clean
    written = json.loads((tmp_path / "out" / "model_quality" / "statistics.json").read_text())
    assert written["binary_classification_metrics"]["accuracy"]["value"] == pytest.approx(0.8)


def test_profile_memory_is_bounded_by_sketch_and_category_caps():
    feature = profiles.FeatureProfile("x", edges={"drift": [0.0, 0.5, 1.0]})
    rng = np.random.default_rng(0)
    for _ in range(20):
        feature.add(list(rng.random(10_000)))
        feature.add([f"id-{i}" for i in rng.integers(0, 10**9, 200)])
    assert feature.numeric == 200_000
    assert len(feature.sample) == profiles.SKETCH_SIZE
    assert len(feature.categories) == profiles.MAX_CATEGORIES
    assert feature.categories_overflow
    # the exact CDF from the fixed edges agrees with the data
    assert feature.cdf([0.0, 0.5, 1.0]) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_container_job_baselines_then_checks_supplied_baselines(tmp_path):
    table(2000, seed=7).to_csv(tmp_path / "train.csv", index=False)
    env = {
        "dataset_source": str(tmp_path / "train.csv"),
        "output_path": str(tmp_path / "first"),
        "dataset_format": json.dumps({"csv": {"header": True}}),
        "exclude_columns": "label",
    }
    outcome = run_job(env)
    assert outcome.violations is None and outcome.constraints.is_file()
    table(2000, seed=8, income_shift=10_000).to_csv(tmp_path / "new.csv", index=False)
    check = {
        **env,
        "dataset_source": str(tmp_path / "new.csv"),
        "output_path": str(tmp_path / "second"),
        "baseline_statistics": str(tmp_path / "first" / "statistics.json"),
        "baseline_constraints": str(tmp_path / "first" / "constraints.json"),
    }
    outcome = run_job(check)
    violations = json.loads(outcome.violations.read_text())["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("income", "baseline_drift_check")
    ]
    # As a process (a Processing job's entry point): exit 1 on violations, 2 on bad config.
    src = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"
    done = subprocess.run(
        [sys.executable, "-m", "sagepipe.monitor"],
        env={"PYTHONPATH": str(src), **check},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "sagepipe.monitor"],
        env={"PYTHONPATH": str(src), "output_path": str(tmp_path / "x")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == "error: environment variable dataset_source is not set; the job needs it"
    )
