"""A definition the real SageMaker SDK v2 built (sdk_v2/generate.py) runs locally as is.

It uses AWS's images the way AWS's seed code does: an SKLearnProcessor script with
hard-coded ``/opt/ml`` paths that downloads its raw data with boto3, the XGBoost image's
built-in algorithm (no user code), and a ScriptProcessor on the XGBoost image that loads
``xgboost-model``, then CreateModel and a batch Transform served by the XGBoost image's
default handler. Each job runs in its image's runtime.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from exact_python import require_python
from sagepipe import runtimes
from sagepipe.local import execute, namespace

DATA = Path(__file__).resolve().parent / "sdk_v2" / "aws_images"
BUCKET = "sdk-v2-bucket"


def _csv(rows: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["label,x1,x2"]
    for _ in range(rows):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        lines.append(f"{int(x1 - x2 > 0.1)},{x1:.4f},{x2:.4f}")
    return "\n".join(lines) + "\n"


def test_sdk_v2_pipeline_on_sklearn_and_xgboost_images_runs_locally(tmp_path: Path) -> None:
    if not namespace.available()[0]:
        pytest.skip("the preprocess script builds /opt/ml paths at run time: needs a namespace")
    require_python("3.9", "3.8")  # the scikit-learn 1.2-1 and XGBoost 1.7-1 images'
    workspace = tmp_path / "ws"
    shutil.copytree(DATA / "s3", workspace / "s3")
    bucket = workspace / "s3" / BUCKET
    (bucket / "raw").mkdir(parents=True)
    (bucket / "raw" / "data.csv").write_text(_csv(300, 1))
    (bucket / "extra").mkdir(parents=True)
    (bucket / "extra" / "extra.csv").write_text(_csv(100, 2))

    execution = execute(
        DATA / "definition.json",
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
        pipeline_name="sdk-v2-aws-images",
    )
    assert execution.status == "Succeeded", execution.failure_reason

    preprocess_log = Path(str(execution.steps["Preprocess"].log_path)).read_text()
    assert "rows 400" in preprocess_log  # 300 fetched with boto3 + 100 from the input
    evaluation = next((bucket).rglob("evaluation.json"))
    report = json.loads(evaluation.read_text())
    assert report["xgboost_version"] == "1.7.4"
    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.85
    runtimes_used = {
        name: step.properties["Runtime"]
        for name, step in execution.steps.items()
        if "Runtime" in step.properties  # jobs, not the inline Model step
    }
    assert runtimes_used["Preprocess"]["Python"].startswith("3.9.")
    assert runtimes_used["Preprocess"]["Packages"]["scikit-learn"] == "1.2.1"
    assert runtimes_used["TrainXGBoost"]["Packages"]["xgboost"] == "1.7.4"
    assert runtimes_used["Evaluate"]["Python"].startswith("3.8.")

    model_name = execution.steps["CreateModel-CreateModel"].properties["ModelName"]
    assert model_name.startswith(f"pipelines-{execution.id}-CreateModel")
    batch_rows = next(bucket.rglob("batch.csv")).read_text().splitlines()
    out = (bucket / "transform" / "batch.csv.out").read_text().splitlines()
    assert len(out) == len(batch_rows) > 0
    assert all(0.0 <= float(line) <= 1.0 for line in out)
    assert runtimes_used["Transform"]["Packages"]["xgboost"] == "1.7.4"
