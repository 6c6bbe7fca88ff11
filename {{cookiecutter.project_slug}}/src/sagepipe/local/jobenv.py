"""Which interpreter a local job runs with, and what the run history records about it.

With a :class:`~sagepipe.runtimes.RuntimeResolver` each job runs in the environment of
its step's image; without one (plain ``execute`` calls, the framework's own tests) it runs
with the executor's interpreter, and the history says so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..runtimes import (
    BuildError,
    Environment,
    Runtime,
    RuntimeResolver,
    UnknownImage,
    build_environment,
    describe,
    find_interpreter,
    overlay_packages,
    requirements_overlay,
)
from .sandbox import JobError


@dataclass(frozen=True)
class JobRuntime:
    """The interpreter of one job and the history record of its environment."""

    python: str
    record: dict[str, Any]
    notice: str | None = None
    # Set in the job's environment (``None`` removes the variable).
    env: dict[str, str | None] = field(default_factory=dict)
    # The runtime and its built environment (None: the executor's own interpreter).
    runtime: Runtime | None = None
    environment: Environment | None = None


def image_of(step_type: str, args: Mapping[str, Any]) -> str:
    """The image URI a Processing or Training step's arguments name ("" when none)."""
    if step_type == "Processing":
        return str((args.get("AppSpecification") or {}).get("ImageUri") or "")
    return str((args.get("AlgorithmSpecification") or {}).get("TrainingImage") or "")


def _argument(args: Mapping[str, Any], name: str) -> str | None:
    values = list((args.get("AlgorithmSpecification") or {}).get("ContainerArguments") or [])
    for index, key in enumerate(values[:-1]):
        if key == name:
            return str(values[index + 1])
    return None


def function_step_runtime(args: Mapping[str, Any]) -> Runtime | None:
    """The runtime of a SageMaker SDK ``@step`` function (remote-function contract), or None.

    The definition says which Python and SDK version pickled the function; the job runs in
    exactly that (never in the executor's own environment), as the container must.
    """
    entry = list((args.get("AlgorithmSpecification") or {}).get("ContainerEntrypoint") or [])
    if not entry or not str(entry[-1]).endswith(
        "sagemaker_remote_function_bootstrap/job_driver.sh"
    ):
        return None
    python = _argument(args, "--client_python_version")
    sdk = _argument(args, "--client_sagemaker_pysdk_version")
    if not python or not sdk:
        return None
    return Runtime(
        name=f"remote-function-py{python}-sagemaker-{sdk}",
        repository="(remote function)",
        version=sdk,
        python=python,
        # pip: the SDK's bootstrap script checks the step's requirements with it.
        packages=(f"sagemaker=={sdk}", "pip"),
        key_packages=("sagemaker", "cloudpickle", "boto3"),
        source="the definition's --client_python_version and --client_sagemaker_pysdk_version",
    )


def job_runtime(
    step_name: str,
    step_type: str,
    args: Mapping[str, Any],
    resolver: RuntimeResolver | None,
) -> JobRuntime:
    """Resolve (and build on first use) the environment the job of ``step_name`` runs in."""
    image = image_of(step_type, args)
    function = function_step_runtime(args) if step_type == "Training" else None
    if function is not None:
        try:
            interpreter = find_interpreter(function.python)
            environment = build_environment(
                interpreter,
                list(function.packages),
                what=f"{image} (@step function)",
                root=resolver.cache if resolver is not None else None,
            )
        except (LookupError, BuildError) as exc:
            raise JobError(f"step {step_name}: {exc}") from None
        record = describe(function, environment, image)
        # The SDK's bootstrap runs `pip install -U -r requirements`: the environment already
        # is the definition's, so pip must find nothing to fetch or upgrade it with.
        quiet_pip: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PIP_")}
        quiet_pip.update(
            PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1"
        )
        return JobRuntime(str(environment.python), record, environment.notice, quiet_pip)
    if resolver is None:
        return JobRuntime(
            sys.executable,
            {
                "Image": image,
                "Runtime": "executor",
                "Python": ".".join(str(p) for p in sys.version_info[:3]),
                "Interpreter": sys.executable,
            },
        )
    try:
        runtime, environment = resolver.environment_for(image)
    except (UnknownImage, BuildError) as exc:
        raise JobError(f"step {step_name}: {exc}") from None
    record = describe(runtime, environment, image)
    return JobRuntime(
        str(environment.python),
        record,
        environment.notice,
        runtime=runtime,
        environment=environment,
    )


def with_requirements(
    step_name: str, job: JobRuntime, requirements: Path, resolver: RuntimeResolver | None
) -> JobRuntime:
    """``job``'s runtime with a source directory's ``requirements.txt`` installed on top.

    The framework containers ``pip install -r requirements.txt`` before the entry point;
    here it goes into a cached overlay of the runtime's environment (never into the
    runtime itself, nor into the executor's environment). Without a runtime table the job
    runs in the executor's interpreter, so nothing is installed and the job's log says so.
    """
    what = f"step {step_name}: {requirements.name} of the source directory"
    if job.runtime is None or job.environment is None:
        notice = (
            f"{requirements.name} in the source directory is not installed: this job runs "
            "in the executor's own interpreter (no runtime table), which is never changed"
        )
        return replace(job, notice="; ".join(n for n in (job.notice, notice) if n))
    base = job.environment
    try:
        if base.folder is None:
            # The executor's own interpreter stands for the project image: overlay the
            # lock's cached environment instead, never the executor's.
            base = build_environment(
                find_interpreter(job.runtime.python),
                list(job.runtime.packages),
                what=str(job.record.get("Image")),
                root=resolver.cache if resolver is not None else None,
            )
        overlay = requirements_overlay(
            base, requirements, what=what, root=resolver.cache if resolver is not None else None
        )
    except (LookupError, BuildError) as exc:
        message = str(exc)
        raise JobError(
            message if message.startswith("step ") else f"step {step_name}: {message}"
        ) from None
    record = describe(job.runtime, overlay, str(job.record.get("Image")))
    added = overlay_packages(base, overlay)
    record["Requirements"] = {
        "File": requirements.name,
        "Environment": str(overlay.folder),
        "Installed": added,
    }
    installed = ", ".join(f"{k}=={v}" for k, v in added.items())
    notice = (
        f"{requirements.name} of the source directory installed (offline, with uv) into "
        f"{overlay.folder}: {installed or 'nothing new'}"
    )
    return replace(
        job,
        python=str(overlay.python),
        record=record,
        environment=overlay,
        notice="; ".join(n for n in (job.notice, notice) if n),
    )
