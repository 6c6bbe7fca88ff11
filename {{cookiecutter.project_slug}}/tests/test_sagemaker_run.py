"""run --target sagemaker through the project CLI, against moto's server on loopback.

moto stores the pipeline and marks executions Succeeded at once (it runs no step), so
these tests check what reached it: the definition, the code objects, the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from {{ cookiecutter.package_name }}.cli import make_cli

BUCKET = "{{ cookiecutter.project_slug }}-dev"
PIPELINE = "{{ cookiecutter.project_slug }}-dev"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace for this test."""
    monkeypatch.setenv("SAGEPIPE_WORKSPACE", str(tmp_path / "ws"))
    return tmp_path / "ws"


def test_run_uploads_exactly_what_compile_writes_and_skips_it_the_second_time(
    aws: Any, workspace: Path, tmp_path: Path
) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    compiled = tmp_path / "pipeline.json"
    assert CliRunner().invoke(make_cli(), ["compile", "-o", str(compiled)]).exit_code == 0

    first = CliRunner().invoke(make_cli(), ["run", "--target", "sagemaker", "--data", "data/raw"])
    second = CliRunner().invoke(make_cli(), ["run", "--target", "sagemaker"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    sm = boto3.client("sagemaker", region_name="us-east-1")
    stored = sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"]
    assert stored.encode() == compiled.read_bytes()
    assert " 0 already in the bucket" in first.stderr
    assert "0 code objects uploaded" in second.stderr
    assert "1 data files uploaded" in first.stderr
    keys = [
        o["Key"]
        for o in boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)[
            "Contents"
        ]
    ]
    assert any(k.endswith("/input/raw/churn.csv") for k in keys)
    assert [len(aws.proxy.calls(op)) for op in ("CreatePipeline", "UpdatePipeline")] == [1, 1]
    runs = CliRunner().invoke(make_cli(), ["runs", "--target", "sagemaker"])
    assert runs.stdout.count(f"pipeline/{PIPELINE}/execution/") == 2


def test_target_defaults_to_the_stage_setting(aws: Any, workspace: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("MLOPS_TARGET", "sagemaker")

    result = CliRunner().invoke(make_cli(), ["run"])  # no bucket on moto: fails on AWS

    assert result.exit_code == 1
    assert f"error: checking bucket s3://{BUCKET} failed" in result.stderr
