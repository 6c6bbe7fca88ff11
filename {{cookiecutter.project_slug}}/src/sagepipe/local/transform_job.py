"""A Transform step's job: serve the step's model and run SageMaker batch transform.

``python -m sagepipe.local.transform_job SPEC`` runs in the executor's interpreter (the
serving stack of ``batch-transform``: splitting, batching, filters, ``.out`` files) and
answers records with the model's own runtime: in-process for the project image's models
(their ``code/inference.py``), or the XGBoost image's default handler in a child process
of that image's interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..serving import batch
from ..serving.handler import Invocation, load_handler
from ..storage import archives

XGBOOST_SERVE = Path(__file__).resolve().parent / "algorithms" / "xgboost_serve.py"


class _ChildHandler:
    """A ModelHandler look-alike whose predictions come from a child interpreter."""

    def __init__(self, python: str, model_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [python, str(XGBOOST_SERVE), str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        ready = self.stdout.readline()
        if not ready:
            raise batch.TransformError(
                f"the model server ({python}) exited before it was ready; see the log above"
            )

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Invocation:
        header = {"content_type": content_type, "accept": accept, "length": len(body)}
        self.stdin.write(json.dumps(header).encode() + b"\n" + body)
        self.stdin.flush()
        answer = json.loads(self.stdout.readline() or b'{"status": 500, "error": "exited"}')
        data = self.stdout.read(int(answer.get("length") or 0))
        if answer["status"] != 200:
            raise batch.TransformError(f"the model rejected a request: {answer.get('error')}")
        return Invocation(data, str(answer["content_type"]), 0.0)

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Run the transform the spec file describes; failures go to ``output/failure``."""
    spec: dict[str, Any] = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    opt_ml = Path(spec["opt_ml"])
    try:
        model_dir = opt_ml / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        archives.extract(Path(spec["model_archive"]), model_dir)
        handler: Any
        if spec["handler"] == "xgboost":
            handler = _ChildHandler(spec["python"], model_dir)
        else:
            handler = load_handler(model_dir)
        config = batch.TransformConfig(**spec["config"])
        result = batch.transform(
            handler, Path(spec["input"]), Path(spec["output"]), config, progress=False
        )
        if isinstance(handler, _ChildHandler):
            handler.close()
        print(f"transformed {result.records} record(s) in {result.requests} request(s)")
        return 0
    except (batch.TransformError, OSError, ValueError) as exc:
        (opt_ml / "output").mkdir(parents=True, exist_ok=True)
        (opt_ml / "output" / "failure").write_text(f"{exc}\n")
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
