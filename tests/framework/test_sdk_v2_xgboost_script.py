"""XGBoost script mode and a source directory's requirements.txt, from SDK v2 definitions.

``sdk_v2/xgboost_script`` was built by the real SageMaker SDK v2 (generate_xgboost.py): the
framework estimator ``XGBoost(entry_point="train.py", source_dir=..., framework_version=
"1.7-1")`` in a TrainingStep, whose source directory holds ``requirements.txt``
(``appdirs==1.4.4``, which the image's table does not have). The XGBoost image runs such a
job in script mode (sagemaker-containers' ``run_module``: ``pip install -r
requirements.txt``, then ``python -m train`` with the hyperparameters as arguments), not as
the built-in algorithm; locally it runs in the image's Python 3.8 runtime with the
requirements in an overlay. ``sdk_v2/serial_model`` is an SDK-made ``PipelineModel``
(scikit-learn featurizer -> XGBoost) used by a TransformStep: each container answers in its
own image's runtime, checked against both models' own predictions.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from exact_python import require_python
from sagepipe import runtimes
from sagepipe.local import execute
from sagepipe.storage.archives import tar_gz_bytes
from uv_cache import ensure_cached

HERE = Path(__file__).resolve().parent
DATA = HERE / "sdk_v2" / "xgboost_script"
SERIAL = HERE / "sdk_v2" / "serial_model"
BUCKET = "sdk-v2-bucket"
OFFLINE_REQUIREMENT = "appdirs==1.4.4"


def _rows(count: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        lines.append(f"{int(x1 + x2 > 0)},{x1:.4f},{x2:.4f}")
    return "\n".join(lines) + "\n"


def _workspace(tmp_path: Path, source: Path = DATA) -> Path:
    workspace = tmp_path / "ws"
    shutil.copytree(source / "s3", workspace / "s3")
    for channel, seed in (("train", 1), ("validation", 2)):
        folder = workspace / "s3" / BUCKET / "xgb" / channel
        folder.mkdir(parents=True)
        (folder / "part.csv").write_text(_rows(60, seed))
    return workspace


def _sourcedir(workspace: Path) -> Path:
    (archive,) = (workspace / "s3" / BUCKET / "sdk-v2-xgboost-script" / "code").glob(
        "*/sourcedir.tar.gz"
    )
    return archive


def _with_requirements(archive: Path, text: str) -> None:
    """Rewrite the SDK's sourcedir.tar.gz with another requirements.txt (same train.py)."""
    with tarfile.open(archive) as tar:
        files = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    files["requirements.txt"] = text.encode()
    archive.write_bytes(tar_gz_bytes(files))


def _model_report(workspace: Path, execution: object) -> dict:
    step = execution.steps["TrainXGBoostScript"]  # type: ignore[attr-defined]
    uri = step.properties["ModelArtifacts"]["S3ModelArtifacts"]
    path = workspace / "s3" / uri[len("s3://") :]
    with tarfile.open(path) as tar:
        names = tar.getnames()
        member = tar.extractfile("report.json")
        assert member is not None
        report = json.loads(member.read())
    report["members"] = sorted(names)
    return report


def test_an_xgboost_script_mode_training_step_runs_its_entry_point_with_its_requirements(
    tmp_path: Path,
) -> None:
    require_python("3.8")  # the XGBoost 1.7-1 image's
    ensure_cached(OFFLINE_REQUIREMENT, "3.8", tmp_path / "prefetch")
    workspace = _workspace(tmp_path)
    definition = json.loads((DATA / "definition.json").read_text())
    resolver = runtimes.RuntimeResolver()

    execution = execute(definition, workspace=workspace, runtimes=resolver)

    assert execution.status == "Succeeded", execution.failure_reason
    report = _model_report(workspace, execution)
    # Script mode, not the built-in algorithm: the user's script trained and saved it.
    assert report["members"] == ["report.json", "xgboost-model"]
    assert report["rounds"] == 4
    # sagemaker-containers' run_module: `python -m train`, sorted `--key value` arguments.
    assert report["main_module"] == "train"
    assert report["argv"] == ["--eta", "0.5", "--max_depth", "2", "--num_round", "4"]
    assert report["unknown"] == []
    # The image's runtime, plus the source directory's requirements.
    assert report["python"].startswith("3.8.")
    assert report["xgboost"] == "1.7.4"
    assert report["appdirs"] == "1.4.4"
    env = report["env"]
    assert env["SM_CHANNELS"] == '["train", "validation"]'
    assert env["SM_CHANNEL_TRAIN"].endswith("/input/data/train")
    assert env["SM_MODEL_DIR"].endswith("/model")
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert json.loads(env["SM_HPS"]) == {"eta": 0.5, "max_depth": 2, "num_round": 4}
    assert json.loads(env["SM_INPUT_DATA_CONFIG"])["train"]["ContentType"] == "text/csv"
    assert json.loads(env["SM_RESOURCE_CONFIG"])["current_host"] == "algo-1"

    # The history says which environment: the runtime's, with what requirements.txt added.
    recorded = execution.steps["TrainXGBoostScript"].properties["Runtime"]
    assert recorded["Runtime"] == "xgboost-1.7-1"
    assert recorded["Packages"]["xgboost"] == "1.7.4"
    assert recorded["Requirements"]["Installed"] == {"appdirs": "1.4.4"}
    overlay = Path(recorded["Requirements"]["Environment"])
    assert overlay.parent.name == "overlays"
    assert Path(recorded["Interpreter"]).is_relative_to(overlay)
    # The runtime's own environment (shared by every job) is unchanged.
    _base, base_env = resolver.environment_for(
        definition["Steps"][0]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    )
    probe = subprocess.run(
        [str(base_env.python), "-c", "import appdirs"], capture_output=True, text=True
    )
    assert probe.returncode != 0 and "appdirs" in probe.stderr
    log = Path(str(execution.steps["TrainXGBoostScript"].log_path)).read_text()
    assert "requirements.txt of the source directory installed" in log

    # The next run reuses the overlay (same digest): nothing is built again.
    stamp = (overlay / "runtime.json").stat().st_mtime_ns
    again = execute(definition, workspace=workspace, runtimes=resolver, use_cache=False)
    assert again.status == "Succeeded", again.failure_reason
    second = again.steps["TrainXGBoostScript"].properties["Runtime"]
    assert second["Requirements"]["Environment"] == str(overlay)
    assert (overlay / "runtime.json").stat().st_mtime_ns == stamp


