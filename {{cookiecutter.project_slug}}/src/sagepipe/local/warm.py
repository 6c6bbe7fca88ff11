"""Warm launch: start Python jobs by forking a warm interpreter of their runtime.

Interpreter start-up and library imports (pandas, scikit-learn, great-expectations) are
most of a small job. One :mod:`~sagepipe.local.forkserver` per runtime interpreter
pre-imports what that interpreter's jobs imported before (learned per interpreter in
the runtime cache) and forks a fresh child per job, so every job still is its own process,
in its own sandbox and session, with its own environment.

A job launches cold (a plain process) instead when it is not ``python SCRIPT``/``python -m
MODULE``, when its environment sets a variable that libraries read at import time
differently from the warm interpreter's (``OMP_*``, ``PYTHON*``, locale...), when the warm
interpreter cannot give it a private ``/opt/ml``, or with ``SAGEPIPE_WARM_LAUNCH=0``.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..private import private_file
from ..runtimes.build import cache_root
from .containment import remove_tree

FORKSERVER = Path(__file__).resolve().parent / "forkserver.py"
LEARNED_LIMIT = 20_000  # module names kept per interpreter
FORGET_AFTER = 50  # jobs without a module before it is no longer pre-loaded
NEEDS_LIMIT = 16  # first-job scripts whose modules are kept per interpreter
# In the learned file's name: another sagepipe version sharing the cache keeps its own.
LEARNED_FORMAT = "v2"
RECENT_LIMIT = 32  # pipelines whose warm servers are started early
SHIM_FOLDER = ".bin"  # in each execution folder: the job's `python3` (RunSession.shim)

# Variables libraries read when they are imported (thread pools, locale, hash seed...):
# a job may only fork from a warm interpreter that was started with the same values.
_IMPORT_TIME = re.compile(
    r"^(PYTHON(?!UNBUFFERED$|PATH$|DONTWRITEBYTECODE$)|OMP_|MKL_|OPENBLAS_|GOTO|BLIS_"
    r"|VECLIB_|KMP_|NUMEXPR_|NUMBA_|LD_|MALLOC_|LC_|LANG|TZ$|MPL|GX_|JOBLIB_|LOKY_"
    r"|SKLEARN_|PANDAS_|CUDA_|XDG_|HOME$|PATH$)"
)


def enabled() -> bool:
    """Warm launch is on for Linux unless ``SAGEPIPE_WARM_LAUNCH=0``."""
    return sys.platform == "linux" and os.environ.get("SAGEPIPE_WARM_LAUNCH", "1") != "0"


def python_entry(command: list[str]) -> str | None:
    """The interpreter of ``python SCRIPT ...`` / ``python -m MODULE ...``, else None."""
    if len(command) < 2 or not os.path.isabs(command[0]):
        return None
    if command[1] == "-m":
        return command[0] if len(command) >= 3 and command[2] else None
    return None if command[1].startswith("-") else command[0]


def import_time_env(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` that libraries may read while being imported."""
    return {k: v for k, v in sorted(env.items()) if _IMPORT_TIME.match(k)}


def learned_file(python: str) -> Path:
    """Where the modules this interpreter's jobs imported are kept (JSON list)."""
    # The path as given, not resolved: a venv's python is a link to its base interpreter,
    # and two venvs of one base hold different packages.
    tag = hashlib.sha256(os.path.abspath(python).encode()).hexdigest()[:16]
    return cache_root() / ".warm" / f"{tag}.{LEARNED_FORMAT}.json"


