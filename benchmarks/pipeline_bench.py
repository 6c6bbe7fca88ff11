"""Benchmarks 1-4: framework overhead, cached re-run, notebook comparison, 1M-row run.

For one data set (the shipped sample, or the 1,000,000-row file) and N repetitions:

1. A warm-up run of ``<package> run`` under ``record_jobs.py`` records the exact argv, cwd
   and environment of every job the executor launches.
2. Each repetition, interleaved so that machine noise hits all sides alike:
   - our pipeline: ``python -m <package> run`` on a fresh workspace (cold: nothing cached);
   - the cached re-run: the same command again on that workspace;
   - the Makefile baseline: the recorded jobs replayed one after another as plain processes
     with the same argv/cwd/env (the executor's sandboxes of the warm-up run still hold
     their inputs), so it is the step scripts' own cost without the framework;
   - the notebook: ``jupyter nbconvert --execute`` of ``pipeline_notebook.ipynb``, which calls
     the same step functions with the same arguments in one kernel.
3. Ratios of the medians.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from measure import BenchError, Timed, median, mib, run_timed
from project import Project
from report import Row, Section, ratio, seconds

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "pipeline_notebook.ipynb"
RECORDER = HERE / "record_jobs.py"


@dataclass(frozen=True)
class Job:
    """One job launch of the executor, as recorded."""

    argv: list[str]
    cwd: str
    env: dict[str, str]


# The executor gives each job its own mount namespace for /opt/ml: it launches
# `unshare --mount ... /bin/sh -c SCRIPT OPT_ML NS_DIR COMMAND...`, and SCRIPT execs COMMAND.
NAMESPACE_WRAPPER_ARGS = 9


def _job_command(argv: list[str]) -> list[str]:
    """The command a launch runs: inside the /opt/ml namespace wrapper when there is one."""
    if os.path.basename(argv[0]) == "unshare" and len(argv) > NAMESPACE_WRAPPER_ARGS:
        return argv[NAMESPACE_WRAPPER_ARGS:]
    return argv


def _is_python(argv0: str, project: Project) -> bool:
    name = os.path.basename(argv0)
    return name.startswith("python") or Path(argv0) == project.python


def recorded_jobs(path: Path, project: Project) -> list[Job]:
    """The Python job launches in a recording (other tools, e.g. ``git``, are left out)."""
    launches = json.loads(path.read_text())
    # The baseline replays the job's own command: its paths are the sandbox's, so it needs
    # no namespace (which only makes /opt/ml point at that sandbox for scripts that open it).
    commands = [(_job_command(item["argv"]), item) for item in launches if item["argv"]]
    jobs = [
        Job(command, item["cwd"], item["env"])
        for command, item in commands
        if _is_python(command[0], project)
    ]
    if not jobs:
        raise BenchError(
            f"{path}: the pipeline launched no Python job; is the executor "
            "running steps as subprocesses?"
        )
    return jobs


def replay(jobs: list[Job], log: Path) -> Timed:
    """Run the recorded jobs one after another, like ``make`` would; sum their times."""
    total = 0.0
    peak = 0
    single = 0
    for job in jobs:
        timed = run_timed(job.argv, cwd=job.cwd, env=job.env, log=log)
        total += timed.seconds
        peak = max(peak, timed.peak_rss_bytes)
        single = max(single, timed.peak_single_rss_bytes)
    return Timed(total, peak, single)


_SCALAR_SKIP = ("/", ".")


def step_arguments(jobs: list[Job], steps: dict[str, str]) -> dict[str, dict[str, str]]:
    """Scalar ``--name value`` arguments per notebook step, read from the recorded jobs.

    ``steps`` maps a notebook step (``preprocess``) to a word that identifies its job's
    command line (the entry script or step name). Folder arguments are left out: the
    notebook uses its own folders.
    """
    found: dict[str, dict[str, str]] = {}
    for step, word in steps.items():
        for job in jobs:
            if not any(word in part for part in job.argv[:2]):
                continue
            args: dict[str, str] = {}
            tokens = job.argv[2:]
            for index in range(0, len(tokens) - 1):
                name, value = tokens[index], tokens[index + 1]
                if (
                    name.startswith("--")
                    and not value.startswith("--")
                    and not value.startswith(_SCALAR_SKIP)
                ):
                    args[name[2:].replace("-", "_")] = value
            found[step] = args
            break
    return found


@dataclass
class DatasetResult:
    """Medians over the repetitions for one data set."""

    label: str
    reps: int
    pipeline: list[Timed]
    cached: list[Timed]
    baseline: list[Timed]
    notebook: list[Timed]
    jobs: int


def run_notebook(
    project: Project, raw: Path, work: Path, args: dict[str, dict[str, str]], log: Path
) -> Timed:
    """Execute the notebook baseline with nbconvert in the project's venv."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    jupyter = project.venv / "bin" / "jupyter"
    env = project.env(
        BENCH_PACKAGE=project.package,
        BENCH_RAW=str(raw),
        BENCH_WORK=str(work),
        BENCH_ARGS=json.dumps(args),
    )
    return run_timed(
        [
            str(jupyter),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            str(NOTEBOOK),
            "--output-dir",
            str(work),
            "--output",
            "executed.ipynb",
            "--ExecutePreprocessor.timeout=3600",
        ],
        cwd=project.root,
        env=env,
        log=log,
    )


