"""Containment, paths from a definition: nothing a definition says reaches outside its place.

Every hostile definition below is refused with one line naming the value and the rule,
before the workspace is created; outputs a job turned into links are refused, never
followed; and trees are only removed inside the run's own folder.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pytest

from sagepipe.local import DefinitionError, execute
from sagepipe.local.containment import remove_tree
from sagepipe.local.validate import definition_problems
from sagepipe.storage.objects import S3UriError, split_uri

BUCKET = "contain-bucket"


def _processing(name="Job", *, local_in="/opt/ml/processing/input/code", local_out=None):
    local_out = local_out or "/opt/ml/processing/out"
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": "local",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{BUCKET}/code/job.py",
                        "LocalPath": local_in,
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": f"s3://{BUCKET}/out",
                            "LocalPath": local_out,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
        },
    }


def _definition(*steps, parameters=None):
    return {"Version": "2020-12-01", "Parameters": parameters or [], "Steps": list(steps)}


def _workspace_with_script(tmp_path: Path, script: str) -> Path:
    workspace = tmp_path / "ws"
    code = workspace / "s3" / BUCKET / "code"
    code.mkdir(parents=True)
    (code / "job.py").write_text(script)
    return workspace


def _set(step, path, value):
    target = step
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return step


IN = ("Arguments", "ProcessingInputs", 0, "S3Input")
OUT = ("Arguments", "ProcessingOutputConfig", "Outputs", 0, "S3Output")

HOSTILE_STEP_NAMES = [
    "../escape",
    "a/b",
    "..",
    ".",
    "",
    "x" * 65,
    "name\n",
    "with space",
    "nul\0byte",
    "/abs",
    "ünïcode",
    42,
]


@pytest.mark.parametrize("name", HOSTILE_STEP_NAMES, ids=repr)
def test_step_names_outside_the_service_pattern_are_refused_before_anything_is_written(
    tmp_path, name
):
    with pytest.raises(DefinitionError, match=r"step name .* is not valid") as info:
        execute(_definition(_processing(name)), workspace=tmp_path / "ws")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ws").exists()


HOSTILE_LOCAL_PATHS = [
    "/opt/ml/processing/../../../etc",
    "/opt/ml/../..",
    "/etc/cron.d",
    "/opt/ml",
    "/opt/ml/processing",
    "/opt/ml/processing/..",
    "opt/ml/processing/x",
    "/opt/mlx/processing/x",
    "/opt/ml/processing/x\0y",
    "/opt/ml/processing/" + "d" * 300,
    "",
]


@pytest.mark.parametrize("local_path", HOSTILE_LOCAL_PATHS, ids=repr)
@pytest.mark.parametrize("where", [IN, OUT], ids=["input", "output"])
def test_local_paths_that_leave_opt_ml_processing_are_refused(tmp_path, where, local_path):
    step = _set(_processing(), (*where, "LocalPath"), local_path)
    with pytest.raises(DefinitionError, match="LocalPath"):
        execute(_definition(step), workspace=tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_a_local_path_given_by_a_parameter_is_checked_once_resolved(tmp_path):
    workspace = _workspace_with_script(tmp_path, "print('never runs')\n")
    step = _set(_processing(), (*OUT, "LocalPath"), {"Get": "Parameters.Where"})
    parameters = [{"Name": "Where", "Type": "String", "DefaultValue": "/opt/ml/processing/o"}]
    outside = tmp_path / "outside"

    execution = execute(
        _definition(step, parameters=parameters),
        workspace=workspace,
        parameters={"Where": f"/opt/ml/processing/../../../../../..{outside}"},
    )

    assert execution.status == "Failed"
    assert "LocalPath" in execution.failure_reason and "outside" in execution.failure_reason
    assert not outside.exists()


HOSTILE_URIS = [
    "s3://../x",
    "s3://./x",
    "s3://..",
    "s3://UPPER/x",
    "s3://-dash/x",
    "s3://bucket./x",
    "s3://a..b/x",
    "s3://" + "b" * 64 + "/x",
    f"s3://{BUCKET}/../../etc",
    f"s3://{BUCKET}/a/./b",
    f"s3://{BUCKET}/nul\0",
    "http://bucket/x",
    "/etc/passwd",
]


@pytest.mark.parametrize("uri", HOSTILE_URIS, ids=repr)
@pytest.mark.parametrize("where", [IN, OUT], ids=["input", "output"])
def test_uris_with_bad_buckets_or_dot_segments_are_refused(tmp_path, where, uri):
    step = _set(_processing(), (*where, "S3Uri"), uri)
    with pytest.raises(DefinitionError, match=r"S3|s3://") as info:
        execute(_definition(step), workspace=tmp_path / "ws")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("bucket", ["..", ".", "a..b", "Caps", "under_score"])
def test_the_local_s3_never_maps_a_bad_bucket_to_a_folder(bucket):
    with pytest.raises(S3UriError, match="bucket"):
        split_uri(f"s3://{bucket}/key")


ENUM_VIOLATIONS = [
    ((*IN, "S3DataType"), "Folder"),
    ((*IN, "S3InputMode"), "Stream"),
    ((*IN, "S3DataDistributionType"), "Random"),
    ((*IN, "S3CompressionType"), "Zip"),
    ((*OUT, "S3UploadMode"), "Sometimes"),
    (("Type",), "Lambda"),
]


@pytest.mark.parametrize(("path", "value"), ENUM_VIOLATIONS, ids=lambda v: str(v))
def test_enum_values_outside_the_service_list_are_refused(tmp_path, path, value):
    step = _set(_processing(), path, value)
    with pytest.raises(DefinitionError, match=repr(value)):
        execute(_definition(step), workspace=tmp_path / "ws")


def test_counts_above_the_service_limits_are_refused():
    step = _processing()
    inputs = step["Arguments"]["ProcessingInputs"]
    for i in range(11):
        extra = copy.deepcopy(inputs[0])
        extra["InputName"] = f"in{i}"
        extra["S3Input"]["LocalPath"] = f"/opt/ml/processing/in{i}"
        inputs.append(extra)
    step["Arguments"]["Environment"] = {f"K{i}": "v" for i in range(101)}
    problems = definition_problems(_definition(step))
    assert any("12 ProcessingInputs exceed the service limit of 10" in p for p in problems)
    assert any("101 Environment entries" in p for p in problems)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["Parameters"].append({"Name": "bad name", "Type": "String"}), "parameter"),
        (lambda d: d["Parameters"].append({"Name": "P", "Type": "Str"}), "Type 'Str'"),
        (lambda d: d["Steps"][0].__setitem__("DependsOn", "Other"), "DependsOn"),
        (lambda d: d["Steps"][0]["Arguments"].__setitem__("Environment", {"A=B": "x"}), "key"),
        (
            lambda d: d["Steps"][0]["Arguments"]["ProcessingInputs"][0].__setitem__(
                "InputName", ".."
            ),
            "InputName",
        ),
        (
            lambda d: d["Steps"][0].__setitem__(
                "PropertyFiles",
                [{"PropertyFileName": "p", "OutputName": "out", "FilePath": "../../x.json"}],
            ),
            "property file path",
        ),
        (
            lambda d: d["Steps"][0]["Arguments"].__setitem__(
                "StoppingCondition", {"MaxRuntimeInSeconds": -5}
            ),
            "MaxRuntimeInSeconds",
        ),
        (lambda d: d["Steps"].append(["not", "a", "step"]), "must be an object"),
    ],
)
def test_other_rule_breaks_are_named(tmp_path, mutate, expected):
    definition = _definition(_processing())
    mutate(definition)
    with pytest.raises(DefinitionError, match=expected):
        execute(definition, workspace=tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def _training(channel="train", program="train.py"):
    return {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "File"},
            "HyperParameters": {
                "sagemaker_program": program,
                "sagemaker_submit_directory": f"s3://{BUCKET}/code/src.tar.gz",
            },
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/train"}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        },
    }


@pytest.mark.parametrize("channel", ["..", ".", "a/b", "", "c" * 65])
def test_training_channel_names_cannot_name_a_folder_outside_input_data(tmp_path, channel):
    with pytest.raises(DefinitionError, match="ChannelName"):
        execute(_definition(_training(channel=channel)), workspace=tmp_path / "ws")


@pytest.mark.parametrize("program", ["../../../evil.py", "/tmp/evil.py", '"../x.py"'])
def test_training_programs_must_be_inside_the_source_archive(tmp_path, program):
    with pytest.raises(DefinitionError, match="sagemaker_program"):
        execute(_definition(_training(program=program)), workspace=tmp_path / "ws")


def test_every_problem_is_counted_and_the_first_is_reported_in_one_line(tmp_path):
    step = _set(_processing("../x"), (*IN, "LocalPath"), "/etc")
    _set(step, (*OUT, "S3Uri"), "s3://../up")
    with pytest.raises(DefinitionError, match=r"\(and 2 more problems\)") as info:
        execute(_definition(step), workspace=tmp_path / "ws")
    assert "\n" not in str(info.value)


# -- outputs that a job turned into links --------------------------------------------------
LINK_SCRIPTS = {
    "output folder replaced by a symlink": """