def merge_learned(target: Path, found: Path) -> None:
    """Count ``found`` (one job's imported modules) into ``target``; drop ``found``.

    ``target`` is ``{"jobs": N, "modules": {name: the last job that imported it}}``, in
    first-import order. A module no job imported in the last :data:`FORGET_AFTER` jobs is
    dropped, so a package a project stopped using stops being pre-loaded.

    A run's first job also updates ``"needs"[its script]`` (what the next run's first
    warm-up imports before the rest, see forkserver.py) and ``"first"``: the modules it
    imported itself, and those it was handed warm that its script needed before (a
    fork server cannot see which warm modules a job touches).
    """
    try:
        report = json.loads(found.read_text())
        if isinstance(report, list):  # a job of an older forkserver: modules only
            report = {"modules": report}
        names = [str(n) for n in report["modules"]]
        new = {str(n) for n in report.get("new") or ()}
        script = str(report["script"]) if report.get("first") else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return
    finally:
        with contextlib.suppress(OSError):
            found.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jobs, modules = read_learned(target)
        needs = read_needs(target)
        jobs += 1
        for name in names:
            modules[name] = jobs
        kept = {n: last for n, last in modules.items() if last > jobs - FORGET_AFTER}
        kept = dict(list(kept.items())[:LEARNED_LIMIT])
        learned: dict[str, Any] = {"jobs": jobs, "modules": kept}
        if script is not None:
            before = set(needs.pop(script, ()))
            needs[script] = [n for n in names if n in new or n in before]
            needs = dict(list(needs.items())[-NEEDS_LIMIT:])
            learned["first"] = script
        else:
            first = _read_json(target).get("first")
            if isinstance(first, str) and first in needs:
                learned["first"] = first
        learned["needs"] = needs
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(learned))
        os.replace(tmp, target)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_needs(path: Path) -> dict[str, list[str]]:
    """A learned file's ``{script: modules}`` of first jobs (empty when unusable)."""
    try:
        return {str(k): [str(n) for n in v] for k, v in dict(_read_json(path)["needs"]).items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}


def read_learned(path: Path) -> tuple[int, dict[str, int]]:
    """The job count and ``{module: last job}`` of a learned file (empty when unusable)."""
    try:
        data = json.loads(path.read_text())
        jobs = int(data["jobs"])
        modules = {str(k): int(v) for k, v in dict(data["modules"]).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return 0, {}
    return jobs, modules


class ForkedJob:
    """A job forked by a warm interpreter, waited on like :class:`subprocess.Popen`.

    The child writes its exit code on ``status`` as it exits; when it dies without (a
    signal), the code comes from the server, which reports it when it reaps the child.
    """

    def __init__(self, args: list[str], status: int) -> None:
        self.args = args
        self.pid = 0
        self.returncode: int | None = None
        self.refused: str | None = None
        self.started = threading.Event()
        self.done = threading.Event()  # set by the server's report
        self.status = status
        self.lock = threading.Lock()

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: the signal); ``TimeoutExpired`` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            if self.returncode is None and self.status >= 0:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([self.status], [], [], left)
                if not ready:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
                text = os.read(self.status, 64).decode(errors="replace").strip()
                os.close(self.status)
                self.status = -1
                if text.lstrip("-").isdigit():
                    self.returncode = int(text)
        if self.returncode is not None:
            return self.returncode
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self.done.wait(left):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def close(self) -> None:
        """Release the status pipe (the job was never started, or is done)."""
        if self.status >= 0:
            os.close(self.status)
            self.status = -1


