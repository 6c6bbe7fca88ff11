"""Runtimes: each job runs in its image's environment (Python minor + package versions).

The image-environment tests build real environments with uv (cached in the shared
runtime cache, so only the first run on a machine pays for them) and run real jobs that
report their own interpreter and package versions.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import textwrap
from pathlib import Path

import pytest

from exact_python import require_python
from framework_paths import FRAMEWORK_SRC
from sagepipe import runtimes
from sagepipe.local import execute
from sagepipe.local.history import RunHistory
from sagepipe.runtimes import build as runtime_build
from sagepipe.runtimes.table import AWS_RUNTIMES, FRAMEWORK_ACCOUNTS, framework_runtime

SKLEARN_12 = runtimes.framework_image_uri("sklearn", "eu-west-1", "1.2-1")
XGBOOST_17 = runtimes.framework_image_uri("xgboost", "us-east-1", "1.7-1")

REPORT = textwrap.dedent(
    """
    import json, os, sys
    from importlib import metadata
    names = ["scikit-learn", "numpy", "pandas", "xgboost", "boto3"]
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    report = {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "executable": sys.executable,
        "packages": found,
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }
    out = sys.argv[sys.argv.index("--out") + 1]
    with open(os.path.join(out, "report.json"), "w") as fh:
        json.dump(report, fh)
    """
)


def _report_step(name: str, image: str) -> dict:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": image,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/report.py"],
                "ContainerArguments": ["--out", "/opt/ml/processing/output/report"],
            },
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                }
            },
            "RoleArn": "arn:aws:iam::000000000000:role/R",
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": "s3://bucket/code/report",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "report",
                        "S3Output": {
                            "S3Uri": f"s3://bucket/out/{name}",
                            "LocalPath": "/opt/ml/processing/output/report",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }


def _definition(*steps: dict) -> dict:
    return {"Version": "2020-12-01", "Parameters": [], "Steps": list(steps)}


def test_every_aws_runtime_says_which_container_file_and_commit_it_comes_from() -> None:
    for runtime in AWS_RUNTIMES:
        assert re.search(r"github\.com/aws/sagemaker-[a-z-]+-container", runtime.source)
        assert re.search(r"@ [0-9a-f]{40}", runtime.source), runtime.name
        assert "Dockerfile" in runtime.source and "requirements.txt" in runtime.source
        assert runtime.pinned("scikit-learn") or runtime.pinned("xgboost")
    names = {r.name for r in AWS_RUNTIMES}
    assert {"sklearn-1.2-1", "xgboost-1.7-1"} <= names and len(names) >= 4


def test_framework_image_of_every_region_maps_to_its_runtime() -> None:
    for region in FRAMEWORK_ACCOUNTS:
        sklearn = framework_runtime(runtimes.framework_image_uri("sklearn", region, "1.2-1"))
        xgboost = framework_runtime(runtimes.framework_image_uri("xgboost", region, "1.7-1"))
        assert sklearn is not None and sklearn.python == "3.9"
        assert sklearn.pinned("scikit-learn") == "1.2.1"
        assert xgboost is not None and xgboost.pinned("xgboost") == "1.7.4"
    assert runtimes.framework_image_uri("sklearn", "cn-north-1", "1.2-1").startswith(
        "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/"
    )


def test_unknown_image_names_the_image_and_the_two_ways_out() -> None:
    resolver = runtimes.RuntimeResolver(project_repository="churn-model")
    with pytest.raises(runtimes.UnknownImage) as caught:
        resolver.runtime_for("123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-tool:3")
    message = str(caught.value)
    assert "\n" not in message
    assert "'123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-tool:3' has no local runtime" in (
        message
    )
    assert "runtime table in settings" in message and "project image (churn-model)" in message


def test_a_step_on_an_unknown_image_fails_with_that_one_line(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "s3" / "bucket" / "code" / "report").mkdir(parents=True)
    (workspace / "s3" / "bucket" / "code" / "report" / "report.py").write_text(REPORT)
    execution = execute(
        _definition(_report_step("Report", "example.com/unknown:1")),
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
    )
    assert execution.status == "Failed"
    assert execution.steps["Report"].failure_reason == (
        "step Report: image 'example.com/unknown:1' has no local runtime: add it to the "
        "runtime table in settings, or use the project image"
    )


def test_a_missing_interpreter_is_never_replaced_silently() -> None:
    found = runtimes.find_interpreter("3.99")
    assert found.notice is not None
    assert found.notice.startswith("Python 3.99 is not installed here; using the nearest, Python")
    assert found.version in found.notice and "uv python install 3.99" in found.notice


def test_an_environment_that_cannot_be_built_offline_names_the_package_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    interpreter = runtimes.find_interpreter("3.11")
    with pytest.raises(runtimes.BuildError) as caught:
        runtimes.build_environment(
            interpreter,
            ["sagepipe-no-such-package-anywhere==0.0.1"],
            what="example.com/tool:1",
            root=tmp_path,
            offline_only=True,
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("image example.com/tool:1: cannot build its Python 3.11")
    assert "sagepipe-no-such-package-anywhere" in message and "uv pip install" in message
    # Nothing half-built stays behind to be reused: only the build's lock file remains.
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def _training_sourcedir() -> bytes:
    """A source archive with sagepipe's contract helper and a typed step function."""
    files = {
        "sagepipe/__init__.py": b"",
        "sagepipe/contract.py": (FRAMEWORK_SRC / "sagepipe" / "contract.py").read_bytes(),
        "fit.py": textwrap.dedent(
            """
            from __future__ import annotations
            import json, sys
            from pathlib import Path
            from typing import Optional

            def fit(train: Path, model_dir: Path, rounds: int = 1,
                    depth: Optional[int] = None, note: str | None = None) -> None:
                import sklearn
                rows = (train / "rows.csv").read_text().split()
                (model_dir / "model.json").write_text(json.dumps({
                    "rows": len(rows), "rounds": rounds, "depth": depth,
                    "python": "%d.%d" % sys.version_info[:2],
                    "sklearn": sklearn.__version__,
                }))
            """
        ).encode(),
        "entry.py": (
            b"import sys\nfrom sagepipe.contract import run_training\n"
            b"sys.exit(run_training('fit:fit'))\n"
        ),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _training_step(image: str) -> dict:
    return {
        "Name": "Fit",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "HyperParameters": {
                "rounds": "3",
                "depth": "4",
                "sagemaker_program": '"entry.py"',
                "sagemaker_submit_directory": '"s3://bucket/code/fit/sourcedir.tar.gz"',
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "s3://bucket/data/train",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "text/csv",
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "RoleArn": "arn:aws:iam::000000000000:role/R",
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def test_jobs_run_in_their_images_environments_and_the_history_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_python("3.9", "3.8")  # the scikit-learn 1.2-1 and XGBoost 1.7-1 images'
    # The executor's own import path must not leak into another runtime's jobs.
    monkeypatch.setenv("PYTHONPATH", str(FRAMEWORK_SRC))
    workspace = tmp_path / "ws"
    s3 = workspace / "s3" / "bucket"
    (s3 / "code" / "report").mkdir(parents=True)
    (s3 / "code" / "report" / "report.py").write_text(REPORT)
    (s3 / "code" / "fit").mkdir(parents=True)
    (s3 / "code" / "fit" / "sourcedir.tar.gz").write_bytes(_training_sourcedir())
    (s3 / "data" / "train").mkdir(parents=True)
    (s3 / "data" / "train" / "rows.csv").write_text("1\n2\n3\n")

    execution = execute(
        _definition(
            _report_step("OnSklearn", SKLEARN_12),
            _report_step("OnXgboost", XGBOOST_17),
            _training_step(SKLEARN_12),
        ),
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
    )
    assert execution.status == "Succeeded", execution.failure_reason

    sklearn = json.loads((s3 / "out" / "OnSklearn" / "report.json").read_text())
    assert sklearn["python"].startswith("3.9.")
    assert sklearn["packages"]["scikit-learn"] == "1.2.1"
    assert sklearn["packages"]["numpy"] == "1.24.1"
    assert sklearn["packages"]["pandas"] == "1.1.3"
    assert "xgboost" not in sklearn["packages"]
    assert str(FRAMEWORK_SRC) not in sklearn["pythonpath"]
    xgboost = json.loads((s3 / "out" / "OnXgboost" / "report.json").read_text())
    assert xgboost["python"].startswith("3.8.")
    assert xgboost["packages"]["xgboost"] == "1.7.4"
    assert xgboost["packages"]["scikit-learn"] == "0.24.1"

    # sagepipe's contract helper binds a typed function under the image's Python 3.9.
    model = s3 / "models" / execution.steps["Fit"].properties["TrainingJobName"]
    with tarfile.open(model / "output" / "model.tar.gz") as tar:
        member = tar.extractfile("model.json")
        assert member is not None
        trained = json.loads(member.read())
    assert trained == {"rows": 3, "rounds": 3, "depth": 4, "python": "3.9", "sklearn": "1.2.1"}

    record = RunHistory(workspace / "runs.db").get_execution(execution.id)
    assert record is not None
    steps = {s.name: s.properties["Runtime"] for s in record.steps}
    assert steps["OnSklearn"]["Image"] == SKLEARN_12
    assert steps["OnSklearn"]["Python"] == sklearn["python"]
    assert steps["OnSklearn"]["Interpreter"] == sklearn["executable"]
    assert steps["OnSklearn"]["Packages"]["scikit-learn"] == "1.2.1"
    assert steps["OnXgboost"]["Packages"]["xgboost"] == "1.7.4"


def test_an_environment_is_built_once_then_reused_from_the_shared_cache() -> None:
    require_python("3.9")
    runtime = framework_runtime(SKLEARN_12)
    assert runtime is not None
    interpreter = runtimes.find_interpreter(runtime.python)
    first = runtimes.build_environment(interpreter, list(runtime.packages), what=SKLEARN_12)
    assert first.folder is not None
    marker = first.folder / "runtime.json"
    stamp = marker.stat().st_mtime_ns
    again = runtimes.build_environment(
        interpreter, list(runtime.packages), what=SKLEARN_12, offline_only=True
    )
    assert again.folder == first.folder and marker.stat().st_mtime_ns == stamp
    assert first.folder.parent == runtime_build.cache_root()


HARDCODED = textwrap.dedent(
    """
    import json, os
    # Built at run time, so no path rewriting can help: only a real /opt/ml works.
    root = "/".join(["", "opt", "ml"])
    rows = open(root + "/processing/input/data/rows.csv").read().split()
    config = json.load(open(root + "/config/resourceconfig.json"))
    os.makedirs(root + "/processing/output/result", exist_ok=True)
    with open(root + "/processing/output/result/out.json", "w") as fh:
        json.dump({"rows": len(rows), "host": config["current_host"],
                   "instance": config["current_instance_type"]}, fh)
    """
)


def test_a_script_with_hard_coded_opt_ml_paths_runs_unchanged_and_the_host_is_untouched(
    tmp_path: Path,
) -> None:
    from sagepipe.local import namespace

    ok, why = namespace.available()
    if not ok:
        pytest.skip(f"no private mount namespace on this machine: {why}")
    host_opt = sorted(p.name for p in Path("/opt").iterdir())
    workspace = tmp_path / "ws"
    s3 = workspace / "s3" / "bucket"
    (s3 / "code" / "report").mkdir(parents=True)
    (s3 / "code" / "report" / "report.py").write_text(HARDCODED)
    (s3 / "data").mkdir(parents=True)
    (s3 / "data" / "rows.csv").write_text("a\nb\n")
    step = _report_step("Hardcoded", SKLEARN_12)
    step["Arguments"]["ProcessingInputs"].append(
        {
            "InputName": "data",
            "S3Input": {
                "S3Uri": "s3://bucket/data",
                "LocalPath": "/opt/ml/processing/input/data",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
    )
    step["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] = (
        "/opt/ml/processing/output/result"
    )
    execution = execute(_definition(step), workspace=workspace)
    assert execution.status == "Succeeded", execution.failure_reason
    result = json.loads((s3 / "out" / "Hardcoded" / "out.json").read_text())
    assert result == {"rows": 2, "host": "algo-1", "instance": "ml.m5.large"}
    assert sorted(p.name for p in Path("/opt").iterdir()) == host_opt


BOTO3_JOB = textwrap.dedent(
    """
    import json, os, sys
    import boto3
    s3 = boto3.client("s3")
    s3.download_file("bucket", "data/rows.csv", "/tmp/rows-%d.csv" % os.getpid())
    rows = open("/tmp/rows-%d.csv" % os.getpid()).read().split()
    big = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MB threshold: a multipart upload
    with open("/tmp/big-%d.bin" % os.getpid(), "wb") as fh:
        fh.write(big)
    s3.upload_file("/tmp/big-%d.bin" % os.getpid(), "bucket", "uploaded/big.bin")
    s3.put_object(Bucket="bucket", Key="uploaded/rows.json", Body=json.dumps(rows).encode())
    listed = s3.list_objects_v2(Bucket="bucket", Prefix="uploaded/")
    keys = sorted(item["Key"] for item in listed["Contents"])
    head = s3.head_object(Bucket="bucket", Key="uploaded/big.bin")
    part = s3.get_object(Bucket="bucket", Key="uploaded/big.bin", Range="bytes=0-9")["Body"].read()
    try:
        s3.get_object(Bucket="bucket", Key="missing")
        missing = "found"
    except s3.exceptions.NoSuchKey:
        missing = "NoSuchKey"
    out = sys.argv[sys.argv.index("--out") + 1]
    with open(os.path.join(out, "report.json"), "w") as fh:
        json.dump({"rows": rows, "keys": keys, "size": head["ContentLength"],
                   "first": list(part), "missing": missing,
                   "endpoint": os.environ["AWS_ENDPOINT_URL_S3"]}, fh)
    """
)


@pytest.mark.parametrize("runtime", ["sklearn-1.2-1 image (boto3 1.28)", "executor's boto3"])
def test_boto3_in_a_job_reads_and_writes_the_workspace_through_a_loopback_endpoint(
    tmp_path: Path, runtime: str
) -> None:
    if runtime.startswith("sklearn"):
        require_python("3.9")
    workspace = tmp_path / "ws"
    s3 = workspace / "s3" / "bucket"
    (s3 / "code" / "report").mkdir(parents=True)
    (s3 / "code" / "report" / "report.py").write_text(BOTO3_JOB)
    (s3 / "data").mkdir(parents=True)
    (s3 / "data" / "rows.csv").write_text("a\nb\nc\n")
    execution = execute(
        _definition(_report_step("Boto", SKLEARN_12)),
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver() if runtime.startswith("sklearn") else None,
    )
    assert execution.status == "Succeeded", execution.failure_reason
    report = json.loads((s3 / "out" / "Boto" / "report.json").read_text())
    assert report["endpoint"].startswith("http://127.0.0.1:")
    assert report["rows"] == ["a", "b", "c"] and report["missing"] == "NoSuchKey"
    assert report["keys"] == ["uploaded/big.bin", "uploaded/rows.json"]
    big = (s3 / "uploaded" / "big.bin").read_bytes()
    assert report["size"] == len(big) == 9 * 1024 * 1024
    assert report["first"] == list(big[:10])
    assert json.loads((s3 / "uploaded" / "rows.json").read_text()) == ["a", "b", "c"]


def _xgboost_algorithm_step(hyperparameters: dict) -> dict:
    step = _training_step(XGBOOST_17)
    step["Name"] = "XGBoostTrain"
    step["Arguments"]["HyperParameters"] = hyperparameters
    channels = []
    for name in ("train", "validation"):
        channel = json.loads(json.dumps(step["Arguments"]["InputDataConfig"][0]))
        channel["ChannelName"] = name
        channel["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://bucket/xgb/{name}"
        channels.append(channel)
    step["Arguments"]["InputDataConfig"] = channels
    return step


def _separable_csv(rows: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        x1, x2 = rng.uniform(-1, 1), rng.uniform(-1, 1)
        lines.append(f"{int(x1 + x2 > 0)},{x1:.4f},{x2:.4f}")
    return "\n".join(lines) + "\n"


def test_xgboost_algorithm_mode_without_num_round_fails_in_one_line(tmp_path: Path) -> None:
    require_python("3.8")  # the XGBoost 1.7-1 image's: its environment is built first
    workspace = tmp_path / "ws"
    for name in ("train", "validation"):
        folder = workspace / "s3" / "bucket" / "xgb" / name
        folder.mkdir(parents=True)
        (folder / "data.csv").write_text(_separable_csv(20, 4))
    execution = execute(
        _definition(_xgboost_algorithm_step({"objective": "binary:logistic"})),
        workspace=workspace,
        runtimes=runtimes.RuntimeResolver(),
    )
    assert execution.status == "Failed"
    assert execution.steps["XGBoostTrain"].failure_reason == (
        "hyperparameter num_round is required (e.g. num_round=100)"
    )


def test_a_project_adds_its_own_image_to_the_runtime_table() -> None:
    mine = runtimes.Runtime(
        name="my-tool-3",
        repository="my-tool",
        version="3",
        python="3.11",
        packages=("pandas==2.2.3",),
        key_packages=("pandas",),
        source="my-tool's Dockerfile",
    )
    resolver = runtimes.RuntimeResolver(extra=(mine,))
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-tool:3-cpu"
    assert resolver.runtime_for(uri) is mine
    assert resolver.runtime_for(SKLEARN_12).name == "sklearn-1.2-1"
