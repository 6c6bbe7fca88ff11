"""Transform steps on the scikit-learn image's script-mode models, from an SDK v2 definition.

``sdk_v2/sklearn_transform`` was built by the real SageMaker SDK v2 (generate_sklearn.py):
SKLearn script-mode training, two SKLearnModels whose code is a ``sourcedir.tar.gz``
(``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY``; one script defines ``model_fn`` and
``predict_fn``, the other only ``model_fn``) and a TransformStep for each. The models are
served by the image's contract in the image's Python 3.9 runtime; the predictions in the
``.out`` files are checked against the trained model's own, computed here apart from the
engine.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest

from exact_python import require_python
from sagepipe import runtimes
from sagepipe.local import execute
from sagepipe.storage.archives import tar_gz_bytes
from uv_cache import ensure_cached

DATA = Path(__file__).resolve().parent / "sdk_v2" / "sklearn_transform"
BUCKET = "sdk-v2-bucket"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

# Run in the image's interpreter by the test itself: what the trained model predicts.
EXPECTED = textwrap.dedent(
    """
    import json, sys
    import joblib, numpy as np
    model = joblib.load(sys.argv[1])
    rows = np.array(json.loads(sys.argv[2]), dtype=float)
    positive = list(model.classes_).index(1)
    print(json.dumps({
        "proba": model.predict_proba(rows)[:, positive].tolist(),
        "labels": model.predict(rows).tolist(),
    }))
    """
)


def _rows(count: int, seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(round(rng.uniform(-1, 1), 4), round(rng.uniform(-1, 1), 4)) for _ in range(count)]


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    shutil.copytree(DATA / "s3", workspace / "s3")
    return workspace


def _put(workspace: Path, key: str, text: str) -> None:
    path = workspace / "s3" / BUCKET / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_sdk_v2_sklearn_script_mode_models_run_their_transform_steps(tmp_path: Path) -> None:
    require_python("3.9")  # the scikit-learn 1.2-1 image's
    workspace = _workspace(tmp_path)
    train = "\n".join(f"{int(a - b > 0.1)},{a},{b}" for a, b in _rows(200, 1))
    _put(workspace, "sklearn/train/train.csv", train + "\n")
    batches = {"a.csv": _rows(30, 2), "b.csv": _rows(7, 3)}
    for name, rows in batches.items():
        lines = [f"{name[0]}{i},{a},{b}" for i, (a, b) in enumerate(rows)]
        _put(workspace, f"sklearn/batch/{name}", "\n".join(lines) + "\n")
    resolver = runtimes.RuntimeResolver()

    execution = execute(
        DATA / "definition.json",
        workspace=workspace,
        runtimes=resolver,
        pipeline_name="sdk-v2-sklearn-transform",
    )

    assert execution.status == "Succeeded", execution.failure_reason
    bucket = workspace / "s3" / BUCKET
    (archive,) = (bucket / "sklearn" / "models").rglob("model.tar.gz")
    unpacked = tmp_path / "model"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    _, environment = resolver.environment_for(SKLEARN_IMAGE)
    for name, rows in batches.items():
        expected = json.loads(
            subprocess.run(
                [
                    environment.python,
                    "-c",
                    EXPECTED,
                    str(unpacked / "model.joblib"),
                    json.dumps(rows),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        # ScoreBatch: score.py's predict_fn (the positive class's probability), the image's
        # CSV decoding and encoding, joined to the input and filtered to "id,score".
        scores = (bucket / "sklearn" / "scores" / f"{name}.out").read_text().splitlines()
        ids = [f"{name[0]}{i}" for i in range(len(rows))]
        assert [line.split(",")[0] for line in scores] == ids
        got = [float(line.split(",")[1]) for line in scores]
        assert len(got) == len(expected["proba"])
        assert all(abs(g - e) < 1e-5 for g, e in zip(got, expected["proba"], strict=True))
        assert len(set(got)) > 1  # real per-record predictions, not one constant
        # LabelBatch: labels.py has only model_fn: the image's default predict_fn
        # (model.predict) and its JSON encoding, one label per line.
        labels = (bucket / "sklearn" / "labels" / f"{name}.out").read_text().splitlines()
        assert [json.loads(line) for line in labels] == expected["labels"]
    assert set(expected["labels"]) <= {0, 1}
    served = execution.steps["ScoreBatch"].properties["Runtime"]
    assert served["Python"].startswith("3.9.")
    assert served["Packages"]["scikit-learn"] == "1.2.1"


def _definition_on(program: str) -> dict:
    """The SDK's LabelModel and LabelBatch steps, on the model code under ``broken/``."""
    sdk = json.loads((DATA / "definition.json").read_text())
    steps = {s["Name"]: s for s in sdk["Steps"]}
    model = copy.deepcopy(steps["LabelModel-CreateModel"])
    container = model["Arguments"]["PrimaryContainer"]
    container["ModelDataUrl"] = f"s3://{BUCKET}/broken/model.tar.gz"
    container["Environment"]["SAGEMAKER_PROGRAM"] = program
    container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = (
        f"s3://{BUCKET}/broken/sourcedir.tar.gz"
    )
    transform = copy.deepcopy(steps["LabelBatch"])
    return {**sdk, "Steps": [model, transform]}


