"""Sessions of the template repository: `nox -s tests`, `lint`, `infra`, `demo`, `docs`.

Arguments after `--` go to the tool: `nox -s tests -- -m "not slow" -k hooks`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PROJECT_TEMPLATE = ROOT / "{{cookiecutter.project_slug}}"
DEMO_DIR = ROOT / ".nox" / "demo-project"

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests"]
nox.options.error_on_external_run = True

# GX must not phone home. uv may fetch a missing interpreter unless UV_PYTHON_DOWNLOADS=never.
QUIET_ENV = {"GX_ANALYTICS_ENABLED": "false"}


def generated_dependencies(session: nox.Session) -> list[str]:
    """The generated project's requirements (runtime and extras), read from a default bake."""
    with tempfile.TemporaryDirectory() as scratch:
        project = bake_default(session, Path(scratch))
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10: nox's own interpreter may be older
            import tomli as tomllib
        metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    extras = metadata["optional-dependencies"]
    # Every extra, `aws` (plain boto3) included: the SageMaker backend's tests run it
    # against moto's server on loopback (moto comes from tests/requirements.txt and dev).
    return [
        *metadata["dependencies"],
        *(req for _name, reqs in sorted(extras.items()) for req in reqs),
    ]


def bake_default(session: nox.Session, output_dir: Path, *answers: str) -> Path:
    """Bake the template with its defaults (plus key=value answers) into output_dir."""
    session.run(
        "cookiecutter",
        "--no-input",
        "-f",
        "-o",
        str(output_dir),
        str(ROOT),
        *answers,
        silent=True,
    )
    (project,) = [path for path in output_dir.iterdir() if path.is_dir()]
    return project


@nox.session
def tests(session: nox.Session) -> None:
    """Run the template's tests: hooks, bakes, generated checks and the slow tier."""
    session.install("-r", "tests/requirements.txt")
    # The generated project's lock pins its runtime dependencies, as in the project image.
    lock = PROJECT_TEMPLATE / "requirements.lock"
    session.install(*generated_dependencies(session), "-c", str(lock))
    # Two workers fit CI's two cores; a later `-n 0` in posargs wins for debugging.
    args = session.posargs or ["-ra", "--durations=15"]
    sys.path.insert(0, str(ROOT / "tests"))
    import pythons  # dependency-free: which Pythons the slow tier can bake for here

    usable, skipped = pythons.resolve(pythons.SLOW_TIER_PYTHONS)
    if skipped:
        session.log(pythons.skip_line(skipped))
    env = {**QUIET_ENV, pythons.ENV_VAR: ",".join(usable)}
    session.run("pytest", "tests", "-n", "2", *args, env=env)


@nox.session
def infra(session: nox.Session) -> None:
    """Check the generated CloudFormation and CI: cfn-lint, actionlint, schemas, moto deploys."""
    session.install("-r", "tests/requirements.txt")
    session.run("pytest", "tests/test_infra.py", "-n", "0", *session.posargs, env=QUIET_ENV)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check the hooks, tests, noxfile and docs scripts with ruff."""
    session.install("ruff")
    targets = session.posargs or [
        "hooks",
        "local_extensions.py",
        "tests",
        "benchmarks",
        "noxfile.py",
        "docs/gen_options.py",
    ]
    session.run("ruff", "check", *targets)
    session.run("ruff", "format", "--check", *targets)


@nox.session
def demo(session: nox.Session) -> None:
    """Bake the default project and run its lifecycle: train, register, serve, predict."""
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    session.install("cookiecutter")
    project = bake_default(session, DEMO_DIR)
    session.install("-e", str(project))
    session.chdir(project)
    command = project.name  # the console script is named after the slug
    session.run(command, "run", env=QUIET_ENV)
    session.run(command, "registry", "list", env=QUIET_ENV)
    session.run(command, "registry", "approve", "latest", env=QUIET_ENV)
    endpoint = deploy_staging(Path(session.bin) / command)
    try:
        session.log(f"staging endpoint {endpoint['url']}")
        session.log(
            f"prediction: {predict(endpoint['url'], project / 'data' / 'raw' / 'churn.csv')}"
        )
    finally:
        session.run(command, "undeploy", "--stage", "staging", env=QUIET_ENV)


def deploy_staging(command: Path) -> dict[str, object]:
    """Start the staging endpoint and return what `deploy --json` reports about it."""
    result = subprocess.run(
        [str(command), "deploy", "--stage", "staging", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **QUIET_ENV},
    )
    if result.returncode != 0:
        raise nox.command.CommandFailed(f"deploy failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def predict(url: object, sample_csv: Path) -> str:
    """POST three customers from the sample data to the endpoint; return its answer."""
    import csv
    import urllib.request

    with sample_csv.open(newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), 3))
    instances = [
        {key: value for key, value in row.items() if key not in {"customer_id", "churned"}}
        for row in rows
    ]
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps({"instances": instances}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    # The endpoint has just started; give it a few tries before calling it broken.
    for attempt in range(20):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read().decode()
        except OSError:
            if attempt == 19:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with mkdocs in strict mode (warnings fail)."""
    session.install("mkdocs>=1.6")
    session.run("python", "docs/gen_options.py", "--check")
    session.run("mkdocs", "build", "--strict", *(session.posargs or ["--site-dir", "site"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks side by side and write docs/benchmarks.md (slow; not part of CI)."""
    # The harness bakes and installs projects itself (uv, shared cache), and makes the
    # peers' own venvs (the project plus Kedro, or ZenML); it needs only cookiecutter and
    # psutil here; `nox -s bench -- --only peers,runtimes` runs a subset. wrk comes from
    # the system: it installs Debian's package when run as root, else it says how to get it.
    session.install("cookiecutter", "psutil")
    if not shutil.which("wrk"):
        session.warn(
            "wrk not found; the serving benchmark will try `apt-get install -y wrk` "
            "(root only) or report how to install it"
        )
    command = "nox -s bench" + (" -- " + " ".join(session.posargs) if session.posargs else "")
    session.run(
        "python", "benchmarks/run.py", "--command", command, *session.posargs, env=QUIET_ENV
    )
