"""Local endpoints like SageMaker's: start in the background, list, replace, stop.

State lives in ``<workspace>/endpoints/<endpoint-name>/``: ``endpoint.json`` (URL, PID,
the process's start time, model), ``spec-<port>.json`` (what the server loads),
``server.log`` and ``events.jsonl`` (every start, switch and stop). A deploy to an endpoint
that is already running on the same address rewrites the spec and sends ``SIGHUP``:
gunicorn keeps the listening socket, starts workers on the new model and lets the old
ones finish their requests, so no request is refused during the switch. A deploy to
another address starts and checks the new server first, records it, and only then stops
the old one: a deploy that fails (busy port, bad port, a model that does not load) leaves
the running endpoint serving. Without an explicit port, a redeploy keeps the running
endpoint's port and a first deploy takes a free one (``SAGEMAKER_BIND_TO_PORT`` wins).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sagepipe

from ..private import private_dir, private_file
from .errors import EndpointError
from .spec import EndpointSpec

READY_TIMEOUT_SECONDS = 120.0


@dataclass
class EndpointState:
    """What ``endpoints`` lists about one running endpoint."""

    name: str
    stage: str
    url: str
    host: str
    port: int
    pid: int
    workers: int
    model_package: str
    shadow_package: str
    started_at: str
    updated_at: str
    spec_path: str
    log_path: str
    status: str = "InService"
    process_started: str = ""  # the PID's start time (/proc), so a reused PID is never killed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def endpoints_root(workspace: Path) -> Path:
    """The folder holding every endpoint's state."""
    return Path(workspace) / "endpoints"


