"""Loading model.tar.gz like SageMaker: digest check, safe unpacking, handler variants, timeout."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sagepipe.serving import endpoints
from sagepipe.serving.artifact import unpack
from sagepipe.serving.errors import ModelLoadError
from sagepipe.serving.handler import load_handler
from sagepipe.serving.spec import EndpointSpec, VariantSpec
from sagepipe.storage.digests import file_sha256

from .conftest import start_server
from .helpers import post

SLOW_HANDLER = """
import time

def model_fn(model_dir):
    return {"delay": 3.0}

def predict_fn(data, model):
    if data[0][0] > 0:
        time.sleep(model["delay"])
    return data[:, :1]
"""

TRANSFORM_ONLY = """
def model_fn(model_dir):
    return 2

def transform_fn(model, body, content_type, accept):
    total = sum(float(v) for v in body.decode().split(","))
    return str(total * model), "text/csv"
"""


def _model_dir(tmp_path: Path, handler: str) -> Path:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_text(handler)
    return folder


def test_transform_fn_alone_serves_the_request(tmp_path: Path) -> None:
    handler = load_handler(_model_dir(tmp_path, TRANSFORM_ONLY))
    answer = handler.invoke(b"1,2,3", "text/csv", "text/csv")
    assert (answer.body, answer.content_type) == (b"12.0", "text/csv")


def test_transform_fn_with_predict_fn_is_refused(tmp_path: Path) -> None:
    folder = _model_dir(
        tmp_path, TRANSFORM_ONLY + "\ndef predict_fn(data, model):\n    return data\n"
    )
    with pytest.raises(ModelLoadError, match="transform_fn together with"):
        load_handler(folder)


def test_a_model_without_handler_or_model_joblib_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match=r"model\.joblib"):
        load_handler(tmp_path / "empty")


def test_a_tarball_whose_digest_changed_is_refused_before_unpacking(
    model_tarball: Path, tmp_path: Path
) -> None:
    recorded = file_sha256(model_tarball)
    changed = tmp_path / "model.tar.gz"
    changed.write_bytes(model_tarball.read_bytes() + b"\0")
    with pytest.raises(ModelLoadError, match="the registry recorded"):
        unpack(changed, recorded, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_tarball_without_recorded_digest_is_refused(model_tarball: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no SHA-256 recorded"):
        unpack(model_tarball, None, tmp_path / "cache")


def test_a_tarball_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as archive:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ModelLoadError, match="unsafe path"):
        unpack(evil, file_sha256(evil), tmp_path / "cache")
    assert not (tmp_path / "outside.txt").exists()


def test_unpacking_is_done_once_per_digest(model_tarball: Path, tmp_path: Path) -> None:
    first = unpack(model_tarball, file_sha256(model_tarball), tmp_path / "cache")
    handler = first / "code" / "inference.py"
    inode = handler.stat().st_ino
    again = unpack(model_tarball, file_sha256(model_tarball), tmp_path / "cache")
    # An untouched cache is reused as it is (an edited one is unpacked again: see
    # test_contain_deploys.py).
    assert again == first and handler.stat().st_ino == inode


def test_a_slow_request_gets_504_and_the_server_keeps_serving(tmp_path: Path) -> None:
    spec = EndpointSpec(
        endpoint_name="slow",
        variants=[
            VariantSpec(
                name="AllTraffic",
                model_dir=str(_model_dir(tmp_path, SLOW_HANDLER)),
                model_package="slow/1",
            )
        ],
        timeout_seconds=1,
    )
    state = start_server(tmp_path, spec, workers=1)
    try:
        status, message, _ = post(state.url, b"1,2", "text/csv", "text/csv")
        assert status == 504
        assert b"longer than 1 s" in message
        status, body, _ = post(state.url, b"-1,2", "text/csv", "text/csv")
        assert (status, body) == (200, b"-1.0\n")
    finally:
        endpoints.stop(tmp_path, state.name)


def test_deploy_refuses_a_model_that_cannot_load_and_starts_nothing(tmp_path: Path) -> None:
    broken = _model_dir(tmp_path, "raise RuntimeError('broken handler')\n")
    spec = EndpointSpec(
        endpoint_name="broken", variants=[VariantSpec(name="AllTraffic", model_dir=str(broken))]
    )
    with pytest.raises(ModelLoadError, match="broken handler") as refused:
        start_server(tmp_path, spec)
    assert "\n" not in str(refused.value)
    assert endpoints.list_endpoints(tmp_path) == []
    folder = endpoints.endpoints_root(tmp_path) / "broken"
    # The server that tried the model is gone, and so is what it was started with.
    assert not list(folder.glob("spec-*.json")) and not list(folder.glob("server-*.pid"))
