"""Turn a resolved Transform step (and its CreateModel record) into a local job."""

from __future__ import annotations

import json
import posixpath
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..storage import objects as s3
from .sandbox import JobError, JobPlan, _new_job_dir, base_env


def script_mode_code(step_name: str, model: Mapping[str, Any], s3_root: Path) -> dict[str, str]:
    """Where a script-mode model's code is: its container's SAGEMAKER_* environment.

    ``SAGEMAKER_SUBMIT_DIRECTORY`` is a ``sourcedir.tar.gz`` in S3 (the SDK uploads one when
    the model data is a pipeline property) or a folder in the container, such as
    ``/opt/ml/model/code`` of a repacked model; without it the image reads ``/opt/ml/code``.
    """
    env = model.get("Environment") or {}
    name = model.get("ModelName")
    program = str(env.get("SAGEMAKER_PROGRAM") or "")
    if not program:
        raise JobError(
            f"step {step_name}: model {name!r} on {model.get('Image')} has no "
            "SAGEMAKER_PROGRAM in its container's Environment; the image serves a user "
            "module: create the model with entry_point= (SKLearnModel does)"
        )
    submit = str(env.get("SAGEMAKER_SUBMIT_DIRECTORY") or "/opt/ml/code")
    code = {"program": program, "submit": submit}
    if submit.startswith("s3://"):
        try:
            archive = s3.uri_to_path(s3_root, submit)
        except s3.S3UriError as exc:
            raise JobError(f"step {step_name}: SAGEMAKER_SUBMIT_DIRECTORY: {exc}") from None
        if not archive.is_file():
            raise JobError(
                f"step {step_name}: model {name!r}: SAGEMAKER_SUBMIT_DIRECTORY {submit} does "
                f"not exist (looked at {archive}); put the model's sourcedir.tar.gz there"
            )
        code["archive"] = str(archive)
    elif posixpath.normpath(submit).startswith("/opt/ml/") and "\0" not in submit:
        # Normalised first: /opt/ml/../../etc must not copy the host's files in.
        code["opt_ml_path"] = posixpath.normpath(submit)[len("/opt/ml/") :]
    else:
        raise JobError(
            f"step {step_name}: model {name!r}: SAGEMAKER_SUBMIT_DIRECTORY {submit!r} is "
            "neither an s3:// URI nor a folder under /opt/ml; use the sourcedir.tar.gz's S3 URI"
        )
    return code


def script_requirements(code: Mapping[str, str], model_archive: Path | None) -> bytes | None:
    """The ``requirements.txt`` of a script-mode model's source directory, if it has one.

    Read from the ``sourcedir.tar.gz`` or, for a folder such as ``/opt/ml/model/code``,
    from the model archive that will be unpacked at ``/opt/ml/model``. Only script-mode
    models get here, so other Transform steps never open an archive for it.
    """
    if code.get("archive"):
        archive, inner = Path(code["archive"]), "requirements.txt"
    elif str(code.get("opt_ml_path", "")).startswith("model/") and model_archive is not None:
        archive = model_archive
        inner = posixpath.join(str(code["opt_ml_path"])[len("model/") :], "requirements.txt")
    else:
        return None
    wanted = {inner, "./" + inner}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    return handle.read() if handle is not None else None
    except (OSError, tarfile.TarError, EOFError):
        return None  # the job itself reports an unreadable archive, in its own words
    return None


def model_archive(step_name: str, model: Mapping[str, Any], s3_root: Path) -> Path:
    """The model's ``model.tar.gz`` in the workspace; a one-line error when it is missing."""
    model_url = str(model.get("ModelDataUrl") or "")
    archive = s3.uri_to_path(s3_root, model_url) if model_url else None
    if archive is None or not archive.is_file():
        raise JobError(
            f"step {step_name}: model {model.get('ModelName')!r} has no model.tar.gz at "
            f"{model_url or '(no ModelDataUrl)'}; create the model from a trained artifact"
        )
    return archive


