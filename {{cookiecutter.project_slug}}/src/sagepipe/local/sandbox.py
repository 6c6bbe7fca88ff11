"""Container contracts: turn a resolved Processing or Training step into a local job.

Every job gets a folder ``<workspace>/executions/<execution>/<step>/`` holding ``opt_ml/``
(which stands in for ``/opt/ml``: every ``/opt/ml`` path in ``LocalPath``s, entrypoints,
arguments and environment values is rewritten to it) and ``job.log`` (stdout + stderr).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage import archives
from ..storage import objects as s3
from .containment import check_output_tree, remove_tree, sandbox_path

_OPT_ML = re.compile(r"/opt/ml(?=/|$|[\s\"';:&|)])")
_PYTHONS = ("python", "python3", f"python3.{sys.version_info.minor}")


_XGBOOST_ALGORITHM = Path(__file__).resolve().parent / "algorithms" / "xgboost_train.py"


def _repository(image: Any) -> str | None:
    from ..runtimes.table import parse_image

    ref = parse_image(str(image or ""))
    return ref.repository if ref is not None else None


def _is_xgboost_image(image: Any) -> bool:
    return _repository(image) == "sagemaker-xgboost"


# AWS's framework images, whose toolkits (sagemaker-containers, sagemaker-training) turn
# hyperparameters into the entry point's arguments with their own to_cmd_args().
_TOOLKIT_IMAGES = ("sagemaker-xgboost", "sagemaker-scikit-learn")


def toolkit_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The toolkits' ``to_cmd_args``: sorted keys, ``-k`` for one letter, ``str()`` values.

    A dict becomes ``k=v,k2=v2``; ``None`` an empty string; everything else ``str(value)``
    (so ``True`` is ``True``, as the containers pass it).
    """
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"-{key}" if len(str(key)) == 1 else f"--{key}")
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


class JobError(Exception):
    """A job that cannot start or whose result is unusable; ``str()`` is one line."""


@dataclass
class JobPlan:
    """A job ready to launch, and what to do with its results."""

    step_name: str
    kind: str  # "Processing" or "Training"
    job_name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    job_dir: Path
    opt_ml: Path
    log_path: Path
    # Processing: (local folder, S3 URI) to upload after a successful exit.
    uploads: list[tuple[Path, str]] = field(default_factory=list)
    # Training: where model.tar.gz (and output.tar.gz) go.
    model_uri: str | None = None
    output_data_uri: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    # (sandbox, scratch) when the job gets a private mount namespace with /opt/ml.
    mount: tuple[Path, Path] | None = None
    # The source directory's requirements.txt, which the container would pip install.
    requirements: Path | None = None


def remap(value: Any, opt_ml: Path) -> Any:
    """Rewrite every ``/opt/ml`` path inside strings of ``value`` into the sandbox."""
    if isinstance(value, str):
        return _OPT_ML.sub(lambda _m: str(opt_ml), value)
    if isinstance(value, list):
        return [remap(v, opt_ml) for v in value]
    if isinstance(value, dict):
        return {k: remap(v, opt_ml) for k, v in value.items()}
    return value


def python_shim(folder: Path, python: str | None = None) -> Path:
    """A folder with ``python3``/``python`` scripts that run ``python`` (default: this one).

    Put first on ``PATH`` so shell scripts inside jobs that call ``python3`` use the
    job's environment. Scripts, not symlinks: a symlinked venv interpreter would
    lose its ``pyvenv.cfg`` and with it the venv's packages.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in _PYTHONS:
        shim = folder / name
        if not shim.exists():
            # Jobs of one runtime start at the same time: each writes its own temporary.
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(f'#!/bin/sh\nexec "{python or sys.executable}" "$@"\n')
            tmp.chmod(0o755)
            os.replace(tmp, shim)
    return folder


def _command(entrypoint: list[str], opt_ml: Path, python: str | None = None) -> list[str]:
    cmd = [str(c) for c in remap(list(entrypoint), opt_ml)]
    if cmd and os.path.basename(cmd[0]) in _PYTHONS:
        cmd[0] = python or sys.executable  # "python3" in a container = the job's runtime
    return cmd


def base_env(
    extra: Mapping[str, Any] | None, opt_ml: Path, shim: Path, python: str | None = None
) -> dict[str, str]:
    """A job's environment: this one, the ``python3`` shim first on PATH, ``extra`` remapped."""
    env = dict(os.environ)
    if python and python != sys.executable:
        # Another runtime: the executor's own venv and import path must not leak into it.
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(name, None)
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # so job.log shows progress as it happens
    # Where /opt/ml is for this job: sagepipe.contract reads its folders from here.
    env["SAGEPIPE_OPT_ML"] = str(opt_ml)
    for key, value in (extra or {}).items():
        env[str(key)] = str(remap(str(value), opt_ml))
    return env