NO_MODEL_FN = b"def predict_fn(input_data, model):\n    return model.predict(input_data)\n"


@pytest.mark.parametrize(
    ("program", "sourcedir", "reason"),
    [
        (
            "nomodel.py",
            {"nomodel.py": NO_MODEL_FN},
            "the model server could not start: nomodel.py (SAGEMAKER_PROGRAM) defines no "
            "model_fn, and the scikit-learn image has no default one: add model_fn(model_dir) "
            "returning the loaded model",
        ),
        (
            "inference.py",
            {"nomodel.py": NO_MODEL_FN},
            f"SAGEMAKER_PROGRAM 'inference.py' is not in SAGEMAKER_SUBMIT_DIRECTORY "
            f"s3://{BUCKET}/broken/sourcedir.tar.gz; name the entry point's file in the "
            "source directory",
        ),
        (
            "nomodel.py",
            None,
            f"step LabelBatch: model {{name!r}}: SAGEMAKER_SUBMIT_DIRECTORY "
            f"s3://{BUCKET}/broken/sourcedir.tar.gz does not exist (looked at {{path}}); put "
            "the model's sourcedir.tar.gz there",
        ),
    ],
    ids=["no-model_fn", "program-not-in-sourcedir", "no-sourcedir"],
)
def test_a_broken_script_mode_model_fails_its_transform_step_with_one_line(
    tmp_path: Path, program: str, sourcedir: dict[str, bytes] | None, reason: str
) -> None:
    require_python("3.9")
    workspace = _workspace(tmp_path)
    _put(workspace, "sklearn/batch/a.csv", "a0,0.1,0.2\n")
    broken = workspace / "s3" / BUCKET / "broken"
    broken.mkdir(parents=True)
    (broken / "model.tar.gz").write_bytes(tar_gz_bytes({"model.joblib": b"unused"}))
    if sourcedir is not None:
        (broken / "sourcedir.tar.gz").write_bytes(tar_gz_bytes(sourcedir))

    execution = execute(
        _definition_on(program),
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
        pipeline_name="sdk-v2-sklearn-broken",
    )

    assert execution.status == "Failed"
    step = execution.steps["LabelBatch"]
    name = execution.steps["LabelModel-CreateModel"].properties["ModelName"]
    assert step.failure_reason == reason.format(name=name, path=broken / "sourcedir.tar.gz")
    assert not (workspace / "s3" / BUCKET / "sklearn" / "labels").exists()


VERSIONS = b"""
import appdirs


class Versions:
    # Answers every record with the version of a package only requirements.txt installs.
    def predict(self, data):
        return [appdirs.__version__] * len(data)


def model_fn(model_dir):
    return Versions()
"""


@pytest.mark.parametrize("where", ["sourcedir", "model-archive"])
def test_a_script_mode_models_requirements_txt_is_installed_before_it_is_served(
    tmp_path: Path, where: str
) -> None:
    require_python("3.9")
    ensure_cached("appdirs==1.4.4", "3.9", tmp_path / "prefetch")
    workspace = _workspace(tmp_path)
    _put(workspace, "sklearn/batch/a.csv", "a0,0.1,0.2\na1,0.3,0.4\n")
    folder = workspace / "s3" / BUCKET / "broken"
    folder.mkdir(parents=True)
    code = {"versions.py": VERSIONS, "requirements.txt": b"appdirs==1.4.4\n"}
    definition = _definition_on("versions.py")
    if where == "sourcedir":
        (folder / "model.tar.gz").write_bytes(tar_gz_bytes({"model.joblib": b"unused"}))
        (folder / "sourcedir.tar.gz").write_bytes(tar_gz_bytes(code))
    else:  # a repacked model: its code under /opt/ml/model/code
        files = {f"code/{name}": data for name, data in code.items()}
        (folder / "model.tar.gz").write_bytes(tar_gz_bytes({"model.joblib": b"", **files}))
        container = definition["Steps"][0]["Arguments"]["PrimaryContainer"]
        container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = "/opt/ml/model/code"

    execution = execute(
        definition,
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
        pipeline_name="sdk-v2-sklearn-requirements",
    )

    assert execution.status == "Succeeded", execution.failure_reason
    labels = (workspace / "s3" / BUCKET / "sklearn" / "labels" / "a.csv.out").read_text()
    assert [json.loads(line) for line in labels.splitlines()] == ["1.4.4", "1.4.4"]
    served = execution.steps["LabelBatch"].properties["Runtime"]
    assert served["Requirements"]["Installed"] == {"appdirs": "1.4.4"}
    assert served["Python"].startswith("3.9.")


