"""``monitor --target sagemaker``: the monitoring job as a Processing job, once or scheduled.

Against moto's server on loopback behind the recording proxy. moto keeps processing jobs
(Completed at once) and EventBridge Scheduler schedules, but runs neither: it drops a
job's Environment and never fires a schedule. So the tests assert the requests we sent,
and where the job's outcome matters the proxy plays SageMaker's job runtime: on
CreateProcessingJob it downloads each S3 input from moto to the job's local path, runs
the job's entry point with its environment (only the uploaded code on PYTHONPATH) and
uploads its output folder, as a SageMaker Processing container would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from aws_loopback import create_model_package
from {{ cookiecutter.package_name }} import data
from {{ cookiecutter.package_name }}.cli import make_cli

from sagepipe.monitor.baseline import baseline
from sagepipe.serving.capture import CaptureWriter, record

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/MonitoringScheduler"
GROUP = "{{ cookiecutter.project_slug }}-models"
BUCKET = "{{ cookiecutter.project_slug }}-staging"
PREFIX = "{{ cookiecutter.project_slug }}"
ENDPOINT = "{{ cookiecutter.project_slug }}-staging"
BASELINE = f"s3://{BUCKET}/{PREFIX}/exec-1/BaselineTrainingData/output"


def _cli(*args: str) -> Result:
    return CliRunner().invoke(make_cli(), list(args))


def _s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def _upload_folder(folder: Path, uri: str) -> None:
    bucket, _, prefix = uri[5:].partition("/")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
        _s3().upload_file(str(path), bucket, key)


def _capture(folder: Path, frame: pd.DataFrame, when: datetime) -> None:
    """SageMaker's data-capture lines of ``frame`` sent to the staging endpoint at ``when``."""
    writer = CaptureWriter(folder, ENDPOINT)
    for i, row in enumerate(frame[list(data.FEATURES)].itertuples(index=False)):
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["" if pd.isna(v) else v for v in row])
        reply = {"predictions": [{"label": 0, "probability": 0.2}]}
        writer.write(
            "AllTraffic",
            record(
                event_id=f"{when:%d%H%M}-{i}",
                request=buffer.getvalue().encode(),
                request_type="text/csv",
                response=json.dumps(reply).encode(),
                response_type="application/json",
                latency_ms=2.0,
                when=when,
            ),
            when,
        )
    writer.close()


@pytest.fixture
def deployed(aws: Any, processed: dict[str, Path], tmp_path: Path) -> dict[str, Any]:
    """A version with a training-data baseline, served by the staging endpoint, whose
    capture holds clean traffic on Jan 1 and drifted traffic (monthly charges x1.6) on Jan 2."""
    _s3().create_bucket(Bucket=BUCKET)
    baseline(processed["train"], tmp_path / "baseline", exclude=[data.TARGET])
    _upload_folder(tmp_path / "baseline", BASELINE)
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    quality = {
        "Statistics": {"ContentType": "application/json", "S3Uri": f"{BASELINE}/statistics.json"},
        "Constraints": {
            "ContentType": "application/json",
            "S3Uri": f"{BASELINE}/constraints.json",
        },
    }
    create_model_package(
        sm,
        GROUP,
        f"s3://{BUCKET}/models/1/model.tar.gz",
        DriftCheckBaselines={"ModelDataQuality": quality},
    )
    assert _cli("deploy", "--stage", "staging", "--target", "sagemaker").exit_code == 0
    test = pd.read_csv(processed["test"] / "test.csv")
    drifted = test.copy()
    drifted["monthly_charges"] = drifted["monthly_charges"] * 1.6
    capture = tmp_path / "capture"
    _capture(capture, test, datetime(2026, 1, 1, 10, tzinfo=timezone.utc))
    _capture(capture, drifted, datetime(2026, 1, 2, 10, tzinfo=timezone.utc))
    _upload_folder(capture, f"s3://{BUCKET}/{PREFIX}/datacapture")
    aws.proxy.clear()
    return {"rows": len(test)}


