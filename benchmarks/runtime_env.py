"""Resolve one image's runtime environment the way a pipeline run does, and time it.

Runs in the generated project's venv (it imports the project's ``settings`` and the
engine). Usage::

    python runtime_env.py PACKAGE --list          # print the image URIs, one a line
    python runtime_env.py PACKAGE IMAGE_URI       # build or look up; print JSON

The environment cache is ``$SAGEPIPE_RUNTIME_CACHE`` (the harness gives a fresh folder for
a cold build and the same one again for a warm lookup); uv's own package cache is the
machine's. The JSON holds the seconds ``environment_for`` took (finding the interpreter,
then building or loading the environment: what a run pays per image), the interpreter and
whether a venv was built at all.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

from sagepipe.runtimes import AWS_RUNTIMES, FRAMEWORK_ACCOUNTS

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/SageMakerExecutionRole"


def image_uris(settings: object) -> list[str]:
    """Every AWS framework image of the runtime table, then the project image."""
    registry = f"{FRAMEWORK_ACCOUNTS[REGION]}.dkr.ecr.{REGION}.amazonaws.com"
    uris = [f"{registry}/{runtime.repository}:{runtime.tag}" for runtime in AWS_RUNTIMES]
    uris.append(settings.project_image_uri(REGION, ROLE))  # type: ignore[attr-defined]
    return uris


def main() -> None:
    """List the images, or resolve one and print what it took."""
    if len(sys.argv) != 3:
        raise SystemExit("usage: runtime_env.py PACKAGE (--list | IMAGE_URI)")
    settings = importlib.import_module(f"{sys.argv[1]}.settings")
    if sys.argv[2] == "--list":
        print("\n".join(image_uris(settings)))
        return
    resolver = settings.runtime_resolver()
    start = time.perf_counter()
    runtime, environment = resolver.environment_for(sys.argv[2])
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "runtime": runtime.name,
                "python": runtime.python,
                "interpreter": environment.python_version,
                "executable": str(environment.python),
                "notice": environment.notice,
                "built": environment.folder is not None,
                "packages": len(environment.packages),
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
