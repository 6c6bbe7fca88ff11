"""A warm interpreter that forks a fresh child per job: ``python forkserver.py SOCKET_FD WARM``.

Runs in the job's runtime interpreter (Python 3.8 syntax, standard library only, no
sagepipe import: AWS image environments do not have it). It imports, one by one, the
modules that earlier jobs of this interpreter imported (the keys of ``"modules"`` in the
JSON file ``WARM``),
and between two imports answers job requests on the socket (fd ``SOCKET_FD``, a
socketpair end the executor keeps), so a job never waits for the warm-up to finish.

A single import can take seconds (``import great_expectations``), and a request waits
for it. So the warm-up comes in two parts when ``WARM`` says what the run's first job
needs (``"first"``, its script, and ``"needs"[script]``, the modules it used): this
server imports only those, then forks
a *tail* server that imports the rest while the first job runs. The first job's script
forks here; every other request goes to the tail (its fds passed on), whose answers
this server relays, so the executor sees one server.

For each job the child does what a fresh ``python SCRIPT ARGS`` in its sandbox would see:
its own session (so a stop kills its whole process group), SIGKILL when this server dies,
a private mount namespace with the sandbox at ``/opt/ml``, the job's log as stdout and
stderr, working folder, the job's exact environment, ``sys.argv`` and ``sys.path``, fresh
random seeds; then it runs the script (or ``-m`` module) as ``__main__`` and exits the way
the interpreter does (non-daemon threads joined, ``atexit`` handlers run).

Protocol, one JSON object per line: the server says ``{"ready": true, "namespaces": B}``;
a request is ``{"id", "argv", "cwd", "env", "mount", "learn"}`` with two fds attached
(SCM_RIGHTS): the job's log and the write end of a pipe on which the child writes its exit
code as it exits; the server answers ``{"id", "pid"}`` (or ``{"id", "refused": why}``) and
``{"id", "exit": code}`` when it reaps the child (negative: killed by that signal).
"""

from __future__ import annotations

import array
import atexit
import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import runpy
import select
import signal
import socket
import sys
import sysconfig
import threading

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_WARM_MODULES: set = set()  # in a child: what the server had loaded when it forked

