"""Benchmark: ``run --target sagemaker`` up to the start call, on moto; CLI import cost.

Bakes the default project, starts moto's server on loopback (the same server the tests
use), and times, each in a fresh interpreter as a user would run them:

- ``run --target sagemaker --data data/raw`` cold (empty bucket, no pipeline yet) and
  warm (every code object and the data already uploaded, the pipeline exists): the
  process ends right after StartPipelineExecution returns and the ARN is printed;
- the local ``compile -o`` of the same pipeline, the yardstick for the warm run;
- ``--help`` and ``runs`` (local commands) with boto3 importable and with boto3/botocore
  made unimportable (what a machine without the ``aws`` extra sees), and whether the
  local command imported an AWS SDK at all.

Usage: ``python benchmarks/sagemaker_bench.py [--repeat 5]``. Prints a Markdown table.
moto answers in microseconds where AWS takes tens of milliseconds per call: the figures
are the client-side cost (compile, hashing, boto3 start-up, request building).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecutionRole"
BLOCK_AWS = (
    "import sys\n"
    "class _NoAws:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('boto3', 'botocore'):\n"
    "            raise ModuleNotFoundError(name)\n"
    "sys.meta_path.insert(0, _NoAws())\n"
)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one command; fails loudly when it fails."""
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-800:]}")
    return took, result.stdout + result.stderr


def main() -> None:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    with tempfile.TemporaryDirectory(prefix="sagemaker-bench-") as scratch:
        subprocess.run(
            [sys.executable, "-m", "cookiecutter", "--no-input", "-f", "-o", scratch, str(ROOT)],
            check=True,
            capture_output=True,
        )
        project = Path(scratch) / "churn-model"
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        env = dict(
            os.environ,
            PYTHONPATH=str(project / "src"),
            GX_ANALYTICS_ENABLED="false",
            AWS_ENDPOINT_URL=f"http://{host}:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
            MLOPS_REGION="us-east-1",
            MLOPS_ROLE_ARN=ROLE,
            SAGEPIPE_WORKSPACE=str(Path(scratch) / "ws"),
        )
        # A user's machine caches bytecode; build machines that set PYTHONDONTWRITEBYTECODE
        # would otherwise recompile the project's modules in every timed process.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cli = [sys.executable, "-m", "churn_model"]
        run = [*cli, "run", "--target", "sagemaker", "--data", "data/raw"]
        rows: list[tuple[str, list[float]]] = []
        try:
            os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                                   "AWS_SECRET_ACCESS_KEY")})  # fmt: skip
            s3 = boto3.client("s3", region_name="us-east-1")
            cold, warm = [], []
            for attempt in range(args.repeat):
                bucket = f"churn-model-dev-{attempt}"
                s3.create_bucket(Bucket=bucket)
                env_cold = dict(env, MLOPS_BUCKET=bucket, MLOPS_PIPELINE_NAME=f"bench-{attempt}")
                took, out = timed(run, project, env_cold)
                assert " 0 already in the bucket" in out, out
                cold.append(took)
                took, out = timed(run, project, env_cold)
                assert " uploaded, " in out and "0 code objects uploaded" in out, out
                warm.append(took)
            rows.append(("run --target sagemaker, cold (upload all, create pipeline)", cold))
            rows.append(("run --target sagemaker, warm (0 uploads, update pipeline)", warm))
            compile_times = [
                timed([*cli, "compile", "-o", str(Path(scratch) / "p.json")], project, env)[0]
                for _ in range(args.repeat)
            ]
            rows.append(("compile -o (local yardstick)", compile_times))
            for label, argv in (("--help", ["--help"]), ("runs", ["runs"])):
                with_aws, without_aws = [], []
                for _ in range(args.repeat):
                    with_aws.append(timed([*cli, *argv], project, env)[0])
                    blocked = [sys.executable, "-c", BLOCK_AWS + "import runpy, sys\n"
                               f"sys.argv = ['churn-model', *{argv!r}]\n"
                               "runpy.run_module('churn_model', run_name='__main__')"]  # fmt: skip
                    without_aws.append(timed(blocked, project, env)[0])
                rows.append((f"{label}: boto3 importable", with_aws))
                rows.append((f"{label}: boto3 not importable", without_aws))
            probe = [sys.executable, "-c", "import sys, runpy\nsys.argv=['x','runs']\n"
                     "try:\n    runpy.run_module('churn_model', run_name='__main__')\n"
                     "except SystemExit:\n    pass\n"
                     "print('AWS SDK modules loaded:', sorted(m for m in sys.modules "
                     "if m.split('.')[0] in ('boto3','botocore')))"]  # fmt: skip
            loaded = timed(probe, project, env)[1].strip().splitlines()[-1]
        finally:
            server.stop()
    print(f"| measurement (median of {args.repeat}, seconds) | median | min | max |")
    print("| --- | --- | --- | --- |")
    for label, values in rows:
        print(
            f"| {label} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    warm_median = statistics.median(rows[1][1])
    compile_median = statistics.median(rows[2][1])
    print(f"\nwarm / compile = {warm_median / compile_median:.2f}x; local `runs`: {loaded}")


if __name__ == "__main__":
    main()
