"""Run the template's benchmarks and write ``docs/benchmarks.md``.

Usage (normally through ``nox -s bench``)::

    python benchmarks/run.py [--reps 3] [--large-rows 1000000] [--large-reps 1]
                             [--only pipeline,peers,runtimes,first,serving,migrate]
                             [--workers 2]
                             [--workdir DIR] [--out docs/benchmarks.md]

Every benchmark bakes and installs the template like a user would, measures side by side
in this one run, and reports ratios. A benchmark that cannot run (a missing tool, a failing
command) is reported as "not measured" with the reason; the others still run. The exit
status is 1 when any benchmark could not be measured, so a broken harness is noticed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

from first_prediction import (
    bench_first_prediction,
    endpoint_url,
    model_features,
    sample_row,
    served_archive,
)
from measure import BenchError, run_timed
from migrate_bench import bench_migrate
from peer_bench import SETUPS
from pipeline_bench import bench_pipeline
from project import TEMPLATE, Project, bake, install
from report import Section, load_average, render
from runtime_bench import bench_runtimes
from serving_bench import bench_serving

# Packages the notebook baseline needs in the project's venv (bench only, not the project's
# dependencies): nbconvert runs the notebook, ipykernel is its kernel.
NOTEBOOK_PACKAGES = ("nbconvert", "ipykernel")
# Which recorded job feeds which notebook step its scalar arguments: a word in the job's
# command line (the generated entry script is named after the step).
NOTEBOOK_STEPS = {"preprocess": "run_preprocess.py", "train": "run_train_model.py"}
# "peers" (Kedro, ZenML) shares the pipeline benchmark's repetitions: chosen with
# "pipeline", its rows join that section; alone, only our cold runs and the peers run.
SECTIONS = ("pipeline", "peers", "runtimes", "first", "serving", "migrate")

METHOD_NOTES = [
    "Every side is a separate process tree timed from launch to exit with `time.perf_counter` "
    "(interpreter start-up and imports included, as a user feels them).",
    "Repetitions are interleaved (pipeline, cached re-run, plain scripts, notebook, the peers, "
    "then again) so machine noise hits all sides alike; ratios use the medians.",
    "Framework overhead baseline: a warm-up run records (with a Python audit hook, no change to "
    "the executor) the argv, working folder and environment of every job the local executor "
    "launches; the baseline replays those same command lines one after another, like a "
    "Makefile. The pipeline's side also includes compiling, copying data in and out of the "
    "sandboxes, caching, the condition and registration.",
    "Cold runs use a fresh workspace (`SAGEPIPE_WORKSPACE`), so nothing is cached; the cached "
    "re-run repeats the same command on that workspace. Before them one untimed run (a user's "
    "first) lets the warm launcher learn, in the runtime cache, which modules the jobs import "
    "(docs/runtimes.md, warm launch); the recording run launches plain processes "
    "(`SAGEPIPE_WARM_LAUNCH=0`) so that the audit hook sees every job.",
    "The notebook baseline (`benchmarks/pipeline_notebook.ipynb`) calls the project's own step "
    "functions (preprocess, the great-expectations gate, train, evaluate, the metric condition) "
    "with the pipeline's arguments in one kernel, then the five baseline checks as the peers "
    "run them (`peer_baselines.py`), run by `jupyter nbconvert --execute`.",
    "Peers (`benchmarks/peers/`): the same steps as a Kedro project (`kedro run`) and a "
    "ZenML pipeline (local orchestrator, SQLite store), calling the project's own step "
    "functions with the arguments of our compiled pipeline, and as their last step the "
    "pipeline's five baseline checks (data and model quality, data and model bias, SHAP: "
    "`benchmarks/peers/peer_baselines.py`, the project's own check configurations and the same "
    "library functions, in-process); each in its own venv made by uv (the project plus the "
    "peer), run cold from the command line after one warm-up run, interleaved with our "
    "repetitions. The replayed job command lines hold the three Clarify analysis jobs but "
    "not the two Model Monitor checks, which the executor runs in-process.",
    "Peak memory: the largest sum of PSS (a page shared by N processes counts 1/N in each; "
    "a sum of RSS would count each page a forked job shares with its warm interpreter once "
    "per process) over the whole process tree, sampled every 20 ms.",
    "Noise: on a shared 2-core machine the training step (OpenMP) has varied up to 3x between "
    "identical runs (1M rows: 26 s to 82 s), so single-repetition ratios on the large data are "
    "noise-dominated; compare the load average above and use `--large-reps 3` on a quiet "
    "machine before acting on them.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions on the sample")
    parser.add_argument(
        "--large-rows", type=int, default=1_000_000, help="rows of the large data set; 0 skips it"
    )
    parser.add_argument("--large-reps", type=int, default=1, help="repetitions on large data")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server workers for both servers (default: the cores)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sagepipe-bench"))
    parser.add_argument("--out", type=Path, default=TEMPLATE / "docs" / "benchmarks.md")
    parser.add_argument(
        "--command", default=None, help="the command to print in the report (default: this one)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(
            f"--only {args.only}: unknown {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(SECTIONS)}"
        )
    if args.reps < 1 or args.large_reps < 1 or args.large_rows < 0:
        parser.error("--reps and --large-reps must be at least 1; --large-rows at least 0")
    return args


def make_large_data(project: Project, rows: int, log: Path) -> Path:
    """Write the large data set with the project's own ``make-data`` command."""
    folder = project.root / "data" / f"raw-{rows}"
    target = folder / "churn.csv"
    if target.is_file():
        return folder
    run_timed(
        project.cli("make-data", "--rows", str(rows), "--output", str(target)),
        cwd=project.root,
        env=project.env(),
        log=log,
    )
    return folder


