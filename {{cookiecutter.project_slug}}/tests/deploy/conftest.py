"""Fixtures for deploy tests: a workspace whose registry holds real trained models.

Versions (group from settings): 1 Approved (model A), 2 Approved (model B, other
hyperparameters, so its predictions differ), 3 PendingManualApproval (model A again),
4 Approved (model B registered with model A's evaluation: a smoke test catches it).
Each carries the evaluation report of its model on the held-out split, like the pipeline's
RegisterModel step records it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.steps.evaluate import evaluate_model
from {{ cookiecutter.package_name }}.steps.train import train_model

from sagepipe.registry import ModelRegistry
from sagepipe.serving import endpoints
from sagepipe.serving.artifact import unpack
from sagepipe.serving.spec import CaptureSpec, EndpointSpec, VariantSpec

from .helpers import pack


@pytest.fixture(scope="session", autouse=True)
def one_native_thread() -> Iterator[None]:
    """Run in-process models on one OpenMP/BLAS thread, as the server's workers do.

    Small predictions on a busy 2-core machine were 20x slower with a thread pool per call.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _register(
    registry: ModelRegistry,
    workspace: Path,
    group: str,
    model: Path,
    test: Path,
    name: str,
    approve: bool,
    evaluated: Path | None = None,
) -> None:
    evaluation = workspace / "evaluations" / name
    report = evaluate_model(evaluated or model, test, evaluation)
    key = f"{group}/{name}/output/model.tar.gz"
    tarball = pack(model, workspace / "s3" / "bucket" / key)
    package = registry.create_model_package(
        group,
        model_data_url=f"s3://bucket/{key}",
        model_data_path=tarball,
        lineage=_lineage(report),
    )
    if approve:
        registry.approve(group, package.version, reason="test fixture")


def _lineage(report: dict) -> object:
    from sagepipe.registry import Lineage

    return Lineage(
        execution_id="test", parameters={"TestFraction": "0.2", "Seed": "42"}, metrics=report
    )


@pytest.fixture(scope="session")
def trained_workspace(
    processed: dict[str, Path], model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A workspace with versions 1-4 as described in the module docstring."""
    workspace = tmp_path_factory.mktemp("workspace")
    other = tmp_path_factory.mktemp("model-b")
    train_model(processed["train"], other, max_iter=5, max_depth=2)
    registry = ModelRegistry.for_workspace(workspace)
    group = settings.load().model_package_group
    _register(registry, workspace, group, model_dir, processed["test"], "a", approve=True)
    _register(registry, workspace, group, other, processed["test"], "b", approve=True)
    _register(registry, workspace, group, model_dir, processed["test"], "c", approve=False)
    # Version 4 claims model A's evaluation but ships model B: its smoke test must fail.
    _register(
        registry, workspace, group, other, processed["test"], "d", approve=True, evaluated=model_dir
    )
    return workspace


@pytest.fixture
def workspace(trained_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the trained workspace (each test gets its own history and endpoints)."""
    copy = tmp_path / "ws"
    shutil.copytree(trained_workspace, copy)
    return copy


@pytest.fixture(scope="session")
def model_tarball(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """model.tar.gz of the project's model with its real inference.py handler."""
    return pack(model_dir, tmp_path_factory.mktemp("tar") / "model.tar.gz")


def start_server(workspace: Path, spec: EndpointSpec, workers: int = 2) -> endpoints.EndpointState:
    """Deploy ``spec`` on a free loopback port with a real gunicorn process."""
    port = endpoints.free_port()
    return endpoints.deploy(
        spec,
        workspace=workspace,
        stage="test",
        host="127.0.0.1",
        port=port,
        workers=workers,
        timeout=60,
    )


def variant_for(
    tarball: Path,
    workspace: Path,
    name: str = "AllTraffic",
    role: str = "production",
    package: str = "test/1",
    sampling: float = 100.0,
) -> VariantSpec:
    """Unpack a tarball into the workspace's model cache and describe it as a variant."""
    from sagepipe.storage.digests import file_sha256

    model_dir = unpack(tarball, file_sha256(tarball), workspace / "models")
    return VariantSpec(
        name=name,
        model_dir=str(model_dir),
        model_package=package,
        role=role,
        sampling_percentage=sampling,
    )


@pytest.fixture(scope="module")
def server(
    model_tarball: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[endpoints.EndpointState]:
    """One running endpoint of the project model, shared by a test module."""
    workspace = tmp_path_factory.mktemp("server")
    spec = EndpointSpec(
        endpoint_name="contract",
        variants=[variant_for(model_tarball, workspace)],
        capture=CaptureSpec(
            enabled=True, sampling_percentage=100, destination=str(workspace / "capture")
        ),
        max_payload_mb=1,
        timeout_seconds=30,
    )
    state = start_server(workspace, spec)
    yield state
    endpoints.stop(workspace, state.name)


def sample_rows(test_dir: Path, count: int) -> list[str]:
    """``count`` CSV feature lines (no header, no target) from the held-out split."""
    import pandas as pd

    from {{ cookiecutter.package_name }} import data

    frame = pd.read_csv(test_dir / "test.csv").head(count)
    return [
        ",".join("" if pd.isna(v) else str(v) for v in row)
        for row in frame[list(data.FEATURES)].itertuples(index=False)
    ]


def json_rows(test_dir: Path, count: int) -> list[dict]:
    """``count`` held-out rows as JSON objects keyed by feature name."""
    import pandas as pd

    from {{ cookiecutter.package_name }} import data

    frame = pd.read_csv(test_dir / "test.csv").head(count)
    return json.loads(frame[list(data.FEATURES)].to_json(orient="records"))