def resource_config(cluster: Mapping[str, Any] | None) -> dict[str, Any]:
    """``resourceconfig.json`` as SageMaker writes it for a one-instance job."""
    instance_type = str((cluster or {}).get("InstanceType") or "local")
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "lo",
    }


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def _new_job_dir(job_dir: Path) -> tuple[Path, Path]:
    if job_dir.exists():
        remove_tree(job_dir, job_dir.parent)  # only ever inside this run's execution folder
    opt_ml = job_dir / "opt_ml"
    (opt_ml / "output").mkdir(parents=True)
    return opt_ml, job_dir / "job.log"


# -- Processing ---------------------------------------------------------------------------
def prepare_processing(
    step_name: str,
    args: Mapping[str, Any],
    *,
    job_dir: Path,
    job_name: str,
    s3_root: Path,
    shim: Path,
    python: str | None = None,
) -> JobPlan:
    """Download inputs and build the command of a Processing job (run with ``python``)."""
    opt_ml, log_path = _new_job_dir(job_dir)
    app = args.get("AppSpecification") or {}
    entry = list(app.get("ContainerEntrypoint") or [])
    if not entry:
        raise JobError(
            f"step {step_name}: AppSpecification has no ContainerEntrypoint, and image "
            f"{app.get('ImageUri')!r} has no local equivalent; give the step an entrypoint "
            "such as ['python3', '/opt/ml/processing/input/code/script.py']"
        )
    for item in args.get("ProcessingInputs") or []:
        source = item.get("S3Input")
        if source is None:
            raise JobError(
                f"step {step_name}: input {item.get('InputName')!r} is not an S3Input "
                "(DatasetDefinition is not supported locally); read the data from S3 instead"
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobError(
                f"step {step_name}: input {item.get('InputName')!r} has S3DataType "
                f"{source.get('S3DataType')!r}; only S3Prefix runs locally"
            )
        local = sandbox_path(step_name, source["LocalPath"], opt_ml)
        try:
            s3.download(s3_root, source["S3Uri"], local)
        except (FileNotFoundError, s3.S3UriError) as exc:
            raise JobError(f"step {step_name}: input {item.get('InputName')!r}: {exc}") from None
    uploads = []
    for out in (args.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        dest = out.get("S3Output")
        if dest is None:
            raise JobError(
                f"step {step_name}: output {out.get('OutputName')!r} is not an S3Output; "
                "only S3 outputs run locally"
            )
        local = sandbox_path(step_name, dest["LocalPath"], opt_ml)
        local.mkdir(parents=True, exist_ok=True)
        uploads.append((local, str(dest["S3Uri"])))
    _write_json(opt_ml / "config" / "processingjobconfig.json", dict(args))
    _write_json(
        opt_ml / "config" / "resourceconfig.json",
        resource_config((args.get("ProcessingResources") or {}).get("ClusterConfig")),
    )
    command = _command(entry, opt_ml, python) + [
        str(a) for a in remap(list(app.get("ContainerArguments") or []), opt_ml)
    ]
    return JobPlan(
        step_name=step_name,
        kind="Processing",
        job_name=job_name,
        command=command,
        env=base_env(args.get("Environment"), opt_ml, shim, python),
        cwd=job_dir,
        job_dir=job_dir,
        opt_ml=opt_ml,
        log_path=log_path,
        uploads=uploads,
    )


# -- Training -----------------------------------------------------------------------------
def _decode_hyperparameter(value: Any) -> Any:
    """Framework containers JSON-decode each hyperparameter and fall back to the text."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def prepare_training(
    step_name: str,
    args: Mapping[str, Any],
    *,
    job_dir: Path,
    job_name: str,
    s3_root: Path,
    shim: Path,
    python: str | None = None,
) -> JobPlan:
    """Build a Training job with the framework-container contract of DESIGN section 5."""
    opt_ml, log_path = _new_job_dir(job_dir)
    algo = args.get("AlgorithmSpecification") or {}
    raw_hps = dict(args.get("HyperParameters") or {})
    hps = {k: _decode_hyperparameter(v) for k, v in raw_hps.items()}
    user_hps = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}

    channels: list[str] = []
    input_config: dict[str, Any] = {}
    for channel in args.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if source is None:
            raise JobError(
                f"step {step_name}: channel {name!r} has no S3DataSource; only S3 channels "
                "run locally"
            )
        try:
            s3.download(s3_root, source["S3Uri"], opt_ml / "input" / "data" / name)
        except (FileNotFoundError, s3.S3UriError) as exc:
            raise JobError(f"step {step_name}: channel {name!r}: {exc}") from None
        channels.append(name)
        input_config[name] = {
            "TrainingInputMode": channel.get("InputMode", algo.get("TrainingInputMode", "File")),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):  # the XGBoost container picks CSV/libsvm by it
            input_config[name]["ContentType"] = channel["ContentType"]
    config = opt_ml / "input" / "config"
    _write_json(config / "hyperparameters.json", raw_hps)
    _write_json(config / "inputdataconfig.json", input_config)
    resources = resource_config(args.get("ResourceConfig"))
    _write_json(config / "resourceconfig.json", resources)
    _write_json(config / "trainingjobconfig.json", dict(args, TrainingJobName=job_name))
    model_dir = opt_ml / "model"
    output_data = opt_ml / "output" / "data"
    model_dir.mkdir(parents=True)
    output_data.mkdir(parents=True)
    code_dir = opt_ml / "code"
    code_dir.mkdir(parents=True)
    requirements: Path | None = None

    env = base_env(args.get("Environment"), opt_ml, shim, python)
    env.update(
        {
            "SM_MODEL_DIR": str(model_dir),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(user_hps, sort_keys=True),
            "SM_OUTPUT_DATA_DIR": str(output_data),
            "SM_OUTPUT_DIR": str(opt_ml / "output"),
            "SM_INPUT_DIR": str(opt_ml / "input"),
            "SM_INPUT_CONFIG_DIR": str(config),
            "SM_OUTPUT_INTERMEDIATE_DIR": str(opt_ml / "output" / "intermediate"),
            # What SageMaker itself sets in every training container.
            "TRAINING_JOB_NAME": job_name,
            "TRAINING_JOB_ARN": f"arn:aws:sagemaker:local:000000000000:training-job/{job_name}",
            "SM_CURRENT_HOST": "algo-1",
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_NUM_CPUS": str(os.cpu_count() or 1),
            "SM_NUM_GPUS": "0",
            # The rest of what the toolkits' to_env_vars() gives a user script.
            "SM_NETWORK_INTERFACE_NAME": str(resources["network_interface_name"]),
            "SM_RESOURCE_CONFIG": json.dumps(resources, sort_keys=True),
            "SM_INPUT_DATA_CONFIG": json.dumps(input_config, sort_keys=True),
            "SM_FRAMEWORK_PARAMS": "{}",
            "SM_LOG_LEVEL": "20",
            "SM_TRAINING_ENV": json.dumps(
                {
                    "job_name": job_name,
                    "hyperparameters": user_hps,
                    "channel_input_dirs": {c: str(opt_ml / "input" / "data" / c) for c in channels},
                    "model_dir": str(model_dir),
                },
                sort_keys=True,
            ),
        }
    )
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(opt_ml / "input" / "data" / name)
    for key, value in user_hps.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)

    if algo.get("ContainerEntrypoint"):
        # A custom entrypoint (e.g. SDK v3's ModelTrainer driver script) replaces the
        # framework launcher entirely, as in the real container.
        command = _command(list(algo["ContainerEntrypoint"]), opt_ml, python) + [
            str(a) for a in remap(list(algo.get("ContainerArguments") or []), opt_ml)
        ]
        cwd = job_dir
    else:
        program = hps.get("sagemaker_program")
        submit = hps.get("sagemaker_submit_directory")
        if not program and _is_xgboost_image(algo.get("TrainingImage")):
            # The XGBoost image's built-in algorithm: no user code, only hyperparameters.
            program = None
        elif not program:
            raise JobError(
                f"step {step_name}: training image {algo.get('TrainingImage')!r} has no local "
                "equivalent; set the sagemaker_program and sagemaker_submit_directory "
                "hyperparameters (framework estimators do) or a ContainerEntrypoint"
            )
        if program is None:
            submit = None
        if submit:
            archive = s3.uri_to_path(s3_root, str(submit))
            if not archive.is_file():
                raise JobError(
                    f"step {step_name}: sagemaker_submit_directory {submit} does not exist "
                    f"(looked at {archive}); write the compiled code objects there first"
                )
            archives.extract(archive, code_dir, error=JobError)
        if program is not None and not (code_dir / str(program)).is_file():
            raise JobError(
                f"step {step_name}: sagemaker_program {program!r} is not in the source "
                f"archive {submit}; check the program name"
            )
        env["SM_MODULE_DIR"] = str(submit or "")
        env["SM_USER_ENTRY_POINT"] = str(program)
        env["SM_MODULE_NAME"] = Path(str(program)).stem
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code_dir), env.get("PYTHONPATH", "")) if p
        )
        user_args: list[str] = []
        if _repository(algo.get("TrainingImage")) in _TOOLKIT_IMAGES:
            user_args = toolkit_args(user_hps)
        else:  # the project image's own entry (sagepipe.container) passes JSON values
            for key in sorted(user_hps):
                value = user_hps[key]
                user_args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        env["SM_USER_ARGS"] = json.dumps(user_args)
        if program is None:
            command = [python or sys.executable, str(_XGBOOST_ALGORITHM)]
        elif str(program).endswith(".sh"):
            command = ["/bin/sh", str(program), *user_args]
        elif _is_xgboost_image(algo.get("TrainingImage")) and str(program).endswith(".py"):
            # The XGBoost image's script mode (sagemaker-containers' run_module): the
            # entry point runs as a module, `python -m <name> <args>`.
            command = [python or sys.executable, "-m", Path(str(program)).stem, *user_args]
        else:
            command = [python or sys.executable, str(program), *user_args]
        if program is not None and (code_dir / "requirements.txt").is_file():
            requirements = code_dir / "requirements.txt"
        cwd = code_dir

    output_path = str((args.get("OutputDataConfig") or {}).get("S3OutputPath") or "")
    if not output_path:
        raise JobError(f"step {step_name}: OutputDataConfig.S3OutputPath is missing")
    model_uri = s3.join_uri(output_path, job_name, "output", "model.tar.gz")
    return JobPlan(
        step_name=step_name,
        kind="Training",
        job_name=job_name,
        command=command,
        env=env,
        cwd=cwd,
        job_dir=job_dir,
        opt_ml=opt_ml,
        log_path=log_path,
        model_uri=model_uri,
        output_data_uri=s3.join_uri(output_path, job_name, "output", "output.tar.gz"),
        requirements=requirements,
    )


# -- results ------------------------------------------------------------------------------
def collect_results(plan: JobPlan, s3_root: Path, *, move: bool = False) -> dict[str, str]:
    """Upload a successful job's outputs; return ``{s3 uri: local path}`` of what was written.

    ``move=True`` moves processing output folders instead of copying them (the sandbox is
    discarded afterwards anyway).
    """
    written: dict[str, str] = {}
    if plan.kind == "Processing":
        folders = [local.resolve() for local, _uri in plan.uploads]
        if any(a != b and b.is_relative_to(a) for a in folders for b in folders):
            move = False  # nested output folders: moving one would take the other along
        for local, _uri in plan.uploads:
            check_output_tree(plan.step_name, local, plan.opt_ml)
        for local, uri in plan.uploads:
            written[uri] = str(s3.put_tree(s3_root, uri, local, move=move))
        return written
    assert plan.model_uri is not None and plan.output_data_uri is not None
    for folder in (plan.opt_ml / "model", plan.opt_ml / "output" / "data"):
        check_output_tree(plan.step_name, folder, plan.opt_ml)
    staging = plan.job_dir / "staging"
    model_tar = staging / "model.tar.gz"
    archives.pack_folder(plan.opt_ml / "model", model_tar, error=JobError)
    written[plan.model_uri] = str(s3.move_in(s3_root, plan.model_uri, model_tar))
    data_dir = plan.opt_ml / "output" / "data"
    if any(data_dir.iterdir()):
        data_tar = staging / "output.tar.gz"
        archives.pack_folder(data_dir, data_tar, error=JobError)
        written[plan.output_data_uri] = str(s3.move_in(s3_root, plan.output_data_uri, data_tar))
    return written


def failure_reason(plan: JobPlan, returncode: int) -> str:
    """One line saying why a job failed: the container's failure file, else the log's end."""
    for name in ("failure", "message"):
        path = plan.opt_ml / "output" / name
        if path.is_file():
            text = path.read_text(errors="replace").strip()
            if text:
                first = next(line for line in text.splitlines() if line.strip())
                return _clip(first.strip())
    tail = _log_tail(plan.log_path)
    how = f"exit code {returncode}" if returncode >= 0 else f"killed by signal {-returncode}"
    if tail:
        return _clip(f"{tail} ({how})")
    return f"the job ended with {how} and wrote no output; see {plan.log_path}"


def _log_tail(log_path: Path) -> str:
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