# Loaded before any fork: a child between fork and exec-like work must not import.
_LIBC = ctypes.CDLL(None, use_errno=True)
# Where the modules worth pre-loading live: the environment's packages and the standard
# library, never a job's own code (its folder, its PYTHONPATH).
_LIBRARY_ROOTS = tuple({os.path.realpath(p) + os.sep for p in sysconfig.get_paths().values() if p})


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    _check(_LIBC.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _private_opt_ml(opt_ml: str, scratch: str) -> None:
    """What ``unshare --mount`` plus namespace.py's setup script do, in this process."""
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0:
        _check(_LIBC.unshare(_CLONE_NEWNS), "unshare")
    else:
        # An unprivileged user namespace owns the mounts (unshare --map-root-user).
        _check(_LIBC.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"0 {uid} 1")
        _write("/proc/self/gid_map", f"0 {gid} 1")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    if not os.path.isdir("/opt/ml"):
        upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        _mount("overlay", "/opt", "overlay", 0, f"lowerdir=/opt,upperdir={upper},workdir={work}")
        os.makedirs("/opt/ml", exist_ok=True)
    _mount(opt_ml, "/opt/ml", None, _MS_BIND, None)


def _probe_namespaces(scratch: str) -> bool:
    """Whether a forked child can get a private ``/opt/ml`` here."""
    sandbox = os.path.join(scratch, "opt_ml")
    os.makedirs(os.path.join(sandbox, "probe"), exist_ok=True)
    pid = os.fork()
    if pid == 0:
        try:
            _private_opt_ml(sandbox, os.path.join(scratch, "ns"))
            os._exit(0 if os.path.isdir("/opt/ml/probe") else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _library_modules(exclude: tuple[str, ...]) -> list[str]:
    """Modules loaded now (in import order) that live in the environment's libraries."""
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name == "__main__":
            continue
        real = os.path.realpath(path)
        if real.startswith(_LIBRARY_ROOTS) and not real.startswith(exclude):
            names.append(name)
    return names


def script_key(argv: list) -> str:
    """The job's script as the warm-up knows it across runs: its file name, or ``-m NAME``
    (a job's folder differs from run to run)."""
    return f"-m {argv[2]}" if argv[1] == "-m" else os.path.basename(argv[1])


def _record_imports(path: str, exclude: tuple[str, ...], key: str, first: bool) -> None:
    """At the child's exit: which library modules the job used, for the next warm-up.

    ``new`` are the ones it imported itself (the warm interpreter had not): with the
    first job's, they say what the next run's first warm-up must hold."""
    try:
        names = _library_modules(exclude)
        found = {
            "modules": names,
            "script": key,
            "first": first,
            "new": [n for n in names if n not in _WARM_MODULES],
        }
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(found, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # only a lost speed-up


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []
        self.children: dict[int, object] = {}  # pid -> request id
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd fires
        self.closed = False
        self.job: dict | None = None  # set in a forked child: the job it must run
        self.warmed = 0  # modules pre-loaded so far
        self.first_script: str | None = None  # the script whose job forks here, not the tail
        self.requests = 0  # requests received (the first one is the run's first job)
        self.tail: socket.socket | None = None  # to the tail server, once it is forked
        self.tail_pid = 0
        self.tail_buffer = b""

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def poll(self, timeout: float | None) -> None:
        """Handle what arrived within ``timeout``: requests, child exits, a closed socket."""
        watched = [self.sock.fileno(), self.wake_r]
        if self.tail is not None:
            watched.append(self.tail.fileno())
        ready, _, _ = select.select(watched, [], [], timeout)
        if self.wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self.wake_r, 4096)
        self._reap()
        if self.tail is not None and self.tail.fileno() in ready:
            self._relay()
        if self.sock.fileno() in ready:
            self._receive()

    def _relay(self) -> None:
        """Pass the tail server's answers on to the executor (its ``ready`` excepted)."""
        assert self.tail is not None
        data = self.tail.recv(1 << 16)
        if not data:  # the tail is gone: its jobs died with it (PDEATHSIG)
            self.tail.close()
            self.tail = None
            return
        self.tail_buffer += data
        while b"\n" in self.tail_buffer:
            line, self.tail_buffer = self.tail_buffer.split(b"\n", 1)
            if not json.loads(line).get("ready"):
                self.sock.sendall(line + b"\n")

    def start_tail(self) -> _Server | None:
        """Fork the tail server; in it, return its own :class:`_Server` (None here)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        gc.freeze()
        pid = os.fork()
        if pid:
            theirs.close()
            self.tail, self.tail_pid = ours, pid
            return None
        ours.close()
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))  # it dies with this server
        self.sock.close()
        for fd in (self.wake_r, self.wake_w, *self.fds):
            os.close(fd)
        tail = _Server(theirs)
        tail.warmed = self.warmed
        return tail

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.tail_pid:
                self.tail_pid = 0
                continue
            ident = self.children.pop(pid, None)
            signalled = os.WIFSIGNALED(status)
            code = -os.WTERMSIG(status) if signalled else os.WEXITSTATUS(status)
            self.send({"id": ident, "exit": code})

    def _receive(self) -> None:
        fds = array.array("i")
        data, ancdata, _flags, _addr = self.sock.recvmsg(
            1 << 20, socket.CMSG_SPACE(16 * fds.itemsize)
        )
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        self.fds.extend(fds)
        if not data:
            self.closed = True
            return
        self.buffer += data
        while b"\n" in self.buffer and self.job is None:
            line, self.buffer = self.buffer.split(b"\n", 1)
            request = json.loads(line)
            log_fd, status_fd = self.fds.pop(0), self.fds.pop(0)
            self.requests += 1
            request.setdefault("first", self.requests == 1)
            if self.tail is not None and script_key(request["argv"]) != self.first_script:
                self._forward(request, log_fd, status_fd)
            else:
                self._start(request, log_fd, status_fd)

    def _forward(self, request: dict, log_fd: int, status_fd: int) -> None:
        """Hand a request and its fds to the tail server."""
        assert self.tail is not None
        fds = array.array("i", [log_fd, status_fd]).tobytes()
        try:
            self.tail.sendmsg(
                [json.dumps(request).encode() + b"\n"],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)],
            )
        except OSError:
            self.send({"id": request["id"], "refused": "the tail warm interpreter is gone"})
        finally:
            os.close(log_fd)
            os.close(status_fd)

    def _start(self, request: dict, log_fd: int, status_fd: int) -> None:
        if threading.active_count() > 1:
            # Forking a process that runs threads can deadlock the child.
            os.close(log_fd)
            os.close(status_fd)
            self.send({"id": request["id"], "refused": "the warm interpreter runs threads"})
            return
        gc.freeze()  # the child's collector then leaves the server's objects (and pages) alone
        pid = os.fork()
        if pid == 0:
            _WARM_MODULES.update(sys.modules)
            self._become_job(request, log_fd, status_fd)
            return
        os.close(log_fd)
        os.close(status_fd)
        self.children[pid] = request["id"]
        self.send({"id": request["id"], "pid": pid})

    def _become_job(self, request: dict, log_fd: int, status_fd: int) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.sock.close()
        if self.tail is not None:
            self.tail.close()
        for fd in (self.wake_r, self.wake_w, *self.fds):
            os.close(fd)
        os.setsid()  # its own process group: a stop signals everything the job starts
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        # Where the child writes its exit code: the executor learns it at once, even while
        # this server is busy inside a long import (it reports exits only between two).
        os.set_inheritable(status_fd, False)
        request["status_fd"] = status_fd
        request["job_pid"] = os.getpid()  # a process the job forks must not report for it
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self.closed = True
        self.job = request
        print(
            f"sagepipe: forked from a warm interpreter ({self.warmed} modules pre-loaded)",
            file=sys.stderr,
            flush=True,
        )


def _apply(job: dict) -> None:
    """Make this forked child look like ``python ARGV`` started fresh for the job."""
    if job.get("mount"):
        try:
            _private_opt_ml(*job["mount"])
        except OSError as exc:
            sys.stderr.write(f"sagepipe: could not mount the sandbox at /opt/ml: {exc}\n")
            os._exit(125)
    os.chdir(job["cwd"])
    env = job["env"]
    os.environ.clear()
    os.environ.update(env)
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.BufferedWriter(raw) if not unbuffered else raw
        wrapper = io.TextIOWrapper(
            stream,
            encoding=sys.getfilesystemencoding() if name == "stderr" else None,
            errors="backslashreplace" if name == "stderr" else None,
            line_buffering=name == "stderr" or unbuffered,
            write_through=unbuffered,
        )
        setattr(sys, name, wrapper)
        setattr(sys, f"__{name}__", wrapper)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    argv = job["argv"][1:]
    code_paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    # What the interpreter puts first on sys.path: the script's folder, for -m the cwd.
    first = os.getcwd() if argv[0] == "-m" else os.path.dirname(os.path.realpath(argv[0]))
    sys.path[:1] = [first, *[os.path.abspath(p) for p in code_paths]]
    import random
    import tempfile

    random.seed()
    tempfile.tempdir = None  # picked again from this job's TMPDIR
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # else every job would draw the server's numbers
    if job.get("learn"):
        exclude = tuple(os.path.realpath(p) + os.sep for p in (first, *code_paths))
        key, first = script_key(job["argv"]), bool(job.get("first"))
        atexit.register(_record_imports, job["learn"], exclude, key, first)


def _run_main(job: dict) -> None:
    argv = job["argv"][1:]
    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


def _exit_code(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run(job: dict) -> None:
    """Run the job as ``__main__`` and end this process the way the interpreter would."""
    code = 0
    try:
        _run_main(job)
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -int(signal.SIGINT)
    except BaseException:  # what the interpreter does with it, too
        sys.excepthook(*sys.exc_info())
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    # Objects of the job's own modules are released (files they left open get flushed),
    # but the interpreter's full teardown is skipped: in a forked child it would touch,
    # and so copy, every page of the warm interpreter's memory (about a second).
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if name not in _WARM_MODULES and not os.path.realpath(path).startswith(_LIBRARY_ROOTS):
            sys.modules.pop(name, None)
            with contextlib.suppress(Exception):
                module.__dict__.clear()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    if os.getpid() == job["job_pid"]:
        with contextlib.suppress(OSError):
            os.write(job["status_fd"], f"{code}\n".encode())
    os._exit(code)


def warm_plan(warm_file: str) -> tuple:
    """``(first script, its modules, the other modules)`` to pre-load, from ``WARM``.

    Without a usable ``"first"`` entry, every module is the first part (one server)."""
    try:
        with open(warm_file) as fh:
            data = json.load(fh)
        names = [str(n) for n in data["modules"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None, [], []
    try:
        script = str(data["first"])
        needs = {str(n) for n in data["needs"][script]}
    except (KeyError, TypeError):
        return None, names, []
    return script, [n for n in names if n in needs], [n for n in names if n not in needs]


def _warm_up(server: _Server, names: list) -> None:
    for name in names:
        server.poll(0)
        if server.closed:
            return
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # a module that will not pre-load is skipped
            continue
        server.warmed += 1


def serve(sock_fd: int, warm_file: str, scratch: str) -> dict | None:
    """Serve until the executor closes the socket; in a forked child, return its job."""
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        sys.path.pop(0)  # sagepipe's own folder must not shadow the job's modules
    sock = socket.socket(fileno=sock_fd)
    server = _Server(sock)
    server.send({"ready": True, "namespaces": _probe_namespaces(scratch)})
    server.first_script, first, rest = warm_plan(warm_file)
    _warm_up(server, first)
    if rest and not server.closed:
        tail = server.start_tail()
        if tail is not None:  # this process is the tail server now
            server = tail
            _warm_up(server, rest)
    while not server.closed:
        server.poll(None)
    if server.job is None:
        # The executor is gone or done: the children die with this process (PDEATHSIG).
        return None
    return server.job


if __name__ == "__main__":
    _job = serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    if _job is None:
        # Nothing to flush or release: the interpreter's teardown of everything it
        # pre-loaded would only delay the end of the run (a few tenths of a second).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    _apply(_job)
    del _job["env"]
    _run(_job)