import os, shutil
out = '{opt}/processing/out'
shutil.rmtree(out)
os.symlink('{secret_dir}', out)
""",
    "symlink to a file outside": """
import os
os.symlink('{secret_dir}/secret.txt', '{opt}/processing/out/copy.txt')
""",
    "symlink to a folder outside": """
import os
os.symlink('{secret_dir}', '{opt}/processing/out/linked')
""",
    "hard link to a file outside": """
import os
os.link('{secret_dir}/secret.txt', '{opt}/processing/out/copy.txt')
""",
    "fifo in the output": """
import os
os.mkfifo('{opt}/processing/out/pipe')
""",
}


@pytest.mark.parametrize("case", sorted(LINK_SCRIPTS))
def test_outputs_holding_links_are_refused_and_nothing_outside_is_copied(tmp_path, case):
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_text("do not copy me")
    script = "from pathlib import Path\nopt = str(Path(__file__).resolve().parents[3])\n"
    body = LINK_SCRIPTS[case].replace("'{opt}", "opt + '").replace("{secret_dir}", str(secret_dir))
    workspace = _workspace_with_script(tmp_path, script + body)

    execution = execute(_definition(_processing()), workspace=workspace)

    assert execution.status == "Failed", case
    assert "output" in execution.failure_reason
    assert not (workspace / "s3" / BUCKET / "out").exists()
    assert (secret_dir / "secret.txt").read_text() == "do not copy me"
    assert sorted(p.name for p in secret_dir.iterdir()) == ["secret.txt"]


def test_plain_outputs_still_upload(tmp_path):
    script = (
        "from pathlib import Path\n"
        "out = Path(__file__).resolve().parents[3] / 'processing' / 'out'\n"
        "(out / 'sub').mkdir()\n(out / 'sub' / 'a.txt').write_text('ok')\n"
    )
    workspace = _workspace_with_script(tmp_path, script)
    execution = execute(_definition(_processing()), workspace=workspace)
    assert execution.status == "Succeeded", execution.failure_reason
    assert (workspace / "s3" / BUCKET / "out" / "sub" / "a.txt").read_text() == "ok"


# -- removing trees ---------------------------------------------------------------------------
def test_remove_tree_only_removes_real_folders_inside_the_owned_root(tmp_path):
    owned = tmp_path / "owned"
    (owned / "inside").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    os.symlink(outside, owned / "link")

    assert not remove_tree(owned / "link", owned)  # a link: left alone
    assert not remove_tree(outside, owned)  # not inside the owned root
    assert not remove_tree(owned / "inside" / ".." / ".." / "outside", owned)
    assert not remove_tree(owned, owned)  # never the root itself
    assert remove_tree(owned / "inside", owned)
    assert (outside / "keep.txt").read_text() == "keep"
    assert not (owned / "inside").exists()


def test_a_job_that_swaps_its_sandbox_for_a_link_cannot_make_cleanup_delete_outside(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious")
    script = (
        "import os, shutil\nfrom pathlib import Path\n"
        "opt = Path(__file__).resolve().parents[3]\n"
        "(opt / 'processing' / 'out' / 'r.txt').write_text('result')\n"
        f"staging = opt.parent / 'staging'\nos.symlink({str(victim)!r}, staging)\n"
    )
    workspace = _workspace_with_script(tmp_path, script)
    execution = execute(_definition(_processing()), workspace=workspace)
    assert execution.status == "Succeeded", execution.failure_reason
    assert (victim / "precious.txt").read_text() == "precious"


# -- runtime limits -----------------------------------------------------------------------
@pytest.mark.parametrize("limit", [1, 2])
def test_max_runtime_in_seconds_stops_a_job_at_its_limit(tmp_path, limit):
    pid_file = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        # a grandchild too: the whole process group must go
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    workspace = _workspace_with_script(tmp_path, script)
    step = _processing()
    step["Arguments"]["StoppingCondition"] = {"MaxRuntimeInSeconds": limit}
    started = time.monotonic()

    execution = execute(_definition(step), workspace=workspace)

    assert execution.status == "Failed"
    assert f"MaxRuntimeInSeconds={limit}" in execution.failure_reason
    assert time.monotonic() - started < limit + 15
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"  # a zombie has exited