def prepare_transform(
    step_name: str,
    args: Mapping[str, Any],
    model: Mapping[str, Any],
    *,
    job_dir: Path,
    job_name: str,
    s3_root: Path,
    shim: Path,
    handler: str,
    model_python: str,
    requirements_installed: bool = False,
    containers: list[dict[str, Any]] | None = None,
) -> JobPlan:
    """Download the input and the model archive and write the transform job's spec.

    ``containers`` (an inference pipeline) lists, per container, its ``model`` (the
    container's record: Image, ModelDataUrl, Environment), ``handler``, ``python`` and
    ``requirements_installed``; ``model`` is then its first container.
    """
    opt_ml, log_path = _new_job_dir(job_dir)
    source = ((args.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource")
    if not source:
        raise JobError(f"step {step_name}: TransformInput has no S3DataSource; only S3 input runs")
    transform_input = args.get("TransformInput") or {}
    if transform_input.get("CompressionType", "None") not in ("None", None):
        raise JobError(
            f"step {step_name}: CompressionType {transform_input['CompressionType']!r} does not "
            "run locally; use uncompressed input"
        )
    input_dir = opt_ml / "transform" / "input"
    try:
        s3.download(s3_root, str(source["S3Uri"]), input_dir)
    except (FileNotFoundError, s3.S3UriError) as exc:
        raise JobError(f"step {step_name}: input: {exc}") from None
    archive = model_archive(step_name, model, s3_root)
    output = args.get("TransformOutput") or {}
    destination = str(output.get("S3OutputPath") or "")
    if not destination:
        raise JobError(f"step {step_name}: TransformOutput.S3OutputPath is missing")
    processing = args.get("DataProcessing") or {}
    config = {
        "content_type": str(transform_input.get("ContentType") or "text/csv"),
        "accept": str(output.get("Accept") or transform_input.get("ContentType") or "text/csv"),
        "split_type": str(transform_input.get("SplitType") or "None"),
        "batch_strategy": str(args.get("BatchStrategy") or "MultiRecord"),
        "max_payload_mb": float(args.get("MaxPayloadInMB") or 6),
        "assemble_with": str(output.get("AssembleWith") or "None"),
        "input_filter": str(processing.get("InputFilter") or "$"),
        "join_source": str(processing.get("JoinSource") or "None"),
        "output_filter": str(processing.get("OutputFilter") or "$"),
    }
    out_dir = opt_ml / "transform" / "output"
    out_dir.mkdir(parents=True)
    spec: dict[str, Any] = {
        "opt_ml": str(opt_ml),
        "model_archive": str(archive),
        "input": str(input_dir),
        "output": str(out_dir),
        "handler": handler,
        "python": model_python,
        "config": config,
    }
    if handler == "sklearn":
        spec["code"] = script_mode_code(step_name, model, s3_root)
        spec["requirements_installed"] = requirements_installed
    job_environment = dict(model.get("Environment") or {})
    if containers:
        # An inference pipeline: each container has its model, code and environment.
        spec["containers"] = [
            {
                "model_archive": str(model_archive(step_name, c["model"], s3_root)),
                "handler": c["handler"],
                "python": c["python"],
                "env": {str(k): str(v) for k, v in (c["model"].get("Environment") or {}).items()},
                "requirements_installed": c["requirements_installed"],
                **(
                    {"code": script_mode_code(step_name, c["model"], s3_root)}
                    if c["handler"] == "sklearn"
                    else {}
                ),
            }
            for c in containers
        ]
        job_environment = {}
    spec_path = job_dir / "transform.json"
    spec_path.write_text(json.dumps(spec, indent=2, sort_keys=True))
    env = base_env(job_environment, opt_ml, shim)
    framework_src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = framework_src + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return JobPlan(
        step_name=step_name,
        kind="Processing",  # results are a folder uploaded to S3OutputPath
        job_name=job_name,
        command=[sys.executable, "-m", "sagepipe.local.transform_job", str(spec_path)],
        env=env,
        cwd=job_dir,
        job_dir=job_dir,
        opt_ml=opt_ml,
        log_path=log_path,
        uploads=[(out_dir, destination)],
    )