def test_a_requirement_that_is_not_in_uvs_cache_fails_the_step_with_the_command_to_fetch_it(
    tmp_path: Path,
) -> None:
    require_python("3.8")
    workspace = _workspace(tmp_path)
    _with_requirements(_sourcedir(workspace), "# offline only\nsagepipe-no-such-package==1.0\n")
    cache = runtimes.cache_root() / "overlays"
    before = set(cache.iterdir()) if cache.is_dir() else set()

    definition = json.loads((DATA / "definition.json").read_text())
    resolver = runtimes.RuntimeResolver()

    execution = execute(definition, workspace=workspace, runtimes=resolver)

    assert execution.status == "Failed"
    image = definition["Steps"][0]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    _runtime, base = resolver.environment_for(image)
    reason = execution.steps["TrainXGBoostScript"].failure_reason
    assert reason == (
        "step TrainXGBoostScript: requirements.txt of the source directory: cannot install "
        "it offline: sagepipe-no-such-package==1.0 is not in uv's cache; fetch it with "
        f"network access: uv pip install --python {base.python} --target "
        f"{Path(tempfile.gettempdir()) / 'sagepipe-fetch'} sagepipe-no-such-package==1.0"
    )
    # Nothing half-built is left to be reused: no new overlay, no temporary folder.
    after = set(cache.iterdir()) if cache.is_dir() else set()
    assert {p for p in after - before if not p.name.endswith(".lock")} == set()
    assert not (workspace / "s3" / BUCKET / "xgb" / "models").exists()


FEATURIZER = """
import json, sys
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
rows = np.array(json.loads(sys.argv[2]), dtype=float)
model = LogisticRegression().fit(rows[:, 1:], rows[:, 0].astype(int))
joblib.dump(model, sys.argv[1])
print(json.dumps(model.predict_proba(json.loads(sys.argv[3]))[:, 1].tolist()))
"""

BOOSTER = """
import json, sys
import numpy as np, xgboost as xgb
proba = np.array(json.loads(sys.argv[2]), dtype=float).reshape(-1, 1)
labels = (proba[:, 0] > 0.5).astype(int)
booster = xgb.train({"max_depth": 2, "objective": "binary:logistic"},
                    xgb.DMatrix(proba, label=labels), 3)
booster.save_model(sys.argv[1])
print(json.dumps(booster.predict(xgb.DMatrix(proba)).tolist()))
"""


