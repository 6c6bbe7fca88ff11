"""Local endpoints like SageMaker's: start in the background, list, replace, stop.

State lives in ``<workspace>/endpoints/<endpoint-name>/``: ``endpoint.json`` (URL, PID,
model), ``spec.json`` (what the server loads) and ``server.log``. A deploy to an endpoint
that is already running on the same address rewrites the spec and sends ``SIGHUP``:
gunicorn keeps the listening socket, starts workers on the new model and lets the old
ones finish their requests, so no request is refused during the switch.
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
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sagepipe

from .spec import EndpointSpec

READY_TIMEOUT_SECONDS = 120.0


class EndpointError(Exception):
    """An endpoint could not be started, reached or stopped (one-line message)."""


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
    port: int,
    workers: int,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> EndpointState:
    """Start the endpoint, or switch the running one to a new model; return when InService."""
    folder = endpoints_root(workspace) / spec.endpoint_name
    from .app import build_app  # numpy and the model's libraries: only deploy needs them

    # Load every variant here first: a model that cannot load must never reach the server,
    # where a failing worker boot would take the running endpoint down.
    build_app(spec)
    current = read_state(workspace, spec.endpoint_name)
    if current is not None and _alive(current.pid):
        if (current.host, current.port) == (host, port) and current.workers == workers:
            return _reload(current, spec, folder, stage, timeout)
        stop(workspace, spec.endpoint_name)
    _refuse_busy_port(host, port)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / "spec.json"
    spec.write(spec_path)
    log_path = folder / "server.log"
    pidfile = folder / "server.pid"
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
    )
    try:
        _wait_ready(url, spec.production.model_package, timeout, process=process, log_path=log_path)
    except EndpointError:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        raise
    _write_state(folder, state)
    return state


def _reload(
    current: EndpointState, spec: EndpointSpec, folder: Path, stage: str, timeout: float
) -> EndpointState:
    spec.write(Path(current.spec_path))
    os.kill(current.pid, signal.SIGHUP)
    # Every worker answers with the new model once the old ones are gone: check that
    # several consecutive pings (spread over the workers) all report the new version.
    _wait_ready(
        current.url, spec.production.model_package, timeout, consecutive=current.workers * 4
    )
    current.model_package = spec.production.model_package
    current.shadow_package = spec.shadow.model_package if spec.shadow else ""
    current.stage = stage
    current.updated_at = _now()
    _write_state(folder, current)
    return current


def stop(workspace: Path, name: str, timeout: float = 60.0) -> EndpointState | None:
    """Stop an endpoint gracefully (in-flight requests finish); None when none was running."""
    state = read_state(workspace, name)
    if state is None:
        return None
    if _alive(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(state.pid):
            os.killpg(state.pid, signal.SIGKILL)
    (endpoints_root(workspace) / name / "endpoint.json").unlink(missing_ok=True)
    return state


def list_endpoints(workspace: Path) -> list[EndpointState]:
    """Every endpoint with state on disk, with its live status (InService or Failed)."""
    root = endpoints_root(workspace)
    states = []
    for path in sorted(root.glob("*/endpoint.json")) if root.is_dir() else []:
        state = read_state(workspace, path.parent.name)
        if state is None:
            continue
        state.status = "InService" if _alive(state.pid) and _pings(state.url) else "Failed"
        states.append(state)
    return states


def read_state(workspace: Path, name: str) -> EndpointState | None:
    """The recorded state of one endpoint, or None."""
    path = endpoints_root(workspace) / name / "endpoint.json"
    if not path.is_file():
        return None
    return EndpointState(**json.loads(path.read_text()))


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
