"""Step ordering: independent steps run at the same time, dependencies wait."""

from __future__ import annotations

import pytest

from _local_scripts import write_object
from sagepipe.local import DefinitionError, execute

# Each job announces itself, then waits for its partner: both can only succeed when they
# run at the same time (a serial executor makes the first one give up).
RENDEZVOUS = r"""
import os, sys, time
from pathlib import Path
me, partner, folder = sys.argv[1], sys.argv[2], Path(os.environ["RENDEZVOUS"])
(folder / me).write_text("started")
deadline = time.monotonic() + 30
while not (folder / partner).exists():
    if time.monotonic() > deadline:
        sys.exit(f"{me}: {partner} never started while I was running")
    time.sleep(0.02)
(folder / f"{me}.done").write_text("done")
"""

AFTER_BOTH = r"""
import os, sys
from pathlib import Path
folder = Path(os.environ["RENDEZVOUS"])
missing = [n for n in ("A.done", "B.done") if not (folder / n).exists()]
sys.exit(f"ran before {missing}" if missing else 0)
"""


def _processing(name, args, env, depends_on=()):
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": "local",
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{name}.py"],
                "ContainerArguments": list(args),
            },
            "Environment": env,
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://b/code/{name}.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                    },
                }
            ],
        },
    }
    if depends_on:
        step["DependsOn"] = list(depends_on)
    return step


def test_independent_steps_run_in_parallel_and_dependants_wait_for_all(tmp_path):
    workspace = tmp_path / "ws"
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    env = {"RENDEZVOUS": str(meeting)}
    for name in ("A", "B"):
        write_object(workspace / "s3", f"s3://b/code/{name}.py", RENDEZVOUS)
    write_object(workspace / "s3", "s3://b/code/C.py", AFTER_BOTH)
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            _processing("A", ["A", "B"], env),
            _processing("B", ["B", "A"], env),
            _processing("C", [], env, depends_on=["A", "B"]),
        ],
    }

    execution = execute(definition, workspace=workspace, max_workers=2)

    assert execution.status == "Succeeded", execution.failure_reason
    assert execution.steps["C"].started >= max(
        execution.steps["A"].ended, execution.steps["B"].ended
    )


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [
                {"Name": "A", "Type": "Fail", "DependsOn": ["B"]},
                {"Name": "B", "Type": "Fail", "DependsOn": ["A"]},
            ],
            "steps form a cycle: A -> B -> A",
        ),
        (
            [{"Name": "A", "Type": "Fail", "DependsOn": ["Missing"]}],
            "step A depends on unknown step 'Missing'",
        ),
        (
            [{"Name": "A", "Type": "Fail"}, {"Name": "A", "Type": "Fail"}],
            "step name 'A' is used twice",
        ),
        (
            [{"Name": "T", "Type": "EMR"}],  # Transform and Model run locally now
            "step T has Type 'EMR'",
        ),
    ],
)
def test_invalid_definitions_are_rejected_before_anything_runs(tmp_path, steps, message):
    with pytest.raises(DefinitionError, match=message):
        execute({"Version": "2020-12-01", "Steps": steps}, workspace=tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_unsupported_definition_version_is_named(tmp_path):
    with pytest.raises(DefinitionError, match="Version '2019-01-01' is not supported"):
        execute({"Version": "2019-01-01", "Steps": []}, workspace=tmp_path / "ws")


def test_a_fresh_workspace_starts_the_step_that_took_longest_last_time_first(tmp_path, monkeypatch):
    from sagepipe.local.step_times import last_seconds

    monkeypatch.setenv("SAGEPIPE_RUNTIME_CACHE", str(tmp_path / "cache"))
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [_processing("Quick", ["0.01"], {}), _processing("Slow", ["0.6"], {})],
    }
    for step in definition["Steps"]:
        step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P1D"}
    sleep = "import sys, time; time.sleep(float(sys.argv[1]))"

    def run(workspace):
        for name in ("Quick", "Slow"):
            write_object(workspace / "s3", f"s3://b/code/{name}.py", sleep)
        execution = execute(definition, workspace=workspace, max_workers=1, pipeline_name="p")
        assert execution.status == "Succeeded", execution.failure_reason
        return execution

    first = run(tmp_path / "ws1")  # nothing known: definition order
    assert first.steps["Quick"].started <= first.steps["Slow"].started
    known = last_seconds("p")
    assert known["Slow"] > known["Quick"]

    second = run(tmp_path / "ws2")

    assert second.steps["Slow"].ended <= second.steps["Quick"].started
    cached = run(tmp_path / "ws2")  # every step a cache hit: what is known stays
    assert all(step.cache_hit for step in cached.steps.values())
    assert last_seconds("p")["Slow"] >= 0.6