def _in(resolver: runtimes.RuntimeResolver, image: str, script: str, *args: str) -> list:
    _runtime, environment = resolver.environment_for(image)
    done = subprocess.run(
        [str(environment.python), "-c", script, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout)


def test_a_transform_of_an_inference_pipeline_runs_each_container_in_its_own_runtime(
    tmp_path: Path,
) -> None:
    require_python("3.9", "3.8")  # the scikit-learn 1.2-1 and XGBoost 1.7-1 images'
    definition = json.loads((SERIAL / "definition.json").read_text())
    images = [c["Image"] for c in definition["Steps"][0]["Arguments"]["Containers"]]
    workspace = tmp_path / "ws"
    shutil.copytree(SERIAL / "s3", workspace / "s3")
    bucket = workspace / "s3" / BUCKET / "serial"
    rng = random.Random(3)
    batch = [[round(rng.uniform(-1, 1), 4), round(rng.uniform(-1, 1), 4)] for _ in range(25)]
    (bucket / "batch").mkdir(parents=True)
    (bucket / "batch" / "a.csv").write_text("\n".join(f"{a},{b}" for a, b in batch) + "\n")
    train = [[float(a + b > 0), a, b] for a, b in batch]
    resolver = runtimes.RuntimeResolver()
    # The featurizer (scikit-learn image) answers each record's probability; the XGBoost
    # image's default handler reads that CSV column and scores it.
    proba = _in(
        resolver,
        images[0],
        FEATURIZER,
        str(tmp_path / "f.joblib"),
        json.dumps(train),
        json.dumps(batch),
    )
    expected = _in(resolver, images[1], BOOSTER, str(tmp_path / "xgboost-model"), json.dumps(proba))
    for name, files in (
        ("featurizer", {"model.joblib": (tmp_path / "f.joblib").read_bytes()}),
        ("xgboost", {"xgboost-model": (tmp_path / "xgboost-model").read_bytes()}),
    ):
        (bucket / name).mkdir(parents=True)
        (bucket / name / "model.tar.gz").write_bytes(tar_gz_bytes(files))

    execution = execute(definition, workspace=workspace, runtimes=resolver)

    assert execution.status == "Succeeded", execution.failure_reason
    scores = [float(v) for v in (bucket / "scores" / "a.csv.out").read_text().split()]
    assert len(scores) == len(batch)
    assert all(abs(got - want) < 1e-5 for got, want in zip(scores, expected, strict=True))
    assert len(set(scores)) > 1  # per-record predictions through both containers
    served = execution.steps["ScoreSerial"].properties["Runtime"]
    assert [c["Runtime"] for c in served["Containers"]] == ["sklearn-1.2-1", "xgboost-1.7-1"]


def test_a_transform_of_a_direct_mode_multi_container_model_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    # Hand-written in CreateModel's shape: the SDK's PipelineModel is always Serial.
    definition = json.loads((SERIAL / "definition.json").read_text())
    definition["Steps"][0]["Arguments"]["InferenceExecutionConfig"] = {"Mode": "Direct"}
    workspace = tmp_path / "ws"
    (workspace / "s3" / BUCKET / "serial" / "batch").mkdir(parents=True)
    (workspace / "s3" / BUCKET / "serial" / "batch" / "a.csv").write_text("0.1,0.2\n")

    execution = execute(definition, workspace=workspace, runtimes=runtimes.RuntimeResolver())

    assert execution.status == "Failed"
    model = execution.steps["CreateSerialModel-CreateModel"]
    assert model.status == "Succeeded"  # CreateModel itself works on SageMaker too
    assert execution.steps["ScoreSerial"].failure_reason == (
        f"step ScoreSerial: model {model.properties['ModelName']!r} has 2 containers in "
        "Direct mode, where each request names the container that answers it, which a "
        "batch transform does not send; create the model with InferenceExecutionConfig "
        "Mode Serial, or one model per container"
    )
    assert not (workspace / "s3" / BUCKET / "serial" / "scores").exists()


def test_a_transform_of_a_multi_model_container_is_refused_in_one_line(tmp_path: Path) -> None:
    # Hand-written in the SDK's exact shape: the SDK v2 sets Mode on the container of a
    # MultiDataModel, which it deploys to endpoints rather than creating in a ModelStep.
    definition = json.loads((SERIAL / "definition.json").read_text())
    steps = copy.deepcopy(definition["Steps"])
    container = steps[0]["Arguments"].pop("Containers")[1]
    container.update(Mode="MultiModel", ModelDataUrl=f"s3://{BUCKET}/serial/models/")
    steps[0]["Arguments"]["PrimaryContainer"] = container
    definition["Steps"] = steps
    workspace = tmp_path / "ws"
    (workspace / "s3" / BUCKET / "serial" / "batch").mkdir(parents=True)
    (workspace / "s3" / BUCKET / "serial" / "batch" / "a.csv").write_text("0.1,0.2\n")

    execution = execute(definition, workspace=workspace, runtimes=runtimes.RuntimeResolver())

    assert execution.status == "Failed"
    name = execution.steps["CreateSerialModel-CreateModel"].properties["ModelName"]
    assert execution.steps["ScoreSerial"].failure_reason == (
        f"step ScoreSerial: model {name!r} is a multi-model container (Mode MultiModel), "
        "which serves the model each request names, and a local Transform serves one model "
        "archive only; create the model with Mode SingleModel"
    )


def test_framework_images_pass_hyperparameters_as_their_toolkits_do() -> None:
    from sagepipe.local.sandbox import toolkit_args

    assert toolkit_args({"lr": 0.1, "a": True, "opts": {"y": 2, "x": 1}, "none": None}) == [
        "-a",
        "True",
        "--lr",
        "0.1",
        "--none",
        "",
        "--opts",
        "x=1,y=2",
    ]


def test_without_a_runtime_table_requirements_are_not_installed_and_the_log_says_so(
    tmp_path: Path,
) -> None:
    import sys

    from sagepipe.local.jobenv import job_runtime, with_requirements

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(OFFLINE_REQUIREMENT + "\n")
    job = job_runtime("Train", "Training", {}, None)  # the executor's own interpreter

    result = with_requirements("Train", job, requirements, None)

    assert result.python == sys.executable
    assert result.notice == (
        "requirements.txt in the source directory is not installed: this job runs in the "
        "executor's own interpreter (no runtime table), which is never changed"
    )
