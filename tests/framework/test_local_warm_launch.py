"""Warm launch: jobs forked from a warm interpreter behave like fresh ``python`` processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from sagepipe.local import namespace
from sagepipe.local.containment import TIMED_OUT
from sagepipe.local.launch import Launcher, prestart_warm
from sagepipe.local.sandbox import JobPlan
from sagepipe.local.scheduler import StopRequest
from sagepipe.local.warm import (
    FORGET_AFTER,
    Prestarted,
    learned_file,
    merge_learned,
    read_learned,
    read_recent,
    recent_file,
    recent_key,
    remember,
    server_key,
    shim_folder,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="warm launch is Linux-only")

FORKED = "sagepipe: forked from a warm interpreter"


@pytest.fixture(autouse=True)
def _own_runtime_cache(tmp_path, monkeypatch):
    # The learned module lists live in the runtime cache: keep each test's apart.
    monkeypatch.setenv("SAGEPIPE_RUNTIME_CACHE", str(tmp_path / "runtime-cache"))
    monkeypatch.delenv("SAGEPIPE_WARM_LAUNCH", raising=False)
    yield
    Prestarted.close_all()  # a failed test leaves no server running


def _plan(tmp_path: Path, name: str, script: str, *args: str, env=None) -> JobPlan:
    job_dir = tmp_path / "exec" / name
    opt_ml = job_dir / "opt_ml"
    (opt_ml / "output").mkdir(parents=True)
    code = job_dir / "code"
    code.mkdir()
    (code / "job.py").write_text(script)
    return JobPlan(
        step_name=name,
        kind="Processing",
        job_name=f"job-{name}",
        command=[sys.executable, str(code / "job.py"), *args],
        env=dict(os.environ if env is None else env),
        cwd=job_dir,
        job_dir=job_dir,
        opt_ml=opt_ml,
        log_path=job_dir / "job.log",
    )


def _launcher(tmp_path: Path, stop: StopRequest | None = None) -> Launcher:
    return Launcher(stop or StopRequest(), tmp_path / "exec" / ".warm")


REPORT = """
import json, os, sys
json.dump({"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
           "path0": sys.path[0], "main": __name__}, open("report.json", "w"))