SHAPES = b"""
import numpy as np


class Shapes:
    # Answers with what the image's default input_fn handed to predict: ndim and dtype.
    def predict(self, data):
        return [[int(np.ndim(data)), str(data.dtype)]]


def model_fn(model_dir):
    return Shapes()
"""


def test_the_image_defaults_decode_as_the_scikit_learn_container_does(tmp_path: Path) -> None:
    from sagepipe.local.model_child import ChildHandler, sklearn_command
    from sagepipe.serving.batch import TransformError

    require_python("3.9")
    _, environment = runtimes.RuntimeResolver().environment_for(SKLEARN_IMAGE)
    code = tmp_path / "code"
    code.mkdir()
    (code / "shapes.py").write_bytes(SHAPES)
    child = ChildHandler(sklearn_command(str(environment.python), tmp_path, code, "shapes.py"))
    try:
        # The CSV decoder squeezes: one record arrives 1-D (sklearn's predict refuses
        # that, as on SageMaker), several 2-D; CSV and JSON are cast to float32.
        one = child.invoke(b"1,2", "text/csv", "application/json")
        assert json.loads(one.body) == [[1, "float32"]] and one.content_type == "application/json"
        assert json.loads(child.invoke(b"1,2\n3,4", "text/csv", "*/*").body) == [[2, "float32"]]
        as_csv = child.invoke(b"[[1, 2]]", "application/json", "text/csv")
        assert as_csv.body == b"2,float32\n" and as_csv.content_type == "text/csv"
        # Content types are matched exactly, as the image does.
        with pytest.raises(TransformError, match=r"\(415\).*define input_fn"):
            child.invoke(b"1,2", "text/csv; charset=utf-8", "text/csv")
        with pytest.raises(TransformError, match=r"\(406\).*define output_fn"):
            child.invoke(b"1,2", "text/csv", "text/plain")
    finally:
        child.close()


def test_transform_fn_with_predict_fn_is_refused_at_start(tmp_path: Path) -> None:
    from sagepipe.local.model_child import ChildHandler, sklearn_command
    from sagepipe.serving.batch import TransformError

    require_python("3.9")
    _, environment = runtimes.RuntimeResolver().environment_for(SKLEARN_IMAGE)
    (tmp_path / "both.py").write_text(
        SHAPES.decode() + "\ndef transform_fn(m, b, c, a):\n    return b\n"
        "\ndef predict_fn(d, m):\n    return d\n"
    )
    with pytest.raises(TransformError) as failure:
        ChildHandler(sklearn_command(str(environment.python), tmp_path, tmp_path, "both.py"))
    assert str(failure.value) == (
        "the model server could not start: both.py defines transform_fn and predict_fn: the "
        "image uses transform_fn alone; remove one or the other"
    )


@pytest.mark.parametrize("submit", ["/opt/ml/../../etc", "/opt/ml/model/../../../root", "/etc"])
def test_a_submit_directory_outside_opt_ml_is_refused_before_anything_is_copied(
    tmp_path: Path, submit: str
) -> None:
    from sagepipe.local.sandbox import JobError
    from sagepipe.local.transform_plan import script_mode_code

    model = {
        "ModelName": "m",
        "Image": "sagemaker-scikit-learn",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit},
    }
    with pytest.raises(JobError, match="neither an s3:// URI nor a folder under /opt/ml"):
        script_mode_code("Score", model, tmp_path)
    assert (
        script_mode_code("Score", dict(model, Environment={"SAGEMAKER_PROGRAM": "i.py"}), tmp_path)[
            "opt_ml_path"
        ]
        == "code"
    )
