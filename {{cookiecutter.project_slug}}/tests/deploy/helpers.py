"""Test helpers: pack a trained model like the training job does, talk HTTP, run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SRC = PROJECT_ROOT / "src"


def pack(model_dir: Path, target: Path) -> Path:
    """Write ``model.tar.gz`` of a model folder (model files at the root, handler in code/)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            if "__pycache__" not in path.parts:
                archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return target


def post(
    url: str,
    body: bytes,
    content_type: str | None = "text/csv",
    accept: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/invocations",
) -> tuple[int, bytes, dict[str, str]]:
    """One HTTP request; returns status, body and headers, also for 4xx/5xx."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if accept is not None:
        all_headers["Accept"] = accept
    request = urllib.request.Request(
        url + path, data=body if method != "GET" else None, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def run_cli(workspace: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the deploy commands in a subprocess, as a user would from the project root."""
    env = dict(
        os.environ,
        SAGEPIPE_WORKSPACE=str(workspace),
        PYTHONPATH=str(SRC),
        GX_ANALYTICS_ENABLED="false",
    )
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}.deploy.commands", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result
