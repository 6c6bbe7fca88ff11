"""Container entry point of the ClarifyCheck job (``python3 -m sagepipe.clarify``).

Reads SageMaker Processing's folders: ``/opt/ml/processing/input/config`` (the
``analysis_config.json``), ``input/data`` (the dataset), ``input/model`` (the packed
model, for model bias and explainability) and writes ``/opt/ml/processing/output``.
Exit status 0 on success, 1 with a one-line reason on stderr otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .job import exit_status

ROOT = Path("/opt/ml/processing")


def main() -> int:
    """Run the job on the Processing folders."""
    model = ROOT / "input" / "model"
    return exit_status(
        ROOT / "input" / "config",
        ROOT / "input" / "data",
        ROOT / "output",
        model_archive=model if model.exists() else None,
    )


if __name__ == "__main__":
    sys.exit(main())