def bench_dataset(
    project: Project,
    label: str,
    raw: Path,
    reps: int,
    workdir: Path,
    log: Path,
    notebook_steps: dict[str, str],
) -> DatasetResult:
    """Run the four-way comparison on one data set."""
    data = ["--data", str(raw)]
    workdir.mkdir(parents=True, exist_ok=True)
    record_ws = workdir / "ws-record"
    shutil.rmtree(record_ws, ignore_errors=True)
    recording = workdir / "jobs.json"
    run_timed(
        [str(project.python), str(RECORDER), str(recording), "-m", project.package, "run", *data],
        cwd=project.root,
        log=log,
        # Keep the sandboxes of this warm-up run: the baseline replays its jobs in them.
        env=project.env(SAGEPIPE_WORKSPACE=str(record_ws), SAGEPIPE_KEEP_SANDBOXES="1"),
    )
    jobs = recorded_jobs(recording, project)
    args = step_arguments(jobs, notebook_steps)
    result = DatasetResult(label, reps, [], [], [], [], len(jobs))
    for rep in range(reps):
        workspace = workdir / f"ws-{rep}"
        shutil.rmtree(workspace, ignore_errors=True)
        run_env = {"SAGEPIPE_WORKSPACE": str(workspace)}
        result.pipeline.append(project.run("run", *data, log=log, env=run_env))
        result.cached.append(project.run("run", *data, log=log, env=run_env))
        result.baseline.append(replay(jobs, log))
        result.notebook.append(run_notebook(project, raw, workdir / "notebook", args, log))
        shutil.rmtree(workspace, ignore_errors=True)
    return result


def _med(values: list[Timed]) -> float:
    return median([value.seconds for value in values])


def rows_for(result: DatasetResult, *, notebook_target: bool) -> list[Row]:
    """Summary rows for one data set."""
    ours = _med(result.pipeline)
    baseline = _med(result.baseline)
    cached = median(
        [c.seconds / p.seconds for c, p in zip(result.cached, result.pipeline, strict=True)]
    )
    notebook = _med(result.notebook)
    reps = f"median of {result.reps}" if result.reps > 1 else "1 run"
    overhead = ours / baseline
    vs_notebook = ours / notebook
    return [
        Row(
            "Framework overhead (pipeline / plain scripts)",
            result.label,
            seconds(ours),
            seconds(baseline),
            ratio(overhead),
            "<= 1.10",
            overhead <= 1.10,
            f"{reps}; baseline = the executor's {result.jobs} job command lines replayed "
            "one after another",
        ),
        Row(
            "Cached re-run / cold run",
            result.label,
            seconds(median([c.seconds for c in result.cached])),
            seconds(ours),
            ratio(cached),
            "<= 0.05",
            cached <= 0.05,
            reps,
        ),
        Row(
            "Pipeline / notebook (nbconvert --execute)",
            result.label,
            seconds(ours),
            seconds(notebook),
            ratio(vs_notebook),
            "<= 1.0" if notebook_target else "-",
            (vs_notebook <= 1.0) if notebook_target else None,
            reps,
        ),
    ]


def memory_rows(result: DatasetResult) -> list[Row]:
    """The large run's wall time and peak memory (process tree RSS)."""
    ours = _med(result.pipeline)
    peak = max(t.peak_rss_bytes for t in result.pipeline)
    single = max(t.peak_single_rss_bytes for t in result.pipeline)
    notebook_peak = max(t.peak_rss_bytes for t in result.notebook)
    return [
        Row(
            "Large run: wall time and peak memory",
            result.label,
            f"{seconds(ours)}, {mib(peak)}",
            f"notebook: {seconds(_med(result.notebook))}, {mib(notebook_peak)}",
            "-",
            "-",
            None,
            f"peak = largest sum of RSS over the whole process tree (sampled every "
            f"20 ms); largest single process {mib(single)}",
        )
    ]


def detail_table(results: list[DatasetResult]) -> str:
    """Every repetition's time, so readers can see the spread."""
    lines = ["| Data | Side | Runs (s) | Peak RSS (tree) |", "| --- | --- | --- | --- |"]
    for result in results:
        for side, values in (
            ("pipeline (cold)", result.pipeline),
            ("pipeline (cached)", result.cached),
            ("plain scripts", result.baseline),
            ("notebook", result.notebook),
        ):
            runs = ", ".join(f"{value.seconds:.2f}" for value in values)
            peak = max(value.peak_rss_bytes for value in values)
            lines.append(f"| {result.label} | {side} | {runs} | {mib(peak)} |")
    return "\n".join(lines)


def bench_pipeline(
    project: Project,
    *,
    raw: Path,
    label: str,
    reps: int,
    large: bool,
    workdir: Path,
    log: Path,
    notebook_steps: dict[str, str],
) -> Section:
    """Benchmarks 1-3 on one data set, plus wall time and peak memory (4) on the large one."""
    section = Section(
        f"Pipeline on {label}: overhead, cache, notebook"
        + (", wall time and memory" if large else "")
    )
    result = bench_dataset(project, label, raw, reps, workdir, log, notebook_steps)
    section.rows += rows_for(result, notebook_target=large)
    if large:
        section.rows += memory_rows(result)
    section.details.append(detail_table([result]))
    return section
