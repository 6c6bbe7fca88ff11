"""Containment, storage and permissions: broken databases give one line; private files stay private.

Corrupt or truncated SQLite files name themselves and the way to recover; capture files
never hold half a record (a short write is cut back) and readers skip and count bad
lines; databases, job logs and capture files are 0600 in 0700 folders.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from _local_scripts import staged_workspace
from sagepipe.local import execute
from sagepipe.local.history import RunHistory
from sagepipe.private import append_line, private_dir, private_file
from sagepipe.registry import ModelRegistry
from sagepipe.serving import capture
from sagepipe.storage.sqlite import StorageError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


CORRUPTIONS = {
    "random bytes": lambda data: os.urandom(len(data) or 4096),
    "zeroed header": lambda data: b"\0" * 100 + data[100:],
    "text file": lambda data: b"hello, I am not a database\n" * 50,
    "truncated to 50 bytes": lambda data: data[:50],
    "truncated mid page": lambda data: data[:1500],
}


def _registry_with_a_version(workspace: Path) -> Path:
    registry = ModelRegistry.for_workspace(workspace)
    registry.create_model_package("group", model_data_url=None)
    return registry.path


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_registry_gives_one_line_naming_the_file_and_the_fix(tmp_path, corruption):
    path = _registry_with_a_version(tmp_path / "ws")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(CORRUPTIONS[corruption](path.read_bytes()))
    with pytest.raises(StorageError) as info:
        ModelRegistry.for_workspace(tmp_path / "ws").list_model_packages()
    message = str(info.value)
    assert str(path) in message and "mv " in message and "\n" not in message


@pytest.mark.parametrize("corruption", ["random bytes", "text file", "truncated to 50 bytes"])
def test_a_corrupt_runs_db_stops_the_run_before_anything_runs(tmp_path, corruption):
    definition, workspace = staged_workspace(tmp_path, "v2")
    runs = workspace / "runs.db"
    runs.write_bytes(CORRUPTIONS[corruption](b"x" * 8192))
    with pytest.raises(StorageError, match=r"runs\.db is not a readable SQLite database"):
        execute(definition, workspace=workspace)
    assert not (workspace / "executions").exists()


def test_databases_and_job_logs_are_private(tmp_path, monkeypatch):
    os.umask(0o022)
    definition, workspace = staged_workspace(tmp_path, "v2")
    execution = execute(definition, workspace=workspace)
    assert execution.status == "Succeeded", execution.failure_reason
    for name in ("runs.db", "registry.db"):
        assert _mode(workspace / name) == 0o600, name
    assert _mode(workspace) == 0o700
    logs = list((workspace / "executions").rglob("job.log"))
    assert logs and all(_mode(log) == 0o600 for log in logs)
    assert all(_mode(log.parent) == 0o700 for log in logs)


def test_private_helpers_tighten_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        file = private_file(folder / "c.txt")
    finally:
        os.umask(old)
    assert (_mode(tmp_path / "a"), _mode(folder), _mode(file)) == (0o700, 0o700, 0o600)


def _line(i: int) -> dict:
    return capture.record(
        event_id=str(i),
        request=b"1,2,3",
        request_type="text/csv",
        response=b"0.5",
        response_type="text/csv",
        latency_ms=1.0,
        when=datetime.now(timezone.utc),
    )


def test_capture_files_are_private_and_hold_whole_lines(tmp_path):
    writer = capture.CaptureWriter(tmp_path / "capture", "ep")
    when = datetime.now(timezone.utc)
    for i in range(5):
        writer.write("AllTraffic", _line(i), when)
    writer.close()
    files = list((tmp_path / "capture").rglob("*.jsonl"))
    assert len(files) == 1 and _mode(files[0]) == 0o600
    assert _mode(files[0].parent) == 0o700
    assert [r["eventMetadata"]["eventId"] for r in capture.read_records(tmp_path / "capture")] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


@pytest.mark.parametrize(
    "damage",
    [b'{"captureData": {"endpointIn', b"not json at all", b"[1, 2, 3]", b"\xff\xfe\x00", b"{}"],
)
def test_readers_skip_and_count_bad_capture_lines(tmp_path, damage):
    writer = capture.CaptureWriter(tmp_path / "capture", "ep")
    when = datetime.now(timezone.utc)
    writer.write("AllTraffic", _line(1), when)
    writer.close()
    path = next((tmp_path / "capture").rglob("*.jsonl"))
    with path.open("ab") as stream:
        stream.write(damage + b"\n")
        stream.write((json.dumps(_line(2)) + "\n").encode())
    bad: list[str] = []
    records = list(capture.read_records(tmp_path / "capture", bad))
    assert [r["eventMetadata"]["eventId"] for r in records] == ["1", "2"]
    assert bad == [f"{path}:2"]


def test_a_short_write_on_a_full_disk_leaves_no_partial_record(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: writes past it fail with EFBIG."""
    path = tmp_path / "capture.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        append_line(fd, b"a" * 100 + b"\n")
        resource.setrlimit(resource.RLIMIT_FSIZE, (150, hard))
        with pytest.raises(OSError):
            append_line(fd, b"b" * 100 + b"\n")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
        os.close(fd)
    assert path.read_bytes() == b"a" * 100 + b"\n"


