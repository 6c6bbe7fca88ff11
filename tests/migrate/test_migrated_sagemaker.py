"""`run --pipeline NAME --target sagemaker`: a migrated pipeline on the SageMaker backend,
against moto's server on loopback (the generated project's tests/aws_loopback.py).

moto stores the pipeline and records the execution; it runs no step. So these tests check
what reached AWS: the migrated pipeline under its own name (never over the project's),
the definition `compile --pipeline NAME` writes, every code object it points at, and the
notebook's data at the S3 keys its data parameter's default names.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_handler import _migrated

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"


def _loopback(project: Path) -> Any:
    """The baked project's moto-on-loopback helper, loaded from its file."""
    path = project / "tests" / "aws_loopback.py"
    spec = importlib.util.spec_from_file_location("baked_aws_loopback", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def on_moto(bake_project) -> Iterator[tuple[Path, Any, Any]]:
    project = bake_project()
    servers = _loopback(project).AwsOnLoopback()
    # moto keeps its state per process: start from none, whatever ran before in this worker.
    servers.reset()
    try:
        aws_env = {
            **servers.env(),
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "MLOPS_ROLE_ARN": ROLE,
            "MLOPS_REGION": "us-east-1",
        }
        project, run = _migrated(lambda: project, "chained_fit", **aws_env)
        yield project, run, servers
    finally:
        servers.close()


def _client(servers: Any, service: str) -> Any:
    import boto3

    env = servers.env()
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # pragma: allowlist secret
    )


@pytest.mark.slow
def test_a_migrated_pipeline_runs_on_sagemaker_under_its_own_name_with_its_data(
    on_moto: tuple[Path, Any, Any], tmp_path: Path
) -> None:
    project, run, servers = on_moto
    s3, sm = _client(servers, "s3"), _client(servers, "sagemaker")
    s3.create_bucket(Bucket="churn-model-dev")
    compiled = tmp_path / "chained_fit.json"
    done = run("compile", "--pipeline", "chained_fit", "-o", str(compiled))
    assert done.returncode == 0, done.stderr

    first = run("run", "--pipeline", "chained_fit", "--target", "sagemaker", "--json")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    arn = json.loads(first.stdout)["PipelineExecutionArn"]
    assert ":pipeline/churn-model-dev-chained-fit/execution/" in arn

    # its own pipeline: the project's churn-model-dev is neither created nor overwritten
    names = [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]
    assert names == ["churn-model-dev-chained-fit"]
    stored = sm.describe_pipeline(PipelineName="churn-model-dev-chained-fit")
    assert stored["PipelineDefinition"].encode() == compiled.read_bytes()
    definition = json.loads(stored["PipelineDefinition"])
    executions = sm.list_pipeline_executions(PipelineName="churn-model-dev-chained-fit")
    assert [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]] == [arn]

    # the registration, behind the metric's Condition, into the migrated pipeline's group
    (check,) = [s for s in definition["Steps"] if s["Type"] == "Condition"]
    (register,) = check["Arguments"]["IfSteps"]
    assert register["Arguments"]["ModelPackageGroupName"] == "churn-model-models-chained-fit"
    metadata = register["Arguments"]["CustomerMetadataProperties"]
    assert metadata["sagepipe:MigratedFrom"] == "notebooks/chained_fit.ipynb"

    # every code object the definition points at is in the bucket
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="churn-model-dev")["Contents"]}
    text = stored["PipelineDefinition"]
    code = {k for k in keys if "/code/" in k}
    folders = {k.split("/code/")[1].split("/")[0] for k in code}
    assert folders and all(f"/code/{folder}" in text for folder in folders)
    assert any(k.endswith("/steps/chained_fit/evaluate.py") for k in code)
    (source,) = [k for k in code if k.endswith("/sourcedir.tar.gz")]  # the training job's
    packed = s3.get_object(Bucket="churn-model-dev", Key=source)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        assert "churn_model/steps/chained_fit/train.py" in archive.getnames()

    # the notebook's data, byte for byte, where the data parameter's default points
    (parameter,) = [p for p in definition["Parameters"] if p["Name"] == "ChainedFitDataDir"]
    prefix = parameter["DefaultValue"].removeprefix("s3://churn-model-dev/")
    body = s3.get_object(Bucket="churn-model-dev", Key=f"{prefix}/customers.csv")["Body"].read()
    assert body == (project / "notebooks" / "data" / "customers.csv").read_bytes()
    assert "1 notebook data files uploaded, 0 already in the bucket" in first.stderr

    # a second run updates the same pipeline and uploads nothing again
    second = run("run", "--pipeline", "chained_fit", "--target", "sagemaker")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "0 notebook data files uploaded, 1 already in the bucket" in second.stderr
    assert [len(servers.proxy.calls(op)) for op in ("CreatePipeline", "UpdatePipeline")] == [1, 1]
    assert len(servers.proxy.calls("StartPipelineExecution")) == 2


