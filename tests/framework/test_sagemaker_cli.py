"""The CLI factories with --target sagemaker (moto on loopback), and the local path's imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import click
from click.testing import CliRunner

from aws_loopback import REGION
from sagepipe.cli import make_run_command, make_runs_command, make_stop_command
from test_sagemaker_pipeline import BUCKET, PIPELINE, _prepared

FRAMEWORK_SRC = Path(__file__).resolve().parents[2] / "{{cookiecutter.project_slug}}" / "src"


def _cli() -> click.Group:
    @click.group()
    def cli() -> None:
        """Test CLI."""

    cli.add_command(
        make_run_command(
            build=lambda _w: {}, aws_prepare=lambda _w: _prepared(), pipeline_name=PIPELINE
        )
    )
    target = lambda: _prepared().target  # noqa: E731
    cli.add_command(make_runs_command(aws_target=target))
    cli.add_command(make_stop_command(target))
    return cli


def test_run_prints_the_execution_arn_and_says_what_it_does_first(aws, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)

    result = CliRunner().invoke(
        _cli(),
        ["run", "--target", "sagemaker", "--param", "AccuracyThreshold=0.5"],
        env={"SAGEPIPE_WORKSPACE": str(tmp_path)},
    )

    assert result.exit_code == 0, result.output
    arn = result.stdout.strip()
    assert arn.startswith(f"arn:aws:sagemaker:{REGION}:") and f"pipeline/{PIPELINE}/" in arn
    lines = result.stderr.splitlines()
    assert lines.index(f"creating pipeline {PIPELINE} (role {_prepared().target.role_arn}) ...") < (
        lines.index(f"starting pipeline {PIPELINE} with AccuracyThreshold=0.5 ...")
    )
    assert any(line.endswith("code objects uploaded, 0 already in the bucket") for line in lines)
    listed = CliRunner().invoke(_cli(), ["runs", "--target", "sagemaker", "--json"])
    (record,) = json.loads(listed.stdout)
    assert record["PipelineExecutionId"] == arn
    assert record["Parameters"] == {"AccuracyThreshold": "0.5"}
    assert record["Status"] == "Succeeded"  # moto finishes executions at once


def test_run_without_the_bucket_exits_1_with_one_line(aws, tmp_path):
    result = CliRunner().invoke(
        _cli(), ["run", "--target", "sagemaker"], env={"SAGEPIPE_WORKSPACE": str(tmp_path)}
    )

    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: checking bucket s3://{BUCKET} failed: AWS said 404")
    )
    assert "Traceback" not in result.output


def test_run_wait_follows_the_steps_and_fails_in_one_line_where_moto_stops(aws, tmp_path):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)

    result = CliRunner().invoke(
        _cli(),
        ["run", "--target", "sagemaker", "--wait"],
        env={"SAGEPIPE_WORKSPACE": str(tmp_path)},
    )

    # moto does not implement ListPipelineExecutionSteps: the watch asks for it and the
    # command reports that as a one-line AWS failure with exit 1.
    assert result.exit_code == 1
    assert aws.proxy.calls("ListPipelineExecutionSteps")
    assert "error: listing the steps of arn:aws:sagemaker" in result.stderr


def test_stop_refuses_an_execution_of_another_pipeline(aws):
    other = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/someone-else/execution/abc"

    result = CliRunner().invoke(_cli(), ["stop", other])

    assert result.exit_code == 1
    assert "belongs to pipeline someone-else" in result.stderr
    assert aws.proxy.operations() == []


def test_the_local_path_never_imports_an_aws_sdk(tmp_path):
    code = (
        "import sys\n"
        "from sagepipe.cli import make_framework_cli\n"
        "try:\n"
        "    make_framework_cli()(['runs', '--workspace', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore'))\n"
        "print('AWS:', loaded)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(FRAMEWORK_SRC))

    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "no runs yet" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "AWS: []"


def test_runs_show_on_sagemaker_asks_for_the_steps_and_fails_in_one_line(aws):
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{PIPELINE}/execution/abc"

    result = CliRunner().invoke(_cli(), ["runs", "show", arn, "--target", "sagemaker"])

    # moto knows no such execution (and has no ListPipelineExecutionSteps at all).
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: describing execution {arn} failed: AWS said")
    assert len(result.stderr.strip().splitlines()) == 1


def test_runs_show_of_an_unknown_local_execution_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(_cli(), ["runs", "show", "nope", "--workspace", str(tmp_path)])

    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no execution 'nope' in the local history; see `runs`"


def test_failures_name_the_likely_fix_for_each_kind_of_aws_error():
    from botocore.exceptions import ClientError

    from sagepipe.sagemaker.errors import describe_failure

    def failure(code: str, message: str) -> str:
        error = ClientError({"Error": {"Code": code, "Message": message}}, "CreateEndpoint")
        return describe_failure("creating endpoint e (ml.m5.large x1)", error)

    quota = failure("ResourceLimitExceeded", "account-level service limit 'ml.m5.large' is 0")
    denied = failure("AccessDeniedException", "User is not authorized to perform CreateEndpoint")
    region = failure("301", "Moved Permanently")

    assert quota.startswith("creating endpoint e (ml.m5.large x1) failed: AWS said Resource")
    assert "Service Quotas" in quota
    assert "IAM permission" in denied
    assert "MLOPS_REGION" in region
    assert all("\n" not in m for m in (quota, denied, region))


def test_the_progress_table_draws_sagemaker_steps_and_exit_codes_follow_the_status():
    import io

    from sagepipe.cli import Progress
    from sagepipe.sagemaker.commands import exit_code
    from sagepipe.sagemaker.pipelines import Event, RemoteExecution, RemoteStep

    step = RemoteStep("Train", status="Failed", duration_seconds=12.5, failure_reason="OOM")
    execution = RemoteExecution("arn:x", PIPELINE, "Failed", steps={"Train": step})
    plain, live = io.StringIO(), io.StringIO()

    Progress(plain, live=False)(Event(execution, step))
    table = Progress(live, live=True)
    table(Event(execution, None))
    table.close()

    assert plain.getvalue().split(" ", 1)[1] == "Train Failed 12.5s: OOM\n"
    assert "Train  Failed" in live.getvalue() and "12.5s" in live.getvalue()
    assert [exit_code(s) for s in ("Succeeded", "Failed", "Stopped")] == [0, 1, 130]


def test_ctrl_c_while_waiting_detaches_and_leaves_the_execution_running(aws, capsys):
    from sagepipe.sagemaker import commands

    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)

    def interrupted(_event):  # Ctrl-C arriving while the table is drawn
        raise KeyboardInterrupt

    code = commands.run(
        _prepared(), {}, wait=True, as_json=False, progress=interrupted, poll_delay=0
    )

    assert code == 0
    assert aws.proxy.calls("DescribePipelineExecution")
    assert aws.proxy.calls("StopPipelineExecution") == []  # detached, not stopped
    assert "detached; arn:aws:sagemaker:" in capsys.readouterr().err