# -- SageMaker's job runtime, for the jobs moto only records ------------------------------
def _download_input(s3_input: dict[str, Any], root: Path) -> None:
    bucket, _, prefix = s3_input["S3Uri"][5:].partition("/")
    local = root / s3_input["LocalPath"].lstrip("/")
    local.mkdir(parents=True, exist_ok=True)
    pages = _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for obj in (o for page in pages for o in page.get("Contents", [])):
        # An S3Prefix input keeps each key's path below the prefix (a key that is the
        # prefix itself keeps its file name).
        relative = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
        (local / relative).parent.mkdir(parents=True, exist_ok=True)
        _s3().download_file(bucket, obj["Key"], str(local / relative))


def run_like_sagemaker(request: dict[str, Any], root: Path) -> subprocess.CompletedProcess[str]:
    """Run a CreateProcessingJob request the way a SageMaker Processing container would."""
    job = root / request["ProcessingJobName"]

    def remap(value: str) -> str:
        return value.replace("/opt/ml/", f"{job}/opt/ml/")

    for item in request["ProcessingInputs"]:
        _download_input(item["S3Input"], job)
    entry = request["AppSpecification"]["ContainerEntrypoint"]
    assert entry[0] == "python3"
    env = {k: remap(v) for k, v in request["Environment"].items()}
    env["PATH"] = os.environ["PATH"]
    done = subprocess.run(
        [sys.executable, *entry[1:]],
        env=env,
        cwd=job,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == 0:
        for output in request["ProcessingOutputConfig"]["Outputs"]:
            folder = Path(remap(output["S3Output"]["LocalPath"]))
            _upload_folder(folder, output["S3Output"]["S3Uri"])
    return done


@pytest.fixture
def runtime(aws: Any, tmp_path: Path) -> Iterator[list[subprocess.CompletedProcess[str]]]:
    """Each CreateProcessingJob sent through the proxy is run; their outcomes, in order."""
    runs: list[subprocess.CompletedProcess[str]] = []
    aws.proxy.after["CreateProcessingJob"] = lambda req: runs.append(
        run_like_sagemaker(req.json(), tmp_path / "jobs")
    )
    yield runs
    aws.proxy.after.clear()


def _violations(uri: str) -> list[dict[str, str]]:
    bucket, _, key = f"{uri}/constraint_violations.json"[5:].partition("/")
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return list(json.loads(body)["violations"])


# -- once -----------------------------------------------------------------------------------
def test_monitor_starts_a_processing_job_on_the_capture_and_the_served_versions_baseline(
    aws: Any, deployed: dict[str, Any]
) -> None:
    result = _cli("monitor", "--stage", "staging", "--target", "sagemaker", "--json")

    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    assert started["Model"] == f"{GROUP}/1"
    assert f"starting monitoring processing job {started['ProcessingJobName']} ..." in (
        result.stderr
    )
    (call,) = aws.proxy.calls("CreateProcessingJob")
    request = call.json()
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["endpoint"]["S3Uri"] == (
        f"s3://{BUCKET}/{PREFIX}/datacapture/{ENDPOINT}/AllTraffic/"
    )
    assert inputs["baseline_statistics"]["S3Uri"] == f"{BASELINE}/statistics.json"
    assert inputs["baseline_constraints"]["S3Uri"] == f"{BASELINE}/constraints.json"
    assert request["RoleArn"] == ROLE
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-m",
        "sagepipe.monitor",
    ]
    assert request["Environment"]["PYTHONPATH"] == inputs["code"]["LocalPath"]
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert output == f"s3://{BUCKET}/{PREFIX}/monitoring/staging/{started['ProcessingJobName']}"
    # The job's code was uploaded content-addressed: every module of sagepipe.monitor.
    code = inputs["code"]["S3Uri"]
    assert "/code/" in code and len(code.rstrip("/").rsplit("/", 1)[-1]) == 64
    listed = _s3().list_objects_v2(Bucket=BUCKET, Prefix=code[len(f"s3://{BUCKET}/") :])
    names = {o["Key"].rsplit("/", 1)[-1] for o in listed["Contents"]}
    assert {"__main__.py", "container.py", "job.py", "checks.py", "window.py"} <= names
    described = boto3.client("sagemaker", region_name=REGION).describe_processing_job(
        ProcessingJobName=started["ProcessingJobName"]
    )
    assert described["ProcessingJobStatus"] == "Completed"  # moto's answer: it ran nothing


