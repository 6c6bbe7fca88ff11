"""Benchmark 6: serving throughput and p50/p99 latency, ours vs ``mlflow models serve``.

Both servers get the same scikit-learn model (the artifact our registry serves, re-saved
with ``mlflow.sklearn.save_model``), the same number of workers, the same load generator
(wrk, same threads, connections and duration) and a warm-up before measuring. Each gets the
single-row request its own contract asks for: CSV without header for the SageMaker contract
(CSV with header for MLflow, which reads CSV with pandas), JSON ``{"instances": [...]}`` for
ours and ``{"dataframe_records": [...]}`` for MLflow. MLflow lives in its own venv made here
with uv (shared cache), never in the generated project.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from measure import BenchError, clean_env
from report import Row, Section, ratio

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_post.lua"
# Load shape: 1 wrk thread leaves the second core to the servers; 8 connections keep both
# workers busy and show queueing in p99 the way a real client fleet would.
WRK_THREADS = 1
WRK_CONNECTIONS = 8
WARMUP_SECONDS = 3
MEASURE_SECONDS = 10


@dataclass
class LoadResult:
    """What wrk measured for one server and one request kind."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def ensure_wrk(log: Path) -> str:
    """Return the wrk executable, installing Debian's package when we are root with apt."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        with open(log, "ab") as out:
            subprocess.run(["apt-get", "update", "-qq"], stdout=out, stderr=out, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"],
                stdout=out,
                stderr=out,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        found = shutil.which("wrk")
        if found:
            return found
    raise BenchError(
        "wrk is not installed; install it with `sudo apt-get install -y wrk` "
        "(Debian/Ubuntu) or `brew install wrk` (macOS) and run the bench again"
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until GET ``url`` answers 200; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"server for {url} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {timeout:.0f} s")


def post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """One request, for checking that a body is accepted before loading the server."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def run_wrk(
    wrk: str, url: str, body_file: Path, content_type: str, seconds: int, log: Path
) -> LoadResult:
    """Run wrk against ``url`` for ``seconds`` and parse the JSON line our Lua script prints."""
    env = dict(os.environ, WRK_BODY_FILE=str(body_file), WRK_CONTENT_TYPE=content_type)
    done = subprocess.run(
        [
            wrk,
            "-t",
            str(WRK_THREADS),
            "-c",
            str(WRK_CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    with open(log, "a") as out:
        out.write(f"\n$ wrk {url} {content_type}\n{done.stdout}{done.stderr}")
    line = next((text for text in done.stdout.splitlines() if text.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk against {url} failed (exit {done.returncode}); see {log}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(
        data[key] for key in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return LoadResult(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        errors=errors,
    )


def load_test(wrk: str, url: str, body_file: Path, content_type: str, log: Path) -> LoadResult:
    """Check one request is accepted, warm up, then measure."""
    status, answer = post(url, body_file.read_bytes(), content_type)
    if status != 200:
        raise BenchError(
            f"{url} answered {status} to the {content_type} benchmark body: {answer[:200]!r}"
        )
    run_wrk(wrk, url, body_file, content_type, WARMUP_SECONDS, log)
    return run_wrk(wrk, url, body_file, content_type, MEASURE_SECONDS, log)


_EXPORT_SCRIPT = """
import sys, tarfile, tempfile, pathlib, joblib, mlflow.sklearn
archive, out = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as scratch:
    with tarfile.open(archive) as tar:
        tar.extract("model.joblib", scratch, filter="data")
    model = joblib.load(pathlib.Path(scratch) / "model.joblib")
mlflow.sklearn.save_model(model, out, serialization_format="pickle")
"""


def make_mlflow_venv(where: Path, sklearn_version: str, python: str, log: Path) -> Path:
    """Create (or reuse) the MLflow venv with the project's scikit-learn version."""
    venv = where / "mlflow-venv"
    marker = venv / f".ready-sklearn-{sklearn_version}"
    if marker.exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    with open(log, "ab") as out:
        for argv in (
            ["uv", "venv", "-q", "--python", python, str(venv)],
            [
                "uv",
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                "mlflow",
                f"scikit-learn=={sklearn_version}",
            ],
        ):
            if (
                subprocess.run(
                    argv, stdout=out, stderr=out, env=clean_env(), check=False
                ).returncode
                != 0
            ):
                raise BenchError(f"{' '.join(argv)} failed; see {log}")
    marker.touch()
    return venv


def export_for_mlflow(venv: Path, archive: Path, out: Path, log: Path) -> Path:
    """Re-save the served model (``model.joblib`` inside ``model.tar.gz``) as an MLflow model."""
    shutil.rmtree(out, ignore_errors=True)
    with open(log, "ab") as handle:
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", _EXPORT_SCRIPT, str(archive), str(out)],
            stdout=handle,
            stderr=handle,
            env=clean_env(),
            check=False,
        )
    if done.returncode != 0:
        raise BenchError(f"saving the model for MLflow failed; see {log}")
    return out


def start_mlflow(
    venv: Path, model: Path, workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``mlflow models serve`` (local env manager, no network) and wait for /ping."""
    port = free_port()
    env = clean_env(
        PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        MLFLOW_TRACKING_URI=f"file:{model.parent / 'mlruns'}",
    )
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            str(venv / "bin" / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model),
            "--env-manager",
            "local",
            "-w",
            str(workers),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=handle,
        stderr=handle,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/ping", 120, process)
    return process, base


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started in its own session, and all its workers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


_CEILING_SCRIPT = """
import json, sys, tarfile, tempfile, time, statistics, importlib.util, pathlib
import pandas as pd
archive, row = sys.argv[1], json.loads(sys.argv[2])
scratch = tempfile.mkdtemp()
with tarfile.open(archive) as tar:
    tar.extractall(scratch, filter="data")
code = pathlib.Path(scratch) / "code" / "inference.py"
spec = importlib.util.spec_from_file_location("inference", code)
handler = importlib.util.module_from_spec(spec); spec.loader.exec_module(handler)
model = handler.model_fn(scratch)
body = json.dumps({"instances": [row]})
features = model["metadata"]["features"]
frame = pd.DataFrame([[row[name] for name in features]], columns=features)
for name in model["metadata"]["categorical_features"]:
    frame[name] = frame[name].astype(object)
def handler_call():
    handler.predict_fn(handler.input_fn(body, "application/json"), model)
def plain_call():  # one scikit-learn call on a ready one-row frame: no parsing at all
    model["model"].predict_proba(frame)
def median(call):
    for _ in range(20):
        call()
    times, deadline = [], time.perf_counter() + 20
    while len(times) < 300 and (len(times) < 30 or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
print(json.dumps({"handler": median(handler_call), "predict_proba": median(plain_call),
                  "fast_path": model.get("fast") is not None}))
"""


@dataclass
class CallTimes:
    """Median seconds of one single-row call: our handler, and plain ``predict_proba``."""

    handler: float
    predict_proba: float
    fast_path: bool


def predict_seconds(python: Path, archive: Path, row: dict[str, object]) -> CallTimes:
    """Median time of one single-row call of the served handler (input_fn + predict_fn),
    and of one ``model.predict_proba`` on a ready one-row DataFrame (the cost of the
    scikit-learn call alone, what a server without a fast path pays at least).

    One native thread, as each of our server's workers uses: the ceiling is one call per
    core at a time.
    """
    done = subprocess.run(
        [str(python), "-c", _CEILING_SCRIPT, str(archive), json.dumps(row)],
        capture_output=True,
        text=True,
        env=clean_env(OMP_NUM_THREADS="1"),
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"timing one predict call failed: {done.stderr.strip()[-300:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return CallTimes(float(data["handler"]), float(data["predict_proba"]), bool(data["fast_path"]))


def bodies(where: Path, features: list[str], row: dict[str, object]) -> dict[str, Path]:
    """Write the four single-row request bodies (ours/mlflow x csv/json)."""
    values = ",".join("" if row[name] is None else str(row[name]) for name in features)
    files = {
        "ours-csv": values + "\n",
        "mlflow-csv": ",".join(features) + "\n" + values + "\n",
        "ours-json": json.dumps({"instances": [row]}),
        "mlflow-json": json.dumps({"dataframe_records": [row]}),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = where / f"body-{name}"
        paths[name].write_text(text)
    return paths


def start_ours(
    serve_argv: list[str], cwd: Path, env: dict[str, str], workers: int, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Start our ``serve --no-capture`` in the background and wait for /ping."""
    port = free_port()
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [*serve_argv, "--no-capture", "--port", str(port), "--workers", str(workers)],
        cwd=cwd,
        env=env,
        stdout=handle,
        stderr=handle,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/ping", 120, process)
    return process, base


_PLAIN_SPEC_SCRIPT = """
import sys, tarfile, pathlib
from sagepipe.serving import EndpointSpec, VariantSpec
archive, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
model = out / "model"
with tarfile.open(archive) as tar:
    tar.extractall(model, filter="data")
handler = model / "code" / "inference.py"
text = handler.read_text()
assert "FAST_PATH_MAX_ROWS = 16" in text, "the handler no longer has the fast-path switch"
handler.write_text(text.replace("FAST_PATH_MAX_ROWS = 16", "FAST_PATH_MAX_ROWS = 0"))
spec = EndpointSpec("plain", [VariantSpec(name="AllTraffic", model_dir=str(model),
                                          model_package="plain/1")])
spec.write(out / "spec.json")
"""


def start_plain(
    project_python: Path, archive: Path, env: dict[str, str], workers: int, where: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """Serve the same artifact with the fast path off: every request calls ``predict_proba``.

    The row this gives is like for like with MLflow, which calls ``predict`` on a DataFrame.
    """
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(project_python), "-c", _PLAIN_SPEC_SCRIPT, str(archive), str(where)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"preparing the predict_proba model failed: {done.stderr[-300:]}")
    port = free_port()
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            str(project_python),
            *("-m", "sagepipe.serving", "run", "--spec", str(where / "spec.json")),
            *("--port", str(port), "--workers", str(workers)),
        ],
        env=env,
        stdout=handle,
        stderr=handle,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/ping", 120, process)
    return process, base


def bench_serving(
    *,
    serve_argv: list[str],
    project_root: Path,
    project_env: dict[str, str],
    staging_url: str | None,
    workers: int,
    archive: Path,
    project_python: Path,
    sklearn_version: str,
    python: str,
    features: list[str],
    row: dict[str, object],
    workdir: Path,
    log: Path,
) -> Section:
    """Measure our server and MLflow's side by side; return the report section.

    The comparison uses ``serve --no-capture`` (MLflow captures nothing either); the
    deployed staging endpoint, which captures every request, gets an extra line.
    """
    section = Section("Serving: throughput and latency vs mlflow models serve")
    wrk = ensure_wrk(log)
    workdir.mkdir(parents=True, exist_ok=True)
    paths = bodies(workdir, features, row)
    venv = make_mlflow_venv(workdir, sklearn_version, python, log)
    model = export_for_mlflow(venv, archive, workdir / "mlflow-model", log)
    results: dict[str, LoadResult] = {}
    ours, our_url = start_ours(serve_argv, project_root, project_env, workers, log)
    try:
        for kind, content_type in (("csv", "text/csv"), ("json", "application/json")):
            results[f"ours-{kind}"] = load_test(
                wrk, f"{our_url}/invocations", paths[f"ours-{kind}"], content_type, log
            )
    finally:
        stop_group(ours)
    plain, plain_url = start_plain(
        project_python, archive, project_env, workers, workdir / "plain", log
    )
    try:
        for kind, content_type in (("csv", "text/csv"), ("json", "application/json")):
            results[f"plain-{kind}"] = load_test(
                wrk, f"{plain_url}/invocations", paths[f"ours-{kind}"], content_type, log
            )
    finally:
        stop_group(plain)
    if staging_url:
        results["staging-csv"] = load_test(
            wrk, f"{staging_url}/invocations", paths["ours-csv"], "text/csv", log
        )
    mlflow, base = start_mlflow(venv, model, workers, log)
    try:
        for kind, content_type in (("csv", "text/csv"), ("json", "application/json")):
            results[f"mlflow-{kind}"] = load_test(
                wrk, f"{base}/invocations", paths[f"mlflow-{kind}"], content_type, log
            )
    finally:
        stop_group(mlflow)
    calls = predict_seconds(project_python, archive, row)
    one_call = calls.handler
    cores = os.cpu_count() or 1
    ceiling = cores / one_call

    table = [
        "| Server | Request | Requests/s | p50 | p99 | Requests | Errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = {
        "ours": "ours (`serve --no-capture`)",
        "mlflow": "mlflow models serve",
        "staging": "ours (staging endpoint, 100% data capture)",
        "plain": "ours, plain `predict_proba` (no single-row fast path)",
    }
    for name, result in results.items():
        server, kind = name.split("-")
        table.append(
            f"| {names[server]} | "
            f"single-row {kind.upper()} | {result.rps:,.0f} | {result.p50_ms:.1f} ms | "
            f"{result.p99_ms:.1f} ms | {result.requests:,} | {result.errors} |"
        )
    section.details.append("\n".join(table))
    section.details.append(
        f"Load: wrk, {WRK_THREADS} thread, {WRK_CONNECTIONS} connections, {WARMUP_SECONDS} s "
        f"warm-up then {MEASURE_SECONDS} s measured, per server and request kind; {workers} "
        f"workers each. One single-row handler call (input_fn + predict_fn, one thread, "
        f"median of up to 300): {one_call * 1000:.3f} ms"
        f"{'' if calls.fast_path else ' (the fast path did not compile this model)'}, so the "
        f"ceiling is {cores} cores / that = {ceiling:,.0f} requests/s. One plain "
        f"`model.predict_proba` on a ready one-row DataFrame: {calls.predict_proba * 1000:.3f} "
        "ms. Our workers run one native thread each; "
        "`mlflow models serve` runs as shipped (its default thread settings)."
    )
    section.rows.append(
        Row(
            "Single-row call: our handler vs one plain predict_proba",
            "1 thread",
            f"{one_call * 1000:.3f} ms",
            f"{calls.predict_proba * 1000:.3f} ms (predict_proba)",
            f"{ratio(one_call / calls.predict_proba)}x",
            "-",
            None,
            "" if calls.fast_path else "the fast path did not compile this model",
        )
    )
    for kind in ("csv", "json"):
        plain_result, theirs = results[f"plain-{kind}"], results[f"mlflow-{kind}"]
        section.rows.append(
            Row(
                f"Serving throughput, single-row {kind.upper()}, plain predict_proba",
                f"{workers} workers",
                f"{plain_result.rps:,.0f} req/s",
                f"{theirs.rps:,.0f} req/s (mlflow)",
                f"{ratio(plain_result.rps / theirs.rps)}x",
                "-",
                None,
                "" if plain_result.errors == 0 else "errors during the load test",
            )
        )
    for kind in ("csv", "json"):
        ours, theirs = results[f"ours-{kind}"], results[f"mlflow-{kind}"]
        clean = ours.errors == 0 and theirs.errors == 0
        note = "" if clean else "errors during the load test make this row invalid"
        throughput = ours.rps / theirs.rps
        section.rows.append(
            Row(
                f"Serving throughput, single-row {kind.upper()}",
                f"{workers} workers",
                f"{ours.rps:,.0f} req/s",
                f"{theirs.rps:,.0f} req/s (mlflow)",
                f"{ratio(throughput)}x",
                ">= 10x",
                clean and throughput >= 10,
                note,
            )
        )
        p99 = ours.p99_ms / theirs.p99_ms
        section.rows.append(
            Row(
                f"Serving p99 latency, single-row {kind.upper()}",
                f"{workers} workers",
                f"{ours.p99_ms:.1f} ms",
                f"{theirs.p99_ms:.1f} ms (mlflow)",
                f"{ratio(p99)}x",
                "<= 0.1x",
                clean and p99 <= 0.1,
                note,
            )
        )
        section.rows.append(
            Row(
                f"Serving vs ceiling, single-row {kind.upper()}",
                f"{cores} cores",
                f"{ours.rps:,.0f} req/s",
                f"{ceiling:,.0f} req/s (cores / one predict)",
                f"{ratio(ours.rps / ceiling)}",
                ">= 0.5",
                clean and ours.rps / ceiling >= 0.5,
                note,
            )
        )
    return section
