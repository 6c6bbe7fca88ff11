"""The project image's entry point (``python -m sagepipe.container``) outside Docker.

``SAGEPIPE_OPT_ML`` stands in for ``/opt/ml``: ``train`` must honour the framework training
contract and ``serve`` the hosting contract, as SageMaker calls them in the container.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

from framework_paths import FRAMEWORK_SRC


def _env(opt_ml: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(FRAMEWORK_SRC), "SAGEPIPE_OPT_ML": str(opt_ml), **extra}


def test_train_fetches_the_submit_directory_and_runs_the_program_with_its_hyperparameters(
    tmp_path: Path,
) -> None:
    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "input" / "config").mkdir(parents=True)
    (opt_ml / "input" / "data" / "train").mkdir(parents=True)
    (opt_ml / "input" / "data" / "train" / "rows.txt").write_text("1\n2\n")
    program = (
        b"import argparse, json, os\n"
        b"p = argparse.ArgumentParser(); p.add_argument('--depth', type=int)\n"
        b"a = p.parse_args()\n"
        b"rows = open(os.path.join(os.environ['SM_CHANNEL_TRAIN'], 'rows.txt')).read().split()\n"
        b"json.dump({'depth': a.depth, 'rows': len(rows)},"
        b" open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.json'), 'w'))\n"
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("fit.py")
        info.size = len(program)
        tar.addfile(info, io.BytesIO(program))
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(buffer.getvalue())
    (opt_ml / "model").mkdir()
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(
            {
                "depth": "4",
                "sagemaker_program": '"fit.py"',
                "sagemaker_submit_directory": json.dumps(str(archive)),
            }
        )
    )
    (opt_ml / "input" / "config" / "inputdataconfig.json").write_text('{"train": {}}')
    done = subprocess.run(
        [sys.executable, "-m", "sagepipe.container", "train"],
        env=_env(opt_ml),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((opt_ml / "model" / "model.json").read_text()) == {"depth": 4, "rows": 2}


def test_serve_answers_ping_and_invocations_for_the_model_in_opt_ml(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    opt_ml = tmp_path / "opt_ml"
    (opt_ml / "model").mkdir(parents=True)
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    joblib.dump(model, opt_ml / "model" / "model.joblib")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "sagepipe.container", "serve"],
        env=_env(opt_ml, SAGEMAKER_BIND_TO_PORT=str(port), SAGEMAKER_MODEL_SERVER_WORKERS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as ping:
                    assert ping.status == 200
                    break
            except OSError:
                assert server.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "no /ping answer within 60 s"
                time.sleep(0.3)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=b"0.0\n3.0\n",
            headers={"Content-Type": "text/csv", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        assert body == [0, 1]  # the default handler: model.predict, JSON-encoded
    finally:
        server.terminate()
        server.wait(timeout=30)