def deploy(
    spec: EndpointSpec,
    *,
    workspace: Path,
    stage: str,
    host: str,
    port: int | None,
    workers: int,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> EndpointState:
    """Start the endpoint, or switch the running one to a new model; return when InService.

    ``port`` None or 0 means: ``SAGEMAKER_BIND_TO_PORT``, else the running endpoint's port,
    else a free port. Nothing running is stopped unless the new server answers first.
    """
    folder = endpoints_root(workspace) / spec.endpoint_name
    if workers < 1:
        raise EndpointError(f"workers={workers} must be at least 1")
    current = read_state(workspace, spec.endpoint_name)
    running = current if current is not None and _is_endpoint(current) else None
    port = choose_port(host, port, running)
    from .app import build_app  # numpy and the model's libraries: only deploy needs them

    if running is not None and (running.host, running.port) == (host, port):
        # A switch reloads the running server's workers: load every variant here first, a
        # model that cannot load must never reach them (a failing worker boot would take
        # the running endpoint down).
        build_app(spec)
        return _reload(running, spec, folder, stage, timeout, workers)
    # A new server is only adopted once it answers (a running endpoint elsewhere stays
    # until then), so the model is loaded once, by the server, not here first as well:
    # that took 1.9 s of a 4.3 s deploy of the sample model.
    _refuse_busy_port(host, port)
    private_dir(folder)
    spec_path = folder / f"spec-{port}.json"
    spec.write(spec_path)
    (folder / "workers").write_text(f"{workers}\n")
    log_path = private_file(folder / "server.log")
    pidfile = folder / f"server-{port}.pid"
    pidfile.unlink(missing_ok=True)
    env = dict(os.environ)
    framework_src = str(Path(sagepipe.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (framework_src, env.get("PYTHONPATH", "")) if p)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")  # workers use the cores; native pools would oversubscribe them
    command = [
        sys.executable,
        "-m",
        "sagepipe.serving",
        "run",
        "--spec",
        str(spec_path),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--pidfile",
        str(pidfile),
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # survives the CLI that started it
        )
    url = f"http://{_url_host(host)}:{port}"
    now = _now()
    state = EndpointState(
        name=spec.endpoint_name,
        stage=stage,
        url=url,
        host=host,
        port=port,
        pid=process.pid,
        workers=workers,
        model_package=spec.production.model_package,
        shadow_package=spec.shadow.model_package if spec.shadow else "",
        started_at=now,
        updated_at=now,
        spec_path=str(spec_path),
        log_path=str(log_path),
        process_started=_process_started(process.pid),
    )
    try:
        _wait_ready(url, spec.production.model_package, timeout, process=process, log_path=log_path)
    except EndpointError:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        spec_path.unlink(missing_ok=True)
        pidfile.unlink(missing_ok=True)
        # When the model is why the server failed, say why as loading it here does (its
        # own error, one line) rather than the server log's last line.
        build_app(spec)
        raise
    _write_state(folder, state)
    _record(folder, "started", state)
    if running is not None:
        # The new server answers and is recorded: only now does the old one go.
        _terminate(running)
        _record(folder, "stopped", running, reason=f"replaced by the server on port {port}")
        if running.spec_path != str(spec_path):
            Path(running.spec_path).unlink(missing_ok=True)
    return state


def choose_port(host: str, port: int | None, running: EndpointState | None = None) -> int:
    """The port to deploy on: explicit, else SAGEMAKER_BIND_TO_PORT, the running one, a free one."""
    if port is None or port == 0:
        raw = os.environ.get("SAGEMAKER_BIND_TO_PORT", "").strip()
        if raw:
            try:
                port = int(raw)
            except ValueError:
                raise EndpointError(
                    f"SAGEMAKER_BIND_TO_PORT={raw!r} is not a port number; set 1-65535"
                ) from None
        elif running is not None and running.host == host:
            return running.port
        else:
            return free_port(host)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise EndpointError(
            f"port {port!r} is not a TCP port: use 1-65535, or leave it out for a free one"
        )
    return port


def _reload(
    current: EndpointState,
    spec: EndpointSpec,
    folder: Path,
    stage: str,
    timeout: float,
    workers: int,
) -> EndpointState:
    spec.write(Path(current.spec_path))
    # The master re-reads its configuration on SIGHUP, worker count included.
    (folder / "workers").write_text(f"{workers}\n")
    os.kill(current.pid, signal.SIGHUP)
    # Every worker answers with the new model once the old ones are gone: check that
    # several consecutive pings (spread over the workers) all report the new version.
    _wait_ready(
        current.url, spec.production.model_package, timeout, consecutive=current.workers * 4
    )
    current.model_package = spec.production.model_package
    current.shadow_package = spec.shadow.model_package if spec.shadow else ""
    current.workers = workers
    current.stage = stage
    current.updated_at = _now()
    _write_state(folder, current)
    _record(folder, "switched", current)
    return current


def stop(workspace: Path, name: str, timeout: float = 60.0) -> EndpointState | None:
    """Stop an endpoint gracefully (in-flight requests finish); None when none was running.

    Only a process that is the recorded endpoint (same start time, a model server command
    line) is signalled; a PID that now belongs to something else is left alone. A corrupt
    ``endpoint.json`` does not lock the user out: the server's pidfile is used instead.
    """
    folder = endpoints_root(workspace) / name
    try:
        state = read_state(workspace, name)
    except EndpointError:
        state = _recover_state(folder, name)
    if state is None:
        return None
    if _is_endpoint(state):
        _terminate(state, timeout)
        _record(folder, "stopped", state, reason="undeploy")
    else:
        _record(folder, "forgotten", state, reason="the recorded PID is not this endpoint")
    (folder / "endpoint.json").unlink(missing_ok=True)
    return state


def _terminate(state: EndpointState, timeout: float = 60.0) -> None:
    if not _alive(state.pid):
        return
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(state.pid) and _is_endpoint(state):
        os.killpg(state.pid, signal.SIGKILL)


def _recover_state(folder: Path, name: str) -> EndpointState | None:
    """From the gunicorn pidfiles when endpoint.json is unreadable (only our own servers)."""
    for pidfile in sorted(folder.glob("server*.pid")):
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        command = _command_line(pid)
        if "sagepipe.serving" in command and str(folder) in command:
            now = _now()
            return EndpointState(
                name,
                "",
                "",
                "",
                0,
                pid,
                0,
                "",
                "",
                now,
                now,
                "",
                "",
                "Unknown",
                _process_started(pid),
            )
    return None


def _process_started(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot ('' where /proc is missing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _command_line(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _is_endpoint(state: EndpointState) -> bool:
    """True when ``state.pid`` is alive and is the recorded model server."""
    if not _alive(state.pid):
        return False
    if not Path("/proc").is_dir():  # no way to check here: trust the record
        return True
    if state.process_started and _process_started(state.pid) != state.process_started:
        return False
    return "sagepipe.serving" in _command_line(state.pid)


def _record(folder: Path, event: str, state: EndpointState, reason: str = "") -> None:
    """Append one whole line to ``events.jsonl``: every start, switch and stop is kept."""
    line = json.dumps(
        {
            "at": _now(),
            "event": event,
            "pid": state.pid,
            "port": state.port,
            "model_package": state.model_package,
            "reason": reason,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def events(workspace: Path, name: str) -> list[dict[str, Any]]:
    """The recorded starts, switches and stops of an endpoint (bad lines skipped)."""
    path = endpoints_root(workspace) / name / "events.jsonl"
    found = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def list_endpoints(workspace: Path) -> list[EndpointState]:
    """Every endpoint with state on disk, with its live status (InService or Failed)."""
    root = endpoints_root(workspace)
    states = []
    for path in sorted(root.glob("*/endpoint.json")) if root.is_dir() else []:
        try:
            state = read_state(workspace, path.parent.name)
        except EndpointError:
            state = _recover_state(path.parent, path.parent.name)
            if state is not None:
                state.status = "Corrupt"
                states.append(state)
            continue
        if state is None:
            continue
        alive = _is_endpoint(state)
        state.status = "InService" if alive and _pings(state.url) else "Failed"
        states.append(state)
    return states


def read_state(workspace: Path, name: str) -> EndpointState | None:
    """The recorded state of one endpoint, or None."""
    path = endpoints_root(workspace) / name / "endpoint.json"
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(EndpointState)}
        return EndpointState(**{k: v for k, v in raw.items() if k in known})
    except (ValueError, TypeError, AttributeError, OSError) as err:
        raise EndpointError(
            f"{path} is unreadable ({type(err).__name__}); `undeploy` still stops the server "
            "(it falls back to the server's pidfile), then deploy again"
        ) from None


def _write_state(folder: Path, state: EndpointState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"endpoint.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(state.to_dict(), indent=2) + "\n")
    os.replace(tmp, folder / "endpoint.json")


def _wait_ready(
    url: str,
    model_package: str,
    timeout: float,
    *,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    consecutive: int = 1,
) -> None:
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EndpointError(
                f"the model server exited with code {process.returncode}: {_last_line(log_path)}"
            )
        model = _ping_model(url)
        streak = streak + 1 if model == model_package else 0
        if streak >= consecutive:
            return
        time.sleep(0.05 if streak else 0.1)
    raise EndpointError(
        f"{url}/ping did not answer with {model_package} within {timeout:g} s; see {log_path}"
    )


def _ping_model(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return response.headers.get("X-Sagepipe-Model") if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _pings(url: str) -> bool:
    return _ping_model(url) is not None


def _last_line(log_path: Path | None) -> str:
    if log_path is None or not log_path.is_file():
        return "no log"
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["empty log"])[-1][:300]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child of this process) still answers kill(0); reap it.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _refuse_busy_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise EndpointError(
                f"port {port} on {host} is already in use; "
                "stop what listens there or choose another port"
            ) from None


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests and ``--port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