def test_the_code_is_not_uploaded_again_when_it_did_not_change(
    aws: Any, deployed: dict[str, Any]
) -> None:
    first = _cli("monitor", "--stage", "staging", "--target", "sagemaker")
    puts = len(aws.proxy.s3_requests("PUT"))
    second = _cli("monitor", "--stage", "staging", "--target", "sagemaker")

    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert puts > 0 and len(aws.proxy.s3_requests("PUT")) == puts
    assert "0 code objects uploaded" in second.stderr


def test_waiting_for_the_job_reports_the_drifted_feature_and_exits_1(
    aws: Any, deployed: dict[str, Any], runtime: list[Any], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    result = _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--wait", "-o", str(out)
    )

    (run,) = runtime
    assert run.returncode == 0, run.stderr
    assert result.exit_code == 1, result.output
    assert "VIOLATION baseline_drift_check monthly_charges" in result.stdout
    assert "tenure_months" not in result.stdout
    assert f"{2 * deployed['rows']} rows" in result.stdout  # both days: no window given
    found = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert {v["feature_name"] for v in found} == {"monthly_charges"}
    assert (out / "report.html").is_file()


def test_since_limits_the_job_to_the_traffic_captured_after_it(
    aws: Any, deployed: dict[str, Any], runtime: list[Any], tmp_path: Path
) -> None:
    result = _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--wait", "--json",
        "--since", "2026-01-02T00:00", "-o", str(tmp_path / "r"),
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)["Summary"]
    assert summary["rows"] == deployed["rows"]  # Jan 2 only
    assert [v["feature_name"] for v in summary["violations"]] == ["monthly_charges"]


def test_bad_since_and_local_only_options_fail_in_one_line_before_any_call(
    aws: Any, deployed: dict[str, Any]
) -> None:
    for args, needle in (
        (["--since", "yesterday"], "--since 'yesterday': not a time"),
        (["--ground-truth", __file__], "--ground-truth is not available with --target sagemaker"),
    ):
        result = _cli("monitor", "--stage", "staging", "--target", "sagemaker", *args)
        assert result.exit_code != 0
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert aws.proxy.calls("CreateProcessingJob") == []


def test_a_version_without_a_baseline_is_refused_with_the_fix(aws: Any) -> None:
    _s3().create_bucket(Bucket=BUCKET)
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/p:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    result = _cli("monitor", "--stage", "staging", "--target", "sagemaker", "--version", "1")

    assert result.exit_code == 1
    assert "has no data-quality baseline" in result.stderr
    assert "run the pipeline with --target sagemaker" in result.stderr


# -- on a schedule ----------------------------------------------------------------------------
SCHEDULE = "{{ cookiecutter.project_slug }}-monitor-staging"


def _scheduler() -> Any:
    return boto3.client("scheduler", region_name=REGION)


def _schedule(expression: str, *extra: str) -> Result:
    return _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--schedule", expression, *extra
    )


def test_schedule_targets_create_processing_job_with_the_scheduler_role(
    aws: Any, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)

    result = _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--schedule", "rate(1 day)"
    )

    assert result.exit_code == 0, result.output
    name = "{{ cookiecutter.project_slug }}-monitor-staging"
    assert f"created schedule {name} (rate(1 day))" in result.stdout
    schedule = _scheduler().get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
    assert target["RoleArn"] == SCHEDULER_ROLE
    request = json.loads(target["Input"])
    assert request["ProcessingJobName"].endswith("-<aws.scheduler.execution-id>")
    assert request["Environment"]["end_time"] == "<aws.scheduler.scheduled-time>"
    assert request["Environment"]["since"] == "1d"  # the schedule's period
    assert request["RoleArn"] == ROLE  # the job itself runs as the execution role
    assert aws.proxy.calls("CreateProcessingJob") == []  # nothing runs until it fires

    again = _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--schedule", "rate(6 hours)"
    )
    assert again.exit_code == 0, again.output
    assert f"updated schedule {name} (rate(6 hours))" in again.stdout
    updated = _scheduler().get_schedule(Name=name)
    assert json.loads(updated["Target"]["Input"])["Environment"]["since"] == "6h"


