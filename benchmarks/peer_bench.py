"""Peers of the pipeline benchmark: the same pipeline on Kedro and on ZenML.

Each peer is a small project written under ``benchmarks/peers/`` that calls the generated
project's own step functions with the arguments our compiled pipeline gives them. The
harness copies it into the bench work folder, makes the peer's own venv with uv (the
project plus the peer's package, the shared uv cache, bytecode compiled at install as for
the project) and runs it cold from the command line, one process tree timed from launch
to exit like our side. ``pipeline_bench`` interleaves the peers' repetitions with ours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from measure import Timed, clean_env, run_timed
from project import Project

PEERS_DIR = Path(__file__).resolve().parent / "peers"
# The pipeline's baseline checks run in-process by each peer's last step (shared module).
BASELINES = "peer_baselines.py"
KEDRO_REQUIREMENT = "kedro==1.7.0"
# ``zenml`` alone refuses a local store ("install zenml[local]"); [local] adds SQLAlchemy and
# the migrations for the SQLite store, without the dashboard server.
ZENML_REQUIREMENT = "zenml[local]==0.98.0"
# The generated pipeline's AccuracyThreshold default: every side applies the same condition.
THRESHOLD = 0.7


def _decode(text: str) -> Any:
    """Arguments arrive as the text the jobs got ("0.2", '"0.1"'): decode like JSON."""
    value: Any = text
    for _ in range(2):
        try:
            value = json.loads(value)
        except (TypeError, ValueError):
            break
        if not isinstance(value, str):
            break
    return value


def peer_config(project: Project, raw: Path, work: Path, args: dict[str, dict[str, str]]) -> dict:
    """What every peer needs: the package, the folders, the steps' arguments, the threshold."""
    return {
        "package": project.package,
        "raw": str(raw),
        "work": str(work),
        "preprocess": {k: _decode(v) for k, v in args.get("preprocess", {}).items()},
        "train": {k: _decode(v) for k, v in args.get("train", {}).items()},
        "threshold": THRESHOLD,
    }


@dataclass
class Peer:
    """One peer framework, set up and ready to be run cold (and, if it caches, re-run)."""

    name: str
    version: str
    install_seconds: float
    venv_bytes: int
    cold: Callable[[], Timed]
    cached: Callable[[], Timed] | None = None
    notes: list[str] = field(default_factory=list)
    runs: list[Timed] = field(default_factory=list)
    cached_runs: list[Timed] = field(default_factory=list)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def make_venv(project: Project, venv: Path, requirement: str, log: Path) -> float:
    """A fresh venv with the project and ``requirement``; return the seconds it took."""
    shutil.rmtree(venv, ignore_errors=True)
    env = clean_env(UV_COMPILE_BYTECODE="1")
    python = venv / "bin" / "python"
    seconds = run_timed(
        ["uv", "venv", "-q", "--python", str(project.python), str(venv)], env=env, log=log
    ).seconds
    seconds += run_timed(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "-e",
            str(project.root),
            requirement,
        ],
        env=env,
        log=log,
    ).seconds
    return seconds


def _version(venv: Path, module: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def _fresh(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)


def setup_kedro(
    project: Project, raw: Path, args: dict[str, dict[str, str]], workdir: Path, log: Path
) -> Peer:
    """Copy the Kedro peer, write its parameters, make its venv; one warm-up run."""
    venv = workdir / "kedro-venv"
    seconds = make_venv(project, venv, KEDRO_REQUIREMENT, log)
    root = workdir / "kedro-project"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(PEERS_DIR / "kedro", root)
    shutil.copy2(PEERS_DIR / BASELINES, root / "src" / "bench_kedro" / BASELINES)
    (root / "conf" / "local").mkdir(parents=True, exist_ok=True)
    work = workdir / "kedro-work"
    config = peer_config(project, raw, work, args)
    # parameters.yml: YAML is a superset of JSON, so the harness writes JSON.
    parameters = {
        "paths": {key: config[key] for key in ("package", "raw", "work")},
        "preprocess": config["preprocess"],
        "train": config["train"],
        "threshold": config["threshold"],
    }
    (root / "conf" / "base" / "parameters.yml").write_text(json.dumps(parameters, indent=1) + "\n")
    env = clean_env(KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"

    def cold() -> Timed:
        _fresh(work)
        return run_timed([str(venv / "bin" / "kedro"), "run"], cwd=root, env=env, log=log)

    peer = Peer(
        "Kedro",
        _version(venv, "kedro"),
        seconds,
        _folder_bytes(venv),
        cold,
        notes=["`kedro run` (SequentialRunner: every node in the one `kedro` process)"],
    )
    cold()  # warm-up, like our recording run: page cache and .pyc alike for all sides
    return peer


def setup_zenml(
    project: Project, raw: Path, args: dict[str, dict[str, str]], workdir: Path, log: Path
) -> Peer:
    """Make ZenML's venv, ``zenml init`` a local store in the work folder; one warm-up run."""
    venv = workdir / "zenml-venv"
    seconds = make_venv(project, venv, ZENML_REQUIREMENT, log)
    root = workdir / "zenml-project"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copy2(PEERS_DIR / "zenml_pipeline.py", root)
    shutil.copy2(PEERS_DIR / BASELINES, root)
    work = workdir / "zenml-work"
    config_file = root / "config.json"
    config_file.write_text(json.dumps(peer_config(project, raw, work, args), indent=1) + "\n")
    env = clean_env(
        ZENML_CONFIG_PATH=str(root / ".zenml-config"),  # its SQLite store lives here
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_ENABLE_REPO_INIT_WARNINGS="false",
        AUTO_OPEN_DASHBOARD="false",
    )
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    init = run_timed([str(venv / "bin" / "zenml"), "init"], cwd=root, env=env, log=log)
    script = [str(venv / "bin" / "python"), "zenml_pipeline.py", str(config_file)]

    def cold() -> Timed:
        _fresh(work)
        return run_timed(script, cwd=root, env=env, log=log)

    def cached() -> Timed:
        return run_timed([*script, "--cache"], cwd=root, env=env, log=log)

    peer = Peer(
        "ZenML",
        _version(venv, "zenml"),
        seconds,
        _folder_bytes(venv),
        cold,
        cached,
        notes=[
            "`python zenml_pipeline.py` on the local orchestrator and a local SQLite store "
            f"(`zenml init` once before the runs: {init.seconds:.1f} s); cold runs with "
            "caching off, the cached re-run with caching on right after a cold run"
        ],
    )
    cold()
    return peer


SETUPS = {"kedro": setup_kedro, "zenml": setup_zenml}
PEER_TITLES = {"kedro": "Kedro", "zenml": "ZenML"}