class WarmServer:
    """One fork server process and the thread that reads its answers."""

    def __init__(
        self,
        python: str,
        env: Mapping[str, str],
        scratch: Path,
        preexec: Callable[[], None] | None,
    ) -> None:
        self.python = python
        self.base_env = dict(env)
        self.learned = learned_file(python)
        self.scratch = scratch
        self.used = False  # forked a job: worth starting early for the next run
        self.namespaces = False
        self.ready = threading.Event()
        self.jobs: dict[int, ForkedJob] = {}
        self.next_id = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        started = threading.Event()
        # The server asks for SIGKILL when the thread that started it ends: start it from
        # a thread that lives as long as the server, not from a job's worker thread.
        host = threading.Thread(
            target=self._host, args=(theirs, dict(env), preexec, started), daemon=True
        )
        host.start()
        started.wait()
        theirs.close()
        threading.Thread(target=self._read, daemon=True).start()

    def _host(
        self,
        theirs: socket.socket,
        env: dict[str, str],
        preexec: Callable[[], None] | None,
        started: threading.Event,
    ) -> None:
        try:
            self.scratch.mkdir(parents=True, exist_ok=True)
            with open(self.scratch / "server.log", "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        self.python,
                        str(FORKSERVER),
                        str(theirs.fileno()),
                        str(self.learned),
                        str(self.scratch),
                    ],
                    pass_fds=[theirs.fileno()],
                    cwd=self.scratch,  # whatever a module writes while pre-loading stays here
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=preexec,
                )
        except OSError:
            self.proc = None
        finally:
            started.set()
        if self.proc is not None:
            self.closing.wait()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def _read(self) -> None:
        stream = self.sock.makefile("rb")
        for line in stream:
            message = json.loads(line)
            if message.get("ready"):
                self.namespaces = bool(message.get("namespaces"))
                self.ready.set()
                continue
            job = self.jobs.get(int(message["id"]))
            if job is None:
                continue
            if "pid" in message:
                job.pid = int(message["pid"])
                job.started.set()
            elif "refused" in message:
                job.refused = str(message["refused"])
                job.started.set()
            elif "exit" in message:
                if job.returncode is None:
                    job.returncode = int(message["exit"])
                job.done.set()
        # The server is gone, and with it (PDEATHSIG) every child it forked.
        self.ready.set()
        with self.lock:
            for job in self.jobs.values():
                if job.returncode is None:
                    job.returncode = -9
                    job.started.set()
                    job.done.set()
            self.proc_gone = True

    proc_gone = False

    def start(
        self,
        command: list[str],
        cwd: Path,
        env: Mapping[str, str],
        log_fd: int,
        mount: tuple[Path, Path] | None,
        learn: Path | None,
    ) -> ForkedJob | None:
        """Fork ``command`` as a job; None when this server cannot run it (launch cold)."""
        if not self.ready.wait(60) or self.proc_gone or (mount and not self.namespaces):
            return None
        status_read, status_write = os.pipe()
        job = ForkedJob(list(command), status_read)
        request: dict[str, Any] = {
            "argv": list(command),
            "cwd": str(cwd),
            "env": dict(env),
            "mount": [str(p) for p in mount] if mount else None,
            "learn": str(learn) if learn else None,
        }
        with self.lock:
            if self.proc_gone:
                return None
            self.next_id += 1
            request["id"] = self.next_id
            self.jobs[self.next_id] = job
            data = json.dumps(request).encode() + b"\n"
            try:
                fds = array.array("i", [log_fd, status_write]).tobytes()
                self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            except OSError:
                self.jobs.pop(self.next_id, None)
                job.close()
                return None
            finally:
                os.close(status_write)  # the child holds the only write end
        job.started.wait()
        if job.refused is not None or not job.pid:
            job.close()
            return None
        self.used = True
        return job

    def close(self) -> None:
        """End the server (its idle loop exits when the socket closes)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.closing.set()


def server_key(python: str, base_env: Mapping[str, str]) -> str:
    """One warm server per interpreter and import-time environment.

    The ``python`` shim folder each execution puts first on ``PATH`` counts as one value,
    so the next run's jobs can fork from a server its CLI started before the execution
    (and its folder) existed.
    """
    stable = dict(sorted(base_env.items()))
    if "PATH" in stable:
        stable["PATH"] = os.pathsep.join(
            "<execution shim>" if _is_shim(entry) else entry
            for entry in stable["PATH"].split(os.pathsep)
        )
    return hashlib.sha256(json.dumps([python, stable]).encode()).hexdigest()[:12]


def shim_folder(execution_dir: Path, python: str) -> Path:
    """Where an execution's ``python3`` shim for ``python`` lives (this interpreter's is
    ``.bin`` itself, made up front; another runtime's is ``.bin/<tag>``)."""
    if python == sys.executable:
        return execution_dir / SHIM_FOLDER
    return execution_dir / SHIM_FOLDER / hashlib.sha256(python.encode()).hexdigest()[:10]


def _is_shim(entry: str) -> bool:
    """``<workspace>/executions/<execution id>/.bin`` (this interpreter's shim) or
    ``.../.bin/<tag>`` (a runtime interpreter's, RunSession.shim_for): where
    sandbox.python_shim writes."""
    path = Path(entry)
    if path.parent.name == SHIM_FOLDER:  # a runtime's folder: .bin/<tag>
        path = path.parent
    return path.name == SHIM_FOLDER and path.parent.parent.name == "executions"


