"""Interleaved A/B of two serving workers on one model: requests/s under wrk, as ratios.

Usage (from the template root, wrk on PATH):
    python benchmarks/worker_ab.py BASE_SRC NEW_SRC [ROUNDS]
where BASE_SRC and NEW_SRC are the ``src`` folders of two baked projects (for example
main's and a branch's). Both serve the same trained model (trained with NEW_SRC's
package) with 2 workers; each round runs wrk (1 thread, 8 keep-alive connections, 10 s)
on single-row CSV and JSON against one server, then the other, so machine load hits
both alike. Prints one line per round and the median ratio NEW/BASE per payload, of
requests/s and of the workers' CPU time per request (user + system, from /proc: on a
machine shared with other work, requests/s follow the share of the cores the servers get,
while CPU per request is what the server itself costs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROW = {
    "age": 67.0,
    "tenure_months": 72,
    "monthly_charges": 60.51,
    "total_charges": 4358.96,
    "support_calls": 1,
    "contract": "one-year",
    "payment_method": "credit-card",
    "internet_service": "fiber",
}
CSV = b"67.0,72,60.51,4358.96,1,one-year,credit-card,fiber"
LUA = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "{ctype}"
"""


def train(src: Path, where: Path) -> Path:
    """Train the project's model on its sample data into ``where/model``."""
    project = src.parent
    code = (
        "import sys, shutil, pathlib\n"
        "from churn_model.steps.preprocess import preprocess\n"
        "from churn_model.steps.train import train_model\n"
        "w = pathlib.Path(sys.argv[1]); raw = w / 'raw'; raw.mkdir()\n"
        "shutil.copy(sys.argv[2], raw)\n"
        "preprocess(raw, w / 'train', w / 'test')\n"
        "train_model(w / 'train', w / 'model', max_iter=50)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src), "GX_ANALYTICS_ENABLED": "false"}
    sample = project / "data" / "raw" / "churn.csv"
    subprocess.run([sys.executable, "-c", code, str(where), str(sample)], env=env, check=True)
    return where / "model"


def write_spec(src: Path, model: Path, path: Path) -> None:
    code = (
        "import sys\n"
        "from sagepipe.serving.spec import EndpointSpec, VariantSpec\n"
        "v = VariantSpec(name='AllTraffic', model_dir=sys.argv[1], model_package='ab/1')\n"
        "EndpointSpec('ab', [v]).write(__import__('pathlib').Path(sys.argv[2]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", code, str(model), str(path)], env=env, check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(src: Path, spec: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "sagepipe.serving", "run", "--spec", str(spec)]
    argv += ["--port", str(port), "--workers", "2"]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{src} did not serve within 120 s; see {log}")


def cpu_seconds(master: int) -> float:
    """User + system CPU seconds of the server's workers so far (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a process that just ended
        if int(fields[1]) == master:  # ppid: one of this master's workers
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path) -> tuple[float, int]:
    """Requests/s and the count of requests wrk made."""
    out = subprocess.run(
        ["wrk", "-t1", "-c8", "-d10s", "-s", str(script), url + "/invocations"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    if match is None or count is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    return float(match.group(1)), int(count.group(1))


def measure(server: tuple[subprocess.Popen[bytes], str], script: Path) -> tuple[float, float]:
    """Requests/s and workers' CPU microseconds per request of one wrk run."""
    process, url = server
    before = cpu_seconds(process.pid)
    rps, count = wrk(url, script)
    return rps, (cpu_seconds(process.pid) - before) * 1e6 / max(count, 1)


def main() -> None:
    base, new = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; `sudo apt-get install -y wrk`, then run again")
    work = Path(tempfile.mkdtemp(prefix="worker-ab-"))
    model = train(new, work)
    spec = work / "spec.json"
    write_spec(new, model, spec)
    scripts = {}
    for name, body, ctype in (
        ("csv", CSV.decode(), "text/csv"),
        ("json", json.dumps([ROW]), "application/json"),
    ):
        scripts[name] = work / f"{name}.lua"
        scripts[name].write_text(LUA.format(body=json.dumps(body), ctype=ctype))
    servers = {
        "base": start(base, spec, work / "base.log"),
        "new": start(new, spec, work / "new.log"),
    }
    ratios: dict[str, list[float]] = {"csv": [], "json": []}
    cpu_ratios: dict[str, list[float]] = {"csv": [], "json": []}
    try:
        for index in range(rounds):
            for payload, script in scripts.items():
                order = ("base", "new") if index % 2 == 0 else ("new", "base")
                got = {which: measure(servers[which], script) for which in order}
                (base_rps, base_cpu), (new_rps, new_cpu) = got["base"], got["new"]
                ratios[payload].append(new_rps / base_rps)
                cpu_ratios[payload].append(new_cpu / base_cpu)
                print(
                    f"round {index + 1} {payload}: base {base_rps:.0f} req/s "
                    f"{base_cpu:.1f} us CPU/req, new {new_rps:.0f} req/s {new_cpu:.1f} us CPU/req, "
                    f"ratio {new_rps / base_rps:.2f} req/s, {new_cpu / base_cpu:.2f} CPU/req "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    finally:
        for process, _ in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    for payload, values in ratios.items():
        print(
            f"{payload}: median ratio new/base {statistics.median(values):.2f} req/s, "
            f"{statistics.median(cpu_ratios[payload]):.2f} CPU/req over {rounds}"
        )


if __name__ == "__main__":
    main()
