"""Containment, deploys: a failed redeploy never stops the running endpoint; stops are safe.

Real gunicorn endpoints on loopback. Each failure case deploys a second time with a bad
port, a busy port or a model that does not load, then checks that the first server (the
same process) still answers and is still the one recorded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sagepipe.serving import endpoints
from sagepipe.serving.artifact import unpack
from sagepipe.serving.errors import ModelLoadError
from sagepipe.serving.spec import EndpointSpec, VariantSpec
from sagepipe.storage.digests import file_sha256

from .conftest import variant_for
from .helpers import post


def _spec(model_tarball: Path, workspace: Path, package: str = "test/1") -> EndpointSpec:
    return EndpointSpec(
        "contain", [variant_for(model_tarball, workspace, package=package)], max_payload_mb=1
    )


def _deploy(spec: EndpointSpec, workspace: Path, port: int | None) -> endpoints.EndpointState:
    return endpoints.deploy(
        spec, workspace=workspace, stage="test", host="127.0.0.1", port=port, workers=1, timeout=60
    )


def _serving(state: endpoints.EndpointState) -> str:
    status, _, headers = post(state.url, b"", None, method="GET", path="/ping")
    assert status == 200
    return headers["X-Sagepipe-Model"]


@pytest.fixture
def running(model_tarball: Path, tmp_path: Path):
    """One endpoint on a port chosen by deploy (no port given)."""
    state = _deploy(_spec(model_tarball, tmp_path), tmp_path, None)
    yield tmp_path, state
    endpoints.stop(tmp_path, state.name)


def _bad_model_spec(model_tarball: Path, workspace: Path) -> EndpointSpec:
    broken = workspace / "broken-model"
    (broken / "code").mkdir(parents=True)
    (broken / "code" / "inference.py").write_text("raise RuntimeError('broken handler')\n")
    return EndpointSpec(
        "contain",
        [VariantSpec(name="AllTraffic", model_dir=str(broken), model_package="test/9")],
    )


@pytest.mark.parametrize(
    "failure", ["busy port", "port 70000", "negative port", "bad model", "zero workers"]
)
def test_a_failed_redeploy_leaves_the_running_endpoint_serving(
    running, model_tarball: Path, failure: str
) -> None:
    workspace, first = running
    spec = _spec(model_tarball, workspace, package="test/2")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises((endpoints.EndpointError, ModelLoadError)) as info:
            if failure == "busy port":
                _deploy(spec, workspace, holder.getsockname()[1])
            elif failure == "port 70000":
                _deploy(spec, workspace, 70000)
            elif failure == "negative port":
                _deploy(spec, workspace, -5)
            elif failure == "bad model":
                _deploy(_bad_model_spec(model_tarball, workspace), workspace, None)
            else:
                endpoints.deploy(
                    spec, workspace=workspace, stage="test", host="127.0.0.1", port=None, workers=0
                )
    finally:
        holder.close()
    assert "\n" not in str(info.value)
    assert _serving(first) == "test/1", failure
    recorded = endpoints.read_state(workspace, first.name)
    assert recorded is not None and (recorded.pid, recorded.port) == (first.pid, first.port)


def test_no_port_means_a_free_port_kept_by_redeploys(running, model_tarball: Path) -> None:
    workspace, first = running
    assert 1 <= first.port <= 65535
    recorded = endpoints.read_state(workspace, first.name)
    assert recorded is not None and recorded.port == first.port
    again = _deploy(_spec(model_tarball, workspace, package="test/2"), workspace, None)
    assert (again.port, again.pid) == (first.port, first.pid)  # same server, switched model
    assert _serving(again) == "test/2"
    assert [e["event"] for e in endpoints.events(workspace, first.name)] == [
        "started",
        "switched",
    ]


def test_sagemaker_bind_to_port_wins_over_the_free_port(
    model_tarball: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wanted = endpoints.free_port()
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", str(wanted))
    state = _deploy(_spec(model_tarball, tmp_path), tmp_path, 0)
    try:
        assert state.port == wanted and _serving(state) == "test/1"
    finally:
        endpoints.stop(tmp_path, state.name)


def test_moving_to_another_port_starts_the_new_server_before_stopping_the_old(
    running, model_tarball: Path
) -> None:
    workspace, first = running
    second = _deploy(
        _spec(model_tarball, workspace, package="test/2"), workspace, endpoints.free_port()
    )
    assert second.pid != first.pid and _serving(second) == "test/2"
    deadline = time.monotonic() + 30
    while endpoints._alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not endpoints._alive(first.pid)
    log = [(e["event"], e["pid"]) for e in endpoints.events(workspace, first.name)]
    assert log == [("started", first.pid), ("started", second.pid), ("stopped", first.pid)]


def test_undeploy_never_kills_a_process_that_reused_the_recorded_pid(
    running, tmp_path: Path
) -> None:
    workspace, first = running
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path = workspace / "endpoints" / first.name / "endpoint.json"
        record = json.loads(path.read_text())
        real_pid = record["pid"]
        record["pid"] = stranger.pid  # as if the server died and its PID was reused
        path.write_text(json.dumps(record))
        stopped = endpoints.stop(workspace, first.name)
        assert stopped is not None
        assert stranger.poll() is None, "a process that is not the endpoint was signalled"
        assert endpoints.events(workspace, first.name)[-1]["event"] == "forgotten"
    finally:
        stranger.kill()
        stranger.wait()
        endpoints._terminate(first)
    assert not endpoints._alive(real_pid)


@pytest.mark.parametrize("corruption", [b"", b"{not json", b"[]", b'{"pid": "x"}', b"\x00" * 40])
def test_a_corrupt_endpoint_json_does_not_lock_the_user_out_of_stopping(
    running, corruption: bytes
) -> None:
    workspace, first = running
    (workspace / "endpoints" / first.name / "endpoint.json").write_bytes(corruption)
    with pytest.raises(endpoints.EndpointError, match="unreadable"):
        endpoints.read_state(workspace, first.name)
    listed = endpoints.list_endpoints(workspace)
    assert [(s.pid, s.status) for s in listed] == [(first.pid, "Corrupt")]
    stopped = endpoints.stop(workspace, first.name)
    assert stopped is not None and stopped.pid == first.pid
    deadline = time.monotonic() + 30
    while endpoints._alive(first.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not endpoints._alive(first.pid)


@pytest.mark.parametrize("edit", ["change the handler", "add a file", "remove a file"])
def test_an_edited_model_cache_is_never_served(
    model_tarball: Path, tmp_path: Path, edit: str
) -> None:
    digest = file_sha256(model_tarball)
    model_dir = unpack(model_tarball, digest, tmp_path / "models")
    handler = model_dir / "code" / "inference.py"
    original = handler.read_bytes()
    if edit == "change the handler":
        handler.write_text("def predict_fn(data, model):\n    return [[1, 1.0]]\n")
    elif edit == "add a file":
        (model_dir / "code" / "sitecustomize.py").write_text("print('injected')\n")
    else:
        handler.unlink()
    again = unpack(model_tarball, digest, tmp_path / "models")
    assert again == model_dir
    assert (again / "code" / "inference.py").read_bytes() == original
    assert not (again / "code" / "sitecustomize.py").exists()
    assert list((tmp_path / "models").glob(".*-modified-*")), "the edited copy is kept aside"
