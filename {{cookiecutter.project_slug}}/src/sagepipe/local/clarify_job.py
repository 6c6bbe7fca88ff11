"""A ClarifyCheck's analysis as its own job: ``python -m sagepipe.local.clarify_job SPEC``.

The local executor runs bias and SHAP analyses in a job process of this interpreter (a
warm fork, with the model's libraries already imported) instead of on one of its own
threads: two analyses then use two cores instead of sharing the executor's interpreter
lock, and a model's imports stay out of the executor. ``SPEC`` is a JSON file with the
paths :func:`sagepipe.clarify.job.run` takes; the outcome is the job's output folder
(``analysis.json``, and ``constraint_violations.json`` when checked against a baseline).
Exit status 0 on success, 1 with a one-line reason on stderr otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..clarify.job import exit_status


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def main(argv: list[str] | None = None) -> int:
    """Run the analysis the spec file describes."""
    spec = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    return exit_status(
        Path(spec["config"]),
        Path(spec["data"]),
        Path(spec["output"]),
        model_archive=_path(spec.get("model_archive")),
        baseline=_path(spec.get("baseline")),
        work_dir=_path(spec.get("work_dir")),
    )


if __name__ == "__main__":
    sys.exit(main())