def _failed(section: Section, error: BaseException, log: Path) -> Section:
    section.error = f"{error} (log: {log})"
    with open(log, "a") as handle:
        handle.write("".join(traceback.format_exception(error)))
    print(f"bench: {section.title}: NOT MEASURED: {error}", file=sys.stderr)
    return section


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, write the report, return the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    load_before = load_average()
    chosen = args.only.split(",")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "bench.log"
    log.write_text("")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    sections: list[Section] = []
    print(f"bench: logs in {log}", file=sys.stderr)

    # One project for the pipeline benchmarks; installing it also warms uv's cache for the
    # cookiecutter-to-prediction benchmark.
    project, _ = bake(workdir / "main", log)
    install(project, python, log, *NOTEBOOK_PACKAGES)

    command = args.command or "python benchmarks/run.py " + shlex.join(sys.argv[1:])

    def write_report() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        elapsed = time.perf_counter() - started
        args.out.write_text(render(sections, command, elapsed, METHOD_NOTES, load_before))

    # Serving first: the long pipeline runs on 1,000,000 rows come last.
    served: Project | None = None
    if "first" in chosen or "serving" in chosen:
        section = Section("Cookiecutter to first served prediction")
        try:
            print("bench: cookiecutter to first prediction...", file=sys.stderr)
            section, served = bench_first_prediction(workdir, python, log, args.workers)
        except Exception as error:
            _failed(section, error, log)
        if "first" in chosen:
            sections.append(section)
            write_report()

    try:
        if "serving" in chosen:
            section = Section("Serving: throughput and latency vs mlflow models serve")
            try:
                if served is None:
                    raise BenchError("no staging endpoint: the deploy phase above failed")
                print("bench: serving benchmarks...", file=sys.stderr)
                archive = served_archive(served, served.root / ".mlops")
                features = model_features(archive)
                sklearn_version = subprocess.run(
                    [str(served.python), "-c", "import sklearn; print(sklearn.__version__)"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                staging_url: str | None = endpoint_url(served, "staging")
                section = bench_serving(
                    serve_argv=served.cli("serve", "--version", "latest-approved"),
                    project_root=served.root,
                    project_env=served.env(),
                    staging_url=staging_url,
                    workers=args.workers,
                    archive=archive,
                    project_python=served.python,
                    sklearn_version=sklearn_version,
                    python=python,
                    features=features,
                    row=sample_row(served.root / "data" / "raw", features),
                    workdir=workdir / "serving",
                    log=log,
                )
            except Exception as error:
                _failed(section, error, log)
            sections.append(section)
            write_report()
    finally:
        # The staging endpoint of the first-prediction benchmark served the load tests;
        # stop it even when a benchmark failed or the run was interrupted.
        if served is not None:
            try:
                served.run("undeploy", "--stage", "staging", log=log)
            except BenchError as error:
                print(f"bench: could not stop the staging endpoint: {error}", file=sys.stderr)

    if "runtimes" in chosen:
        section = Section("Runtime environments: cold build and warm lookup")
        try:
            print("bench: runtime environments, cold and warm...", file=sys.stderr)
            section = bench_runtimes(project, args.reps, workdir / "runtimes", log)
        except Exception as error:  # report and go on with the other benchmarks
            _failed(section, error, log)
        sections.append(section)
        write_report()

    if "pipeline" in chosen or "peers" in chosen:
        peers = tuple(SETUPS) if "peers" in chosen else ()
        datasets = [("sample", args.reps, False)]
        if args.large_rows:
            datasets.append((f"{args.large_rows:,} rows", args.large_reps, True))
        for label, reps, large in datasets:
            section = Section(f"Pipeline on {label}")
            try:
                print(f"bench: pipeline benchmarks on {label}...", file=sys.stderr)
                raw = (
                    make_large_data(project, args.large_rows, log)
                    if large
                    else project.root / "data" / "raw"
                )
                section = bench_pipeline(
                    project,
                    raw=raw,
                    label=label,
                    reps=reps,
                    large=large,
                    workdir=workdir / "pipeline" / ("large" if large else "sample"),
                    log=log,
                    notebook_steps=NOTEBOOK_STEPS,
                    baselines="pipeline" in chosen,
                    peers=peers,
                )
            except Exception as error:  # report and go on with the other benchmarks
                _failed(section, error, log)
            sections.append(section)
            write_report()

    if "migrate" in chosen:
        section = Section("Migrate a 100-cell notebook")
        try:
            print("bench: migrate plan + apply on a 100-cell notebook...", file=sys.stderr)
            section = bench_migrate()
        except Exception as error:  # report and go on
            _failed(section, error, log)
        sections.append(section)

    write_report()
    print(f"bench: wrote {args.out}", file=sys.stderr)
    return 1 if any(section.error for section in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