def test_when_the_schedule_fires_its_job_checks_the_window_before_the_scheduled_time(
    aws: Any,
    deployed: dict[str, Any],
    runtime: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLOPS_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    assert _schedule("rate(1 day)").exit_code == 0
    target = _scheduler().get_schedule(Name=SCHEDULE)["Target"]
    sm = boto3.client("sagemaker", region_name=REGION)

    def fire(execution_id: str, scheduled: str) -> str:
        # What EventBridge Scheduler does when it fires: fill in its context attributes
        # and send the Input as the CreateProcessingJob request (botocore checks its shape).
        text = target["Input"].replace("<aws.scheduler.execution-id>", execution_id)
        request = json.loads(text.replace("<aws.scheduler.scheduled-time>", scheduled))
        sm.create_processing_job(**request)
        return str(request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])

    clean = fire("d32c5kddcf5bb8c3", "2026-01-02T00:00:00Z")  # checks Jan 1
    drifted = fire("e41d6leedg6cc9d4", "2026-01-03T00:00:00Z")  # checks Jan 2

    assert [run.returncode for run in runtime] == [0, 0], [run.stderr for run in runtime]
    assert _violations(clean) == []
    assert {v["feature_name"] for v in _violations(drifted)} == {"monthly_charges"}


def test_a_cron_schedule_needs_a_window_and_a_bad_expression_is_refused(
    aws: Any, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    base = ["monitor", "--stage", "staging", "--target", "sagemaker", "--schedule"]

    cron = _cli(*base, "cron(0 6 * * ? *)")
    bad = _cli(*base, "every day")
    ok = _cli(*base, "cron(0 6 * * ? *)", "--since", "1d")

    assert cron.exit_code == 1 and "pass --since WINDOW" in cron.stderr
    assert bad.exit_code == 1 and "is not a schedule expression" in bad.stderr
    assert ok.exit_code == 0, ok.output
    schedule = _scheduler().get_schedule(Name="{{ cookiecutter.project_slug }}-monitor-staging")
    assert schedule["ScheduleExpression"] == "cron(0 6 * * ? *)"


def test_scheduling_without_the_scheduler_role_says_where_to_get_it(
    aws: Any, deployed: dict[str, Any]
) -> None:
    result = _cli(
        "monitor", "--stage", "staging", "--target", "sagemaker", "--schedule", "rate(1 day)"
    )

    assert result.exit_code == 1
    assert "MLOPS_SCHEDULER_ROLE_ARN is not set" in result.stderr
    assert "MonitoringSchedulerRoleArn" in result.stderr
    assert aws.proxy.operations() == []  # refused before any call


def test_schedules_are_listed_and_unscheduled(
    aws: Any, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    assert _schedule("rate(1 hour)").exit_code == 0

    listed = _cli("monitor-schedules", "--json")
    removed = _cli("monitor", "--stage", "staging", "--target", "sagemaker", "--unschedule")
    again = _cli("monitor", "--stage", "staging", "--target", "sagemaker", "--unschedule")
    empty = _cli("monitor-schedules")

    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)
    assert row["Name"] == "{{ cookiecutter.project_slug }}-monitor-staging"
    assert (row["ScheduleExpression"], row["State"]) == ("rate(1 hour)", "ENABLED")
    assert row["EndpointName"] == ENDPOINT
    assert removed.exit_code == 0 and "deleted schedule" in removed.stdout
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    assert "no monitoring schedules" in empty.stdout


def test_access_denied_on_starting_the_job_fails_in_one_line_with_the_fix(
    aws: Any, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_loopback import Fault

    monkeypatch.setenv("MLOPS_SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    aws.proxy.faults.append(
        Fault("CreateProcessingJob", "AccessDeniedException", "not authorized to perform it")
    )
    result = _cli("monitor", "--stage", "staging", "--target", "sagemaker")

    assert result.exit_code == 1
    (line,) = [x for x in result.stderr.strip().splitlines() if x.startswith("error:")]
    assert "starting monitoring processing job" in line
    assert "AWS said AccessDeniedException" in line and "IAM permission" in line


def test_schedule_flags_without_the_sagemaker_target_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLOPS_TARGET", raising=False)
    for flags in (["--schedule", "rate(1 day)"], ["--unschedule"], ["--wait"]):
        result = _cli("monitor", "--stage", "staging", *flags)
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"error: {flags[0]} is for SageMaker: add --target sagemaker")