print("to stdout"); print("to stderr", file=sys.stderr)
"""


def test_forked_job_sees_its_own_argv_cwd_environment_and_log(tmp_path):
    launcher = _launcher(tmp_path)
    env = dict(os.environ, JOB_ONLY_VALUE="42")
    plan = _plan(tmp_path, "Report", REPORT, "--alpha", "1", env=env)
    try:
        assert launcher.spawn(plan) == 0
    finally:
        launcher.close()

    report = json.loads((plan.job_dir / "report.json").read_text())
    assert report["argv"] == [plan.command[1], "--alpha", "1"]
    assert report["cwd"] == str(plan.job_dir)
    assert report["env"] == env
    assert report["path0"] == str(plan.job_dir / "code")
    assert report["main"] == "__main__"
    log = plan.log_path.read_text()
    assert FORKED in log
    assert "to stdout" in log and "to stderr" in log
    assert not (tmp_path / "exec" / ".warm").exists()  # the servers' scratch is gone


@pytest.mark.parametrize(
    ("script", "code", "in_log"),
    [
        ("import sys\nsys.exit(3)\n", 3, None),
        ("import sys\nsys.exit('bad input: x')\n", 1, "bad input: x"),
        ("raise RuntimeError('exploded')\n", 1, "RuntimeError: exploded"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", -signal.SIGTERM, None),
    ],
)
def test_forked_job_exits_with_the_code_the_interpreter_would_give(tmp_path, script, code, in_log):
    launcher = _launcher(tmp_path)
    plan = _plan(tmp_path, "Exit", script)
    try:
        assert launcher.spawn(plan) == code
    finally:
        launcher.close()
    if in_log:
        assert in_log in plan.log_path.read_text()


def test_forked_job_flushes_files_left_open_and_runs_atexit_and_threads(tmp_path):
    script = (
        "import atexit, threading, time\n"
        "handle = open('left-open.txt', 'w')\n"
        "handle.write('kept')\n"
        "atexit.register(lambda: open('atexit.txt', 'w').write('ran'))\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    open('thread.txt', 'w').write('joined')\n"
        "threading.Thread(target=late).start()\n"
    )
    launcher = _launcher(tmp_path)
    plan = _plan(tmp_path, "Flush", script)
    try:
        assert launcher.spawn(plan) == 0
    finally:
        launcher.close()
    assert FORKED in plan.log_path.read_text()
    assert (plan.job_dir / "left-open.txt").read_text() == "kept"
    assert (plan.job_dir / "atexit.txt").read_text() == "ran"
    assert (plan.job_dir / "thread.txt").read_text() == "joined"


def test_each_forked_job_draws_its_own_random_numbers(tmp_path):
    script = "import random\nopen('draw.txt', 'w').write(repr(random.random()))\n"
    launcher = _launcher(tmp_path)
    plans = [_plan(tmp_path, f"Draw{i}", script) for i in range(2)]
    try:
        assert [launcher.spawn(p) for p in plans] == [0, 0]
    finally:
        launcher.close()
    draws = {(p.job_dir / "draw.txt").read_text() for p in plans}
    assert len(draws) == 2


def test_a_forked_job_past_its_limit_is_killed_with_everything_it_started(tmp_path):
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    launcher = _launcher(tmp_path)
    plan = _plan(tmp_path, "Slow", script)
    started = time.monotonic()
    try:
        assert launcher.spawn(plan, limit=2.0) == TIMED_OUT
    finally:
        launcher.close()
    assert time.monotonic() - started < 30
    child = int((plan.job_dir / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or "Z" in _state(child)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    except (OSError, IndexError):
        return "Z"


def test_a_stop_request_ends_a_running_forked_job(tmp_path):
    stop = StopRequest()
    launcher = _launcher(tmp_path, stop)
    plan = _plan(tmp_path, "Stopped", "import time\nopen('up', 'w')\ntime.sleep(60)\n")
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(launcher.spawn(plan)))
    worker.start()
    deadline = time.monotonic() + 30
    while not (plan.job_dir / "up").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.request("test")
    worker.join(30)
    launcher.close()
    assert result == [-signal.SIGTERM]


def test_import_time_variables_that_differ_launch_the_job_cold(tmp_path):
    launcher = _launcher(tmp_path)
    first = _plan(tmp_path, "First", REPORT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    second = _plan(tmp_path, "Second", REPORT, env=dict(os.environ, OMP_NUM_THREADS="2"))
    try:
        assert launcher.spawn(first) == 0
        assert launcher.spawn(second) == 0
    finally:
        launcher.close()
    # Each gets a warm interpreter started with its own OMP_NUM_THREADS.
    assert FORKED in first.log_path.read_text() and FORKED in second.log_path.read_text()
    assert json.loads((second.job_dir / "report.json").read_text())["env"]["OMP_NUM_THREADS"] == "2"


@pytest.mark.parametrize(
    ("command_tail", "env_off"),
    [(["-c", "open('ran', 'w')"], False), (None, True)],
    ids=["not-a-script", "switched-off"],
)
def test_jobs_launch_as_plain_processes_when_they_cannot_fork(
    tmp_path, monkeypatch, command_tail, env_off
):
    if env_off:
        monkeypatch.setenv("SAGEPIPE_WARM_LAUNCH", "0")
    launcher = _launcher(tmp_path)
    plan = _plan(tmp_path, "Cold", "open('ran', 'w')\n")
    if command_tail:
        plan.command = [sys.executable, *command_tail]
    try:
        assert launcher.spawn(plan) == 0
    finally:
        launcher.close()
    assert (plan.job_dir / "ran").exists()
    assert FORKED not in plan.log_path.read_text()


def test_modules_a_job_imported_are_pre_loaded_for_the_next_run(tmp_path):
    script = (
        "import json, sys\n"
        "had = 'xml.dom.minidom' in sys.modules\n"
        "import xml.dom.minidom\n"
        "open('had.json', 'w').write(json.dumps(had))\n"
    )
    first = _plan(tmp_path, "Learn", script)
    launcher = _launcher(tmp_path)
    try:
        assert launcher.spawn(first) == 0
    finally:
        launcher.close()
    assert json.loads((first.job_dir / "had.json").read_text()) is False
    learned = json.loads(learned_file(sys.executable).read_text())["modules"]
    assert "xml.dom.minidom" in learned
    assert "job" not in learned  # the job's own module is not a library

    # A new run: its first job starts the warm interpreter, which then loads what it
    # learned while that job runs; the next job finds it loaded.
    opener = _plan(tmp_path / "again", "Opener", "pass\n")
    second = _plan(tmp_path / "again", "Learn", script)
    launcher = _launcher(tmp_path / "again")
    try:
        assert launcher.spawn(opener) == 0
        time.sleep(2.0)
        assert launcher.spawn(second) == 0
    finally:
        launcher.close()
    assert json.loads((second.job_dir / "had.json").read_text()) is True


def test_forked_job_sees_its_sandbox_at_opt_ml(tmp_path):
    ok, why = namespace.available()
    if not ok:
        pytest.skip(f"no mount namespaces here: {why}")
    launcher = _launcher(tmp_path)
    plan = _plan(tmp_path, "Mounted", "open('/opt/ml/output/seen', 'w').write('inside')\n")
    plan.mount, _notice = namespace.mount_for(plan.opt_ml, plan.job_dir)
    try:
        assert launcher.spawn(plan) == 0
    finally:
        launcher.close()
    assert FORKED in plan.log_path.read_text()
    assert (plan.opt_ml / "output" / "seen").read_text() == "inside"
    assert not Path("/opt/ml/output/seen").exists()


def test_two_venvs_of_one_base_interpreter_learn_apart(tmp_path):
    first, second = tmp_path / "a" / "bin" / "python", tmp_path / "b" / "bin" / "python"
    for link in (first, second):
        link.parent.mkdir(parents=True)
        link.symlink_to(sys.executable)
    assert learned_file(str(first)) != learned_file(str(second))


def test_a_module_no_recent_job_imported_is_no_longer_pre_loaded(tmp_path):
    target = tmp_path / "learned.json"
    record = tmp_path / "job.json"
    record.write_text(json.dumps(["pandas", "old_package"]))
    merge_learned(target, record)
    assert not record.exists()  # the job's record is consumed
    for _ in range(FORGET_AFTER):
        record.write_text(json.dumps(["pandas"]))
        merge_learned(target, record)
    jobs, modules = read_learned(target)
    assert jobs == FORGET_AFTER + 1
    assert list(modules) == ["pandas"]


def test_an_unreadable_learned_file_counts_as_nothing_learned(tmp_path):
    target = tmp_path / "learned.json"
    target.write_text('["a list from an older format"]')
    assert read_learned(target) == (0, {})
    record = tmp_path / "job.json"
    record.write_text(json.dumps(["json"]))
    merge_learned(target, record)
    assert read_learned(target) == (1, {"json": 1})


PARENT = "import os\nopen('parent.txt', 'w').write(str(os.getppid()))\n"


def _run_one(tmp_path: Path, name: str, label: str, script: str = PARENT) -> JobPlan:
    launcher = Launcher(StopRequest(), tmp_path / "exec" / ".warm", label=label)
    plan = _plan(tmp_path, name, script)
    try:
        assert launcher.spawn(plan) == 0
    finally:
        launcher.close()
    return plan


def test_the_next_run_forks_from_a_server_its_cli_started_before_the_run(tmp_path):
    _run_one(tmp_path, "First", "churn")
    workspace = tmp_path / "ws"

    assert prestart_warm("churn", workspace) == 1
    (server,) = Prestarted._servers.values()
    plan = _run_one(tmp_path, "Second", "churn")
    Prestarted.close_all()

    assert int((plan.job_dir / "parent.txt").read_text()) == server.proc.pid
    assert FORKED in plan.log_path.read_text()
    assert server.proc.poll() is not None  # stopped with the run that adopted it
    assert not (workspace / ".prestart").exists()


def test_a_prestarted_server_no_run_adopts_is_stopped_and_its_folder_removed(tmp_path):
    _run_one(tmp_path, "First", "churn")
    workspace = tmp_path / "ws"

    assert prestart_warm("churn", workspace) == 1
    assert prestart_warm("another-pipeline", workspace) == 0  # it never ran
    (server,) = Prestarted._servers.values()
    assert (workspace / ".prestart" / str(os.getpid())).is_dir()
    Prestarted.close_all()

    assert server.proc.wait(timeout=10) is not None
    assert not (workspace / ".prestart").exists()
    assert Prestarted._servers == {}


def test_a_prestarted_server_no_run_adopts_is_killed_not_waited_for(tmp_path):
    _run_one(tmp_path, "First", "churn")
    assert prestart_warm("churn", tmp_path / "ws") == 1
    (server,) = Prestarted._servers.values()
    Prestarted.close_all()

    # No job was forked from it: it is not left to finish the import it is in.
    assert server.proc.returncode == -signal.SIGKILL


def test_a_run_that_launched_no_job_keeps_the_servers_the_run_before_used(tmp_path):
    _run_one(tmp_path, "First", "churn")
    [(python, _env)] = read_recent(recent_file())[recent_key("churn")]

    # Every step cached: the execution's launcher closes without launching anything.
    Launcher(StopRequest(), tmp_path / "exec" / ".warm", label="churn").close()

    assert [entry[0] for entry in read_recent(recent_file())[recent_key("churn")]] == [python]
    assert prestart_warm("churn", tmp_path / "ws") == 1


def test_a_recent_file_that_is_unreadable_or_names_a_missing_python_starts_nothing(tmp_path):
    path = recent_file()
    path.parent.mkdir(parents=True)
    path.write_text("not json")
    assert prestart_warm("churn", tmp_path / "ws") == 0
    remember("churn", [(str(tmp_path / "gone" / "python"), {})])
    assert prestart_warm("churn", tmp_path / "ws") == 0
    assert Prestarted._servers == {}


def test_only_the_execution_shim_folder_in_path_is_ignored_by_the_server_key():
    def key(path: str) -> str:
        return server_key(sys.executable, {"PATH": path, "LANG": "C.UTF-8"})

    first = key("/ws/executions/exec-20261202-1/.bin:/usr/bin")
    assert first == key("/ws/executions/exec-20261202-2/.bin:/usr/bin")
    assert first != key("/ws/executions/exec-20261202-2/.bin:/opt/bin")
    assert first != key("/elsewhere/.bin:/usr/bin")
    # A runtime interpreter's shim is a tagged folder inside it (RunSession.shim_for).
    runtime = key("/ws/executions/exec-20261202-1/.bin/c4a8904c02:/usr/bin")
    assert runtime == key("/ws/executions/exec-20261202-2/.bin/c4a8904c02:/usr/bin")
    assert runtime != key("/elsewhere/.bin/c4a8904c02:/usr/bin")


class _RuntimeJobs:
    """Jobs of a runtime's interpreter (a link to this one, under another path), each in
    its own execution with that runtime's shim folder first on ``PATH``."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.python = tmp_path / "runtime" / "bin" / "python"
        self.python.parent.mkdir(parents=True)
        self.python.symlink_to(sys.executable)

    def job(self, name: str, execution: str, path_tail: str = "/usr/bin:/bin") -> JobPlan:
        executions = self.tmp_path / "ws" / "executions"
        shim = shim_folder(executions / execution, str(self.python))
        env = {**os.environ, "PATH": f"{shim}:{path_tail}"}
        plan = _plan(self.tmp_path, name, PARENT, env=env)
        plan.command[0] = str(self.python)
        return plan

    def run(self, plan: JobPlan) -> None:
        launcher = Launcher(StopRequest(), self.tmp_path / "exec" / ".warm", label="churn")
        try:
            assert launcher.spawn(plan) == 0
        finally:
            launcher.close()


