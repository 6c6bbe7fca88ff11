"""The project image's entry point: SageMaker runs ``<image> serve`` and ``<image> train``.

``serve`` speaks the hosting contract with sagepipe's own server: the model that
SageMaker unpacked into ``/opt/ml/model`` (with ``code/inference.py``), on
``SAGEMAKER_BIND_TO_PORT`` or 8080. ``train`` is the framework-container training
contract the compiled definition relies on: fetch ``sagemaker_submit_directory``, unpack
it into ``/opt/ml/code`` and run ``sagemaker_program`` with the other hyperparameters as
sorted ``--key value`` arguments. Processing jobs set their own ``ContainerEntrypoint``.
Any other command runs as given (``docker run <image> python3 -c ...``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from .storage import archives

OPT_ML = Path(os.environ.get("SAGEPIPE_OPT_ML", "/opt/ml"))


def serve() -> None:
    """Serve ``/opt/ml/model`` on all interfaces, as SageMaker hosting expects."""
    from .serving.server import ServerOptions, default_port, env_int, run
    from .serving.spec import EndpointSpec, VariantSpec

    spec = EndpointSpec(
        endpoint_name=os.environ.get("SAGEMAKER_ENDPOINT_NAME", "endpoint"),
        variants=[VariantSpec(name="AllTraffic", model_dir=str(OPT_ML / "model"))],
        timeout_seconds=float(env_int("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60)),
    )
    spec_path = Path(tempfile.mkdtemp(prefix="sagepipe-serve-")) / "spec.json"
    spec.write(spec_path)
    workers = env_int("SAGEMAKER_MODEL_SERVER_WORKERS", 0)
    run(spec_path, ServerOptions(host="0.0.0.0", port=default_port(), workers=workers))


def _decode(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _fetch(uri: str, dest: Path) -> None:
    if uri.startswith("s3://"):
        import boto3  # only inside the container: the local path never imports an AWS SDK

        bucket, _, key = uri[5:].partition("/")
        boto3.client("s3").download_file(bucket, key, str(dest))
    else:
        dest.write_bytes(Path(uri.removeprefix("file://")).read_bytes())


def train() -> int:
    """Run the training job's program under the framework-container contract."""
    config = OPT_ML / "input" / "config"
    raw = json.loads((config / "hyperparameters.json").read_text())
    hps = {k: _decode(v) for k, v in raw.items()}
    program, submit = hps.get("sagemaker_program"), hps.get("sagemaker_submit_directory")
    if not program or not submit:
        failure = "hyperparameters need sagemaker_program and sagemaker_submit_directory"
        (OPT_ML / "output").mkdir(parents=True, exist_ok=True)
        (OPT_ML / "output" / "failure").write_text(failure + "\n")
        print(failure, file=sys.stderr)
        return 2
    code = OPT_ML / "code"
    code.mkdir(parents=True, exist_ok=True)
    archive = code.parent / "sourcedir.tar.gz"
    _fetch(str(submit), archive)
    archives.extract(archive, code)  # no links, devices or paths out of the folder
    user = {k: v for k, v in hps.items() if not k.startswith("sagemaker_")}
    args: list[str] = []
    for key in sorted(user):
        value = user[key]
        args += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    channels = sorted(json.loads((config / "inputdataconfig.json").read_text() or "{}"))
    env = dict(os.environ)
    env.update(
        {
            "SM_MODEL_DIR": str(OPT_ML / "model"),
            "SM_OUTPUT_DATA_DIR": str(OPT_ML / "output" / "data"),
            "SM_CHANNELS": json.dumps(channels),
            "SM_HPS": json.dumps(user, sort_keys=True),
            "PYTHONPATH": os.pathsep.join(p for p in (str(code), env.get("PYTHONPATH")) if p),
        }
    )
    for name in channels:
        env[f"SM_CHANNEL_{name.upper()}"] = str(OPT_ML / "input" / "data" / name)
    os.chdir(code)
    os.execvpe(sys.executable, [sys.executable, str(program), *args], env)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``serve``, ``train`` or run the given command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        serve()
        return 0
    if args[:1] == ["train"]:
        return train()
    if not args:
        print("usage: <image> serve | train | COMMAND...", file=sys.stderr)
        return 2
    os.execvp(args[0], args)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