@pytest.mark.slow
def test_data_is_refused_for_a_migrated_pipeline_on_sagemaker_too(
    on_moto: tuple[Path, Any, Any],
) -> None:
    _, run, servers = on_moto
    refused = run(
        "run", "--pipeline", "chained_fit", "--target", "sagemaker", "--data", "notebooks/data"
    )
    assert refused.returncode != 0
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("error:")]
    assert "--data notebooks/data: pipeline 'chained_fit' reads the notebook's data" in line
    assert servers.proxy.operations() == []  # refused before any AWS call


@pytest.mark.slow
def test_runs_on_sagemaker_lists_the_project_and_migrated_pipelines_executions(
    on_moto: tuple[Path, Any, Any],
) -> None:
    _, run, servers = on_moto
    _client(servers, "s3").create_bucket(Bucket="churn-model-dev")
    started = {}
    for pipeline in ("project", "chained_fit"):
        done = run("run", "--pipeline", pipeline, "--target", "sagemaker", "--json")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        started[pipeline] = json.loads(done.stdout)["PipelineExecutionArn"]
        time.sleep(1.1)  # distinct start times, so newest-first is one order

    def listed(*args: str) -> list[tuple[str, str]]:
        done = run("runs", "--target", "sagemaker", "--json", *args)
        assert done.returncode == 0, done.stderr[-2000:]
        return [(r["PipelineName"], r["PipelineExecutionId"]) for r in json.loads(done.stdout)]

    # every pipeline of the project, each under its SageMaker name, newest first
    assert listed() == [
        ("churn-model-dev-chained-fit", started["chained_fit"]),
        ("churn-model-dev", started["project"]),
    ]
    # --pipeline NAME, as `run --pipeline NAME` takes it
    assert listed("--pipeline", "chained_fit") == [
        ("churn-model-dev-chained-fit", started["chained_fit"])
    ]
    assert listed("--pipeline", "project") == [("churn-model-dev", started["project"])]
    assert listed("--limit", "1") == [("churn-model-dev-chained-fit", started["chained_fit"])]
    unknown = run("runs", "--target", "sagemaker", "--pipeline", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: pipeline 'nope': no migrated pipeline")

    # stop takes every ARN runs lists: a migrated pipeline's execution is the project's too
    run("stop", started["chained_fit"])  # moto has no StopPipelineExecution: it fails there
    stops = servers.proxy.calls("StopPipelineExecution")  # botocore retries moto's error
    assert {c.json()["PipelineExecutionArn"] for c in stops} == {started["chained_fit"]}
    other = started["chained_fit"].replace("churn-model-dev-chained-fit", "someone-else")
    refused = run("stop", other)
    assert refused.returncode == 1
    assert (
        "belongs to pipeline someone-else, not churn-model-dev or churn-model-dev-chained-fit"
        in refused.stderr
    )
    assert len(servers.proxy.calls("StopPipelineExecution")) == len(stops)  # refused first


@pytest.mark.slow
def test_runs_on_sagemaker_skips_a_migrated_pipeline_never_run_there(
    on_moto: tuple[Path, Any, Any],
) -> None:
    _, run, servers = on_moto
    _client(servers, "s3").create_bucket(Bucket="churn-model-dev")
    done = run("run", "--target", "sagemaker", "--json")  # the project pipeline only
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    arn = json.loads(done.stdout)["PipelineExecutionArn"]
    listed = run("runs", "--target", "sagemaker", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert [r["PipelineExecutionId"] for r in json.loads(listed.stdout)] == [arn]
    alone = run("runs", "--target", "sagemaker", "--pipeline", "chained_fit", "--json")
    assert (alone.returncode, json.loads(alone.stdout)) == (0, [])