def test_a_runtime_interpreters_job_forks_from_the_server_its_cli_started(tmp_path):
    # A runtime's interpreter (not this one): its shim is a tagged folder in each execution.
    jobs = _RuntimeJobs(tmp_path)
    jobs.run(jobs.job("First", "exec-1"))
    assert prestart_warm("churn", tmp_path / "ws") == 1
    (server,) = Prestarted._servers.values()
    second = jobs.job("Second", "exec-2")
    jobs.run(second)
    Prestarted.close_all()

    assert int((second.job_dir / "parent.txt").read_text()) == server.proc.pid


def test_a_new_clis_first_run_forks_from_a_server_borrowed_from_another_clis_last_run(
    tmp_path,
):
    """A new project's venv never ran anything: it starts the servers another CLI's last
    run of the same pipeline used, in its own PATH, and its first job forks from one."""
    jobs = _RuntimeJobs(tmp_path)
    # Another project's CLI ran "churn" with its own venv first on PATH.
    jobs.run(jobs.job("First", "exec-1", "/other/project/.venv/bin:/usr/bin"))
    recent = read_recent(recent_file())
    entries = recent.pop(recent_key("churn"))
    recent["churn /other/project/.venv/bin/python"] = entries
    recent_file().write_text(json.dumps({k: [list(e) for e in v] for k, v in recent.items()}))
    assert recent_key("churn") not in read_recent(recent_file())

    assert prestart_warm("churn", tmp_path / "ws") == 1
    (server,) = Prestarted._servers.values()
    second = jobs.job("Second", "exec-2", os.environ["PATH"])  # this CLI's jobs: its PATH
    jobs.run(second)
    Prestarted.close_all()

    assert int((second.job_dir / "parent.txt").read_text()) == server.proc.pid
    assert FORKED in second.log_path.read_text()