def recent_file() -> Path:
    """Which warm servers each pipeline's last run used (``{label: [[python, env]...]}``)."""
    return cache_root() / ".warm" / f"recent.{LEARNED_FORMAT}.json"


def read_recent(path: Path) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """The recent-servers file, ``{}`` when missing or not in this format."""
    try:
        data = json.loads(path.read_text())
        return {
            str(label): [
                (str(python), {str(k): str(v) for k, v in dict(env).items()})
                for python, env in entries
            ]
            for label, entries in dict(data).items()
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def recent_key(label: str) -> str:
    """A pipeline's entry in the recent file: its name and the interpreter running ``run``.

    Two projects may give their pipelines one name; their CLIs run in different venvs.
    """
    return f"{label} {os.path.abspath(sys.executable)}"


def newest_of_another_cli(label: str, keys: Iterable[str]) -> str | None:
    """The newest of ``keys`` (recent-file keys, oldest first) that is ``label`` run from
    another CLI than this one, or None."""
    own = recent_key(label)
    same_name = [key for key in keys if key.startswith(f"{label} /") and key != own]
    return same_name[-1] if same_name else None


def _in_this_environment(python: str, env: Mapping[str, str]) -> dict[str, str] | None:
    """Another CLI's server environment as this CLI's jobs would have it, or None.

    A job's environment is its CLI's (``sandbox.base_env``): what this process has set
    replaces the other's values, its execution shim stays first on ``PATH`` (the server
    key counts any shim as one) and the rest of ``PATH`` becomes this one's. What only the
    other had stays: libraries set such variables while the compile imports them
    (scikit-learn's ``KMP_*``), and this run's compile will set the same. A wrong guess
    costs one server no job adopts, stopped when this process ends.
    """
    path = str(env.get("PATH", "")).split(os.pathsep)
    if not _is_shim(path[0]):
        return None
    adapted = {**env, **import_time_env(os.environ)}
    if python != sys.executable:
        adapted.pop("PYTHONHOME", None)  # base_env keeps another runtime clear of it
    adapted["PATH"] = os.pathsep.join([path[0], os.environ.get("PATH", "")])
    return adapted


def recent_servers(label: str) -> list[tuple[str, dict[str, str]]]:
    """The servers to start early for ``label``: those its last run from this CLI used.

    A CLI that never ran any pipeline (a new project's venv) borrows another CLI's newest
    entry, of the same pipeline name when there is one: a new project of the same
    template runs its jobs in the same runtimes, so its first run need not wait for their
    imports. A CLI that ran other pipelines but not this one starts nothing.
    """
    recent = read_recent(recent_file())
    own = recent.get(recent_key(label))
    if own is not None:
        return own
    executable = " " + os.path.abspath(sys.executable)
    if not recent or any(key.endswith(executable) for key in recent):
        return []
    key = newest_of_another_cli(label, recent) or list(recent)[-1]
    other_cli = key[key.index(" /") + 1 :] if " /" in key else ""
    adapted = [
        (python, _in_this_environment(python, env))
        for python, env in recent[key]
        if python != other_cli  # that CLI's own interpreter: this one's jobs never use it
    ]
    return [(python, env) for python, env in adapted if env is not None]


def remember(label: str, servers: list[tuple[str, dict[str, str]]]) -> None:
    """Record the servers ``label``'s run used (the newest :data:`RECENT_LIMIT` pipelines)."""
    label = recent_key(label)
    path = recent_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recent = read_recent(path)
        recent.pop(label, None)
        recent[label] = servers  # last: the newest
        kept = dict(list(recent.items())[-RECENT_LIMIT:])
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(private_file(tmp), "w") as out:
            json.dump({k: [list(e) for e in v] for k, v in kept.items()}, out)
        os.replace(tmp, path)


class Prestarted:
    """Warm servers started before the run's definition is built, for its jobs to adopt.

    Compiling a pipeline (the CLI's imports, the step modules) takes about a second; the
    servers the pipeline's last run used spend it importing what its jobs will need. A
    server no job adopts is closed when this process ends.
    """

    _servers: ClassVar[dict[str, WarmServer]] = {}
    _roots: ClassVar[list[Path]] = []
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def start(cls, label: str, scratch: Path, preexec: Callable[[], None] | None) -> int:
        """Start the servers :func:`recent_servers` names for ``label``, in ``scratch``
        (removed at exit)."""
        if not enabled():
            return 0
        entries = recent_servers(label)
        started = 0
        with cls._lock:
            for python, env in entries:
                key = server_key(python, env)
                if key in cls._servers or not os.access(python, os.X_OK):
                    continue
                if not cls._roots:
                    atexit.register(cls.close_all)
                cls._roots.append(scratch)
                cls._servers[key] = WarmServer(python, env, scratch / key, preexec)
                started += 1
        return started

    @classmethod
    def adopt(cls, key: str) -> WarmServer | None:
        """Hand the prestarted server for ``key`` to its run (None when there is none)."""
        with cls._lock:
            return cls._servers.pop(key, None)

    @classmethod
    def close_all(cls) -> None:
        """Stop the servers nobody adopted and remove the prestart scratch folders."""
        with cls._lock:
            servers, roots = list(cls._servers.values()), list(cls._roots)
            cls._servers.clear()
            cls._roots.clear()
        for server in servers:
            # Never adopted, so no job was forked from it: kill it rather than wait for
            # the import it is in the middle of (up to seconds, at the end of a cached run).
            server.close()
            if server.proc is not None:
                with contextlib.suppress(OSError):
                    server.proc.kill()
        _stop_servers(servers)
        for root in roots:
            remove_tree(root, root.parent)
            with contextlib.suppress(OSError):
                root.parent.rmdir()  # the workspace's .prestart folder, once empty


def _stop_servers(servers: list[WarmServer]) -> None:
    for server in servers:
        server.close()
    for server in servers:
        if server.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=10)


