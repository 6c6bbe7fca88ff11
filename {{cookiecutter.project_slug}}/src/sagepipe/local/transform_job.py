"""A Transform step's job: serve the step's model and run SageMaker batch transform.

``python -m sagepipe.local.transform_job SPEC`` runs in the executor's interpreter (the
serving stack of ``batch-transform``: splitting, batching, filters, ``.out`` files) and
answers records with the model's own runtime: in-process for the project image's models
(their ``code/inference.py``), or in a child process of the image's interpreter for the
XGBoost image's default handler and the scikit-learn image's script-mode server
(:mod:`.model_child`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from ..serving import batch
from ..serving.handler import load_handler
from ..storage import archives
from .model_child import ChildHandler, SerialHandler, sklearn_command, xgboost_command


def _sklearn_code(spec: dict[str, Any], opt_ml: Path) -> tuple[Path, str]:
    """Unpack the model's SAGEMAKER_SUBMIT_DIRECTORY into ``/opt/ml/code``, as the image does."""
    code = spec["code"]
    code_dir = opt_ml / "code"
    if code.get("archive"):
        code_dir.mkdir(parents=True, exist_ok=True)
        archives.extract(Path(code["archive"]), code_dir, error=batch.TransformError)
    else:  # a folder in the container, e.g. /opt/ml/model/code of a repacked model
        source = opt_ml / str(code["opt_ml_path"])
        if not source.is_dir():
            raise batch.TransformError(
                f"SAGEMAKER_SUBMIT_DIRECTORY {code['submit']} is not a folder in the "
                "container (nor in the model archive); point it at the sourcedir.tar.gz in S3"
            )
        if source.resolve() != code_dir.resolve():
            shutil.copytree(source, code_dir, dirs_exist_ok=True)
    if (code_dir / "requirements.txt").is_file() and not spec.get("requirements_installed"):
        # Installed into an overlay when the step was planned, unless it was not found there.
        print(
            f"notice: {code['submit']} has a requirements.txt, which is not installed "
            "locally; the model code imports the packages of its image's runtime",
            file=sys.stderr,
        )
    program = str(code["program"])
    if not (code_dir / program).is_file():
        raise batch.TransformError(
            f"SAGEMAKER_PROGRAM {program!r} is not in SAGEMAKER_SUBMIT_DIRECTORY "
            f"{code['submit']}; name the entry point's file in the source directory"
        )
    return code_dir, program


def _handler(
    spec: dict[str, Any], opt_ml: Path, model_dir: Path, env: dict[str, str] | None = None
) -> Any:
    if spec["handler"] == "xgboost":
        return ChildHandler(xgboost_command(spec["python"], model_dir), env)
    if spec["handler"] == "sklearn":
        code_dir, program = _sklearn_code(spec, opt_ml)
        return ChildHandler(sklearn_command(spec["python"], model_dir, code_dir, program), env)
    return load_handler(model_dir)


def _serial(spec: dict[str, Any], opt_ml: Path, started: list[Any]) -> SerialHandler:
    """Each container of an inference pipeline in its own ``/opt/ml`` stand-in."""
    for index, container in enumerate(spec["containers"]):
        root = opt_ml / "containers" / str(index + 1)
        model_dir = root / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        archives.extract(Path(container["model_archive"]), model_dir)
        try:
            started.append(_handler(container, root, model_dir, container["env"]))
        except batch.TransformError as exc:
            raise batch.TransformError(f"container {index + 1}: {exc}") from None
    return SerialHandler(started)


def main(argv: list[str] | None = None) -> int:
    """Run the transform the spec file describes; failures go to ``output/failure``."""
    spec: dict[str, Any] = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    opt_ml = Path(spec["opt_ml"])
    handler: Any = None
    started: list[Any] = []
    try:
        if spec.get("containers"):
            handler = _serial(spec, opt_ml, started)
        else:
            model_dir = opt_ml / "model"
            model_dir.mkdir(parents=True, exist_ok=True)
            archives.extract(Path(spec["model_archive"]), model_dir)
            handler = _handler(spec, opt_ml, model_dir)
        config = batch.TransformConfig(**spec["config"])
        result = batch.transform(
            handler, Path(spec["input"]), Path(spec["output"]), config, progress=False
        )
        print(f"transformed {result.records} record(s) in {result.requests} request(s)")
        return 0
    except (batch.TransformError, OSError, ValueError) as exc:
        (opt_ml / "output").mkdir(parents=True, exist_ok=True)
        (opt_ml / "output" / "failure").write_text(f"{exc}\n")
        print(exc, file=sys.stderr)
        return 1
    finally:
        for child in [handler, *started]:
            if isinstance(child, ChildHandler):
                child.close()


if __name__ == "__main__":
    sys.exit(main())