def test_an_entry_whose_path_has_no_execution_shim_is_not_borrowed(tmp_path):
    remember("churn", [(sys.executable, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})])
    recent = read_recent(recent_file())
    recent["churn /other/project/.venv/bin/python"] = recent.pop(recent_key("churn"))
    recent_file().write_text(json.dumps({k: [list(e) for e in v] for k, v in recent.items()}))

    assert prestart_warm("churn", tmp_path / "ws") == 0
    assert Prestarted._servers == {}


def test_jobs_starting_together_all_get_their_runtimes_python3_shim(tmp_path):
    """Concurrent jobs of one runtime each write the shim; none trips over another's."""
    from concurrent.futures import ThreadPoolExecutor

    from sagepipe.local.sandbox import python_shim

    runtime = str(tmp_path / "runtime" / "bin" / "python")
    for attempt in range(20):
        folder = shim_folder(tmp_path / "executions" / f"exec-{attempt}", runtime)
        start = threading.Barrier(8)

        def make(_: int, folder: Path = folder, start: threading.Barrier = start) -> Path:
            start.wait()
            return python_shim(folder, runtime)

        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(make, range(8)))
        assert made == [folder] * 8
        assert (folder / "python3").read_text() == f'#!/bin/sh\nexec "{runtime}" "$@"\n'
        assert os.access(folder / "python3", os.X_OK)
        assert not list(folder.glob(".*.tmp"))