class WarmLaunchers:
    """The warm servers of one execution, one per interpreter and import-time environment."""

    def __init__(
        self, scratch: Path, preexec: Callable[[], None] | None, label: str | None = None
    ) -> None:
        self.scratch = scratch
        self.preexec = preexec
        self.label = label
        self.servers: dict[str, WarmServer] = {}
        self.lock = threading.Lock()
        self.closed = False
        self.launched = False  # a job was launched (warm or cold) in this execution

    def server_for(self, python: str, env: Mapping[str, str]) -> WarmServer | None:
        """The warm server for this interpreter and environment (started on first use)."""
        base = import_time_env(env)
        key = server_key(python, base)
        with self.lock:
            if self.closed:
                return None
            server = self.servers.get(key)
            if server is None:
                server = Prestarted.adopt(key) or WarmServer(
                    python, base, self.scratch / key, self.preexec
                )
                self.servers[key] = server
        return server

    def launch(self, plan: Any, log_fd: int) -> ForkedJob | None:
        """Fork ``plan``'s job from a warm interpreter, or None to launch it cold."""
        self.launched = True
        if not enabled():
            return None
        python = python_entry(plan.command)
        if python is None:
            return None
        server = self.server_for(python, plan.env)
        if server is None:
            return None
        learn = plan.job_dir / ".imports.json"
        return server.start(plan.command, plan.cwd, plan.env, log_fd, plan.mount, learn)

    def learn(self, plan: Any) -> None:
        """Keep the modules ``plan``'s job imported, for the next warm-up of its interpreter."""
        python = python_entry(plan.command)
        found = plan.job_dir / ".imports.json"
        if python is not None and found.exists():
            merge_learned(learned_file(python), found)

    def close(self, owned_root: Path) -> None:
        """Stop every server, remove their scratch folders, remember the ones jobs used."""
        with self.lock:
            self.closed = True
            servers = list(self.servers.values())
        # A run whose steps were all cached launched nothing: it says nothing about the
        # servers the next run will need, so the last run's list stays.
        if self.label is not None and enabled() and self.launched:
            with contextlib.suppress(OSError):
                remember(self.label, [(s.python, s.base_env) for s in servers if s.used])
        _stop_servers(servers)
        remove_tree(self.scratch, owned_root)
        # An adopted server's folder is in the prestart scratch, removed at exit.