def test_run_history_of_a_fresh_workspace_is_private(tmp_path):
    history = RunHistory(tmp_path / "ws" / "runs.db")
    history.mark_abandoned("2026-01-01T00:00:00+00:00")
    history.close()
    assert _mode(tmp_path / "ws" / "runs.db") == 0o600


@pytest.mark.parametrize("loss", ["deleted", "emptied"])
@pytest.mark.parametrize("evidence", ["models", "deployments.db"])
def test_an_empty_registry_beside_registered_artifacts_is_refused(tmp_path, loss, evidence):
    workspace = tmp_path / "ws"
    path = _registry_with_a_version(workspace)
    if evidence == "models":
        (workspace / "models" / ("a" * 64)).mkdir(parents=True)
    else:
        (workspace / "deployments.db").write_bytes(b"SQLite format 3\0" + b"\0" * 100)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if loss == "emptied":
        path.write_bytes(b"")
    with pytest.raises(StorageError, match=r"restore registry\.db from a backup"):
        ModelRegistry.for_workspace(workspace).create_model_package("group", model_data_url=None)
    assert not path.exists() or path.stat().st_size == 0


def test_a_fresh_workspace_still_starts_a_registry(tmp_path):
    (tmp_path / "ws" / "models").mkdir(parents=True)  # an empty cache is no evidence
    package = ModelRegistry.for_workspace(tmp_path / "ws").create_model_package(
        "group", model_data_url=None
    )
    assert package.version == 1


_FULL_DISK_RUN = r"""
import json, resource, signal, sys
sys.path[:0] = json.loads(sys.argv[3])
from sagepipe.local import execute
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
execution = execute(json.load(open(sys.argv[1])), workspace=sys.argv[4])
print(json.dumps({"status": execution.status, "reason": execution.failure_reason}))
"""


def test_a_full_disk_fails_the_run_cleanly_and_marks_it_failed(tmp_path):
    """RLIMIT_FSIZE (inherited by the job) stands in for a disk that fills during a step."""
    import subprocess
    import sys

    from test_contain_definition_paths import _definition, _processing, _workspace_with_script

    script = (
        "from pathlib import Path\n"
        "out = Path(__file__).resolve().parents[3] / 'processing' / 'out'\n"
        "(out / 'big.bin').write_bytes(b'x' * 4_000_000)\n"
    )
    workspace = _workspace_with_script(tmp_path, script)
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps(_definition(_processing())))
    done = subprocess.run(
        [
            *(sys.executable, "-c", _FULL_DISK_RUN, str(definition), str(2_000_000)),
            *(json.dumps(sys.path), str(workspace)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "Failed"
    assert "Job" in outcome["reason"]
    history = RunHistory(workspace / "runs.db")
    try:
        (record,) = history.list_executions()
    finally:
        history.close()
    assert record.status == "Failed"
    assert not (workspace / "s3" / "contain-bucket" / "out").exists()


def test_an_executor_error_mid_run_is_recorded_as_failed_never_succeeded(tmp_path):
    """A failure of the executor itself (here: the progress callback) must not read as success."""
    definition, workspace = staged_workspace(tmp_path, "v2")
    calls = []

    def broken_progress(event):
        calls.append(event.kind)
        if event.kind == "step" and len(calls) > 2:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        execute(definition, workspace=workspace, on_event=broken_progress)
    history = RunHistory(workspace / "runs.db")
    try:
        (record,) = history.list_executions()
    finally:
        history.close()
    assert record.status == "Failed"
    assert "No space left on device" in record.failure_reason


def test_the_shadow_report_skips_and_counts_a_truncated_capture_line(tmp_path):
    from sagepipe.serving import shadow

    writer = capture.CaptureWriter(tmp_path / "capture", "ep")
    when = datetime.now(timezone.utc)
    for variant in ("AllTraffic", "Shadow"):
        for i in range(3):
            writer.write(variant, _line(i), when)
    writer.close()
    victim = next((tmp_path / "capture" / "ep" / "Shadow").rglob("*.jsonl"))
    with victim.open("ab") as stream:
        stream.write(b'{"captureData": {"endpointInput": {"data": "1,2')  # cut by a crash

    report = shadow.compare(tmp_path / "capture", "ep", "AllTraffic", "Shadow")

    assert report.paired_events == 3
    assert report.skipped_lines == [f"{victim}:4"]
    assert "skipped 1 unreadable capture line(s)" in shadow.render_table(report)