def _venv_with_modules(tmp_path: Path, modules: dict[str, str]) -> Path:
    """A venv of this interpreter whose site-packages hold ``modules`` (name: source)."""
    import subprocess
    import sysconfig

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    del sysconfig
    for name, source in modules.items():
        (Path(purelib) / f"{name}.py").write_text(source)
    return python


SEEN = (
    "import json, os, sys\n"
    "import quick_first\n"
    "json.dump({'tail': 'slow_tail' in sys.modules, 'parent': os.getppid()},\n"
    "          open('seen.json', 'w'))\n"
)


def test_the_first_job_forks_before_the_tail_warm_up_and_the_rest_from_the_tail(tmp_path):
    # The slow module stands for `import great_expectations`: one import of seconds.
    python = _venv_with_modules(
        tmp_path, {"quick_first": "VALUE = 1\n", "slow_tail": "import time\ntime.sleep(4)\n"}
    )
    learned = learned_file(str(python))
    learned.parent.mkdir(parents=True)
    learned.write_text(
        json.dumps(
            {
                "jobs": 2,
                "modules": {"quick_first": 1, "slow_tail": 2},
                "first": "first.py",
                "needs": {"first.py": ["quick_first"]},
            }
        )
    )

    def job(name: str, script: str, source: str) -> JobPlan:
        plan = _plan(tmp_path, name, source)
        code = plan.command[1]
        renamed = str(Path(code).with_name(script))
        os.rename(code, renamed)
        plan.command[:2] = [str(python), renamed]
        return plan

    first = job("First", "first.py", SEEN)
    later = job("Later", "later.py", SEEN)
    failing = job("Failing", "failing.py", "import sys\nsys.exit(3)\n")
    launcher = _launcher(tmp_path)
    try:
        assert launcher.spawn(first) == 0
        assert launcher.spawn(later) == 0
        assert launcher.spawn(failing) == 3  # the exit code comes back through the relay
    finally:
        launcher.close()

    early = json.loads((first.job_dir / "seen.json").read_text())
    late = json.loads((later.job_dir / "seen.json").read_text())
    assert early["tail"] is False  # forked from the first part, before the slow import
    assert late["tail"] is True  # forked from the tail server, which holds everything
    assert early["parent"] != late["parent"]
    assert FORKED in first.log_path.read_text() and FORKED in later.log_path.read_text()
    # what the first job needed is kept for the next run's first part
    data = json.loads(learned.read_text())
    assert data["first"] == "first.py"
    assert "quick_first" in data["needs"]["first.py"]
    assert "slow_tail" not in data["needs"]["first.py"]


def test_a_first_job_records_what_it_imported_and_kept_of_its_warm_modules(tmp_path):
    target = tmp_path / "learned.json"
    record = tmp_path / "job.json"

    def report(script: str, first: bool, modules: list[str], new: list[str]) -> None:
        record.write_text(
            json.dumps({"modules": modules, "script": script, "first": first, "new": new})
        )
        merge_learned(target, record)

    # forked from a server that had everything: nothing is known to be needed yet
    report("prep.py", True, ["pandas", "great_expectations"], [])
    assert json.loads(target.read_text())["needs"] == {"prep.py": []}
    # forked from an empty first part: it imports what it needs itself
    report("prep.py", True, ["pandas", "great_expectations"], ["pandas"])
    # forked warm: pandas was handed to it and stays; a later job does not change "first"
    report("prep.py", True, ["pandas", "great_expectations", "sklearn"], ["sklearn"])
    report("check.py", False, ["pandas", "great_expectations"], ["great_expectations"])
    data = json.loads(target.read_text())
    assert data["first"] == "prep.py"
    assert data["needs"] == {"prep.py": ["pandas", "sklearn"]}
