"""Runtime environments: time to build each one cold, and to find it again warm.

For every image of the runtime table (the AWS framework images and the project image),
``runtime_env.py`` runs in the project's venv and calls the resolver a pipeline run uses:

- cold: a fresh, empty environment cache folder (``SAGEPIPE_RUNTIME_CACHE``) but uv's
  package cache as the machine has it, warmed by one untimed build first, so the figure is
  the build itself (venv, install from uv's cache, the version listing), not downloads;
- warm: a new process on the same folder right after, as the next pipeline run finds it;
- per-job start-up: a trivial job (``python -c pass``) launched with the runtime's
  interpreter and with the project's, alternately, so the table shows what running a job
  in an image's runtime instead of the project interpreter adds to every job.

Repetitions are interleaved over the images; the figures are medians of the in-process
time of ``environment_for`` (what a run pays per image), with the whole process (start-up
and imports included) in the detail table.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import BenchError, median
from project import Project
from report import Row, Section, seconds

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "runtime_env.py"
# Issue 8: a warm lookup (the environment already cached) must take under a second.
WARM_TARGET_SECONDS = 1.0
# Launches of the trivial job per interpreter and repetition (each takes ~20-50 ms).
STARTUP_LAUNCHES = 10


@dataclass
class RuntimeResult:
    """One image's measurements over the repetitions."""

    image: str
    first: dict[str, Any] = field(default_factory=dict)
    cold: list[dict[str, Any]] = field(default_factory=list)
    warm: list[dict[str, Any]] = field(default_factory=list)
    # Seconds of one trivial job: in the runtime's interpreter, in the project's.
    startup: list[float] = field(default_factory=list)
    project_startup: list[float] = field(default_factory=list)


def _launch(python: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_startup(result: RuntimeResult, python: str, project_python: str) -> None:
    """Alternate trivial launches of both interpreters; keep each side's median."""
    mine, theirs = [], []
    for _ in range(STARTUP_LAUNCHES):
        mine.append(_launch(python))
        theirs.append(_launch(project_python))
    result.startup.append(median(mine))
    result.project_startup.append(median(theirs))


def _resolve(project: Project, image: str, cache: Path, log: Path) -> dict[str, Any]:
    """Run ``runtime_env.py`` for ``image`` on ``cache``; its JSON plus the process time."""
    argv = [str(project.python), str(SCRIPT), project.package, image]
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=project.root,
        env=project.env(SAGEPIPE_RUNTIME_CACHE=str(cache)),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=1800,
    )
    process = time.perf_counter() - start
    with open(log, "a") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{image}: the runtime environment failed: {last} (see {log})")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process"] = process
    return figures


def image_list(project: Project) -> list[str]:
    """The images of the project's runtime table, as ``runtime_env.py --list`` names them."""
    done = subprocess.run(
        [str(project.python), str(SCRIPT), project.package, "--list"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"runtime_env.py --list failed: {done.stderr.strip()[-300:]}")
    return [line for line in done.stdout.splitlines() if line.strip()]


def _short(image: str) -> str:
    """``sagemaker-xgboost:1.7-1`` from the full URI."""
    return image.rsplit("/", 1)[-1]


def bench_runtimes(project: Project, reps: int, workdir: Path, log: Path) -> Section:
    """Cold build and warm lookup of every runtime environment, as a report section."""
    section = Section("Runtime environments: cold build and warm lookup")
    results = [RuntimeResult(image) for image in image_list(project)]
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    for result in results:  # warm uv's cache (may reach the index the first time ever)
        result.first = _resolve(project, result.image, workdir / "first", log)
    shutil.rmtree(workdir / "first", ignore_errors=True)
    for rep in range(reps):
        for result in results:
            cache = workdir / f"cold-{rep}"
            shutil.rmtree(cache, ignore_errors=True)
            result.cold.append(_resolve(project, result.image, cache, log))
            result.warm.append(_resolve(project, result.image, cache, log))
            time_startup(result, result.warm[-1]["executable"], str(project.python))
            shutil.rmtree(cache, ignore_errors=True)  # XGBoost 3's environment is ~1 GiB
    count = f"median of {reps}" if reps > 1 else "1 run"
    detail = [
        "| Image | Interpreter | Built | First build (s) | Cold (s) | Warm (s) "
        "| Warm process (s) | Job start-up: runtime / project interpreter (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notices: list[str] = []
    for result in results:
        cold = median([item["seconds"] for item in result.cold])
        warm = median([item["seconds"] for item in result.warm])
        built = result.cold[0]["built"]
        note = f"{count}; Python {result.cold[0]['interpreter']}"
        if not built:
            note += (
                "; no venv built: the project's interpreter already has the lock's versions, "
                "so the run uses it as it is"
            )
        section.rows.append(
            Row(
                "Runtime environment: warm lookup (cold build)",
                _short(result.image),
                seconds(warm),
                f"cold build {seconds(cold)}",
                seconds(warm),
                f"warm < {WARM_TARGET_SECONDS:.0f} s",
                warm < WARM_TARGET_SECONDS,
                note,
            )
        )
        cold_runs = ", ".join(f"{item['seconds']:.2f}" for item in result.cold)
        warm_runs = ", ".join(f"{item['seconds']:.3f}" for item in result.warm)
        warm_process = ", ".join(f"{item['process']:.2f}" for item in result.warm)
        detail.append(
            f"| `{_short(result.image)}` | {result.cold[0]['interpreter']} "
            f"| {'yes' if built else 'no (project interpreter)'} "
            f"| {result.first['seconds']:.2f} | {cold_runs} | {warm_runs} | {warm_process} "
            f"| {median(result.startup) * 1000:.0f} / {median(result.project_startup) * 1000:.0f} |"
        )
        if result.cold[0].get("notice"):
            notices.append(f"- `{_short(result.image)}`: {result.cold[0]['notice']}")
    section.details.append("\n".join(detail))
    section.details.append(
        "Cold: an empty `SAGEPIPE_RUNTIME_CACHE` folder, uv's package cache warm (the first "
        "build column is the build that warmed it); warm: a new process on the same "
        "folder. Seconds are those of the resolver's `environment_for` (find the interpreter, "
        "then build or load the environment); the warm process column adds the interpreter's "
        "start-up and the imports of `runtime_env.py`. Job start-up: median of "
        f"{STARTUP_LAUNCHES} launches of `python -c pass` per repetition with the runtime's "
        "interpreter and with the project venv's, alternately (medians over repetitions)."
    )
    if notices:
        section.details.append("Interpreter notices:\n\n" + "\n".join(notices))
    return section
