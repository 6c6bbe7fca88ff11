"""The ClarifyCheck job: analysis config + dataset (+ model) in, ``analysis.json`` out.

Shared by the container entry point (``python3 -m sagepipe.clarify``) and the local
executor, so both compute exactly the same thing. With a baseline ``analysis.json`` the
job also writes ``constraint_violations.json`` (see :mod:`.drift`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import analysis, drift


@dataclass(frozen=True)
class Outcome:
    """What one job produced."""

    analysis_path: Path
    violations: list[dict[str, Any]]


def _single_file(path: Path, name: str) -> Path:
    if path.is_file():
        return path
    candidates = sorted(p for p in path.rglob(name) if p.is_file()) if path.is_dir() else []
    if not candidates:
        raise ValueError(f"no {name} under {path}")
    return candidates[0]


def run(
    config_path: Path,
    data_path: Path,
    output_dir: Path,
    *,
    model_archive: Path | None = None,
    model: analysis.Model | None = None,
    baseline: Path | None = None,
    work_dir: Path | None = None,
) -> Outcome:
    """Run the analysis; compare with ``baseline`` (an ``analysis.json``) when given.

    The model is ``model`` (a callable endpoint) or else ``model_archive``, served by the
    project's handler.
    """
    config = json.loads(_single_file(config_path, "*.json").read_text())
    analysis.check_config(config)
    data = analysis.read_dataset(data_path, config)
    if model is None and model_archive is not None:
        from .endpoint import LocalEndpoint

        archive = _single_file(model_archive, "*.tar.gz")
        cache = work_dir or Path(tempfile.mkdtemp(prefix="clarify-model-"))
        model = LocalEndpoint.from_archive(archive, cache)
    result = analysis.analyse(config, data, model)
    found: list[dict[str, Any]] = []
    if baseline is not None:
        before = json.loads(_single_file(baseline, "analysis.json").read_text())
        # Compare without the local-only block analyse() adds for write().
        current = {
            **result,
            "explanations": {
                k: v for k, v in (result.get("explanations") or {}).items() if k != "_local"
            },
        }
        found = drift.violations(before, current)
    path = analysis.write(result, output_dir, config)
    if baseline is not None:
        (output_dir / drift.VIOLATIONS_FILE).write_text(
            json.dumps({"version": "1.0", "violations": found}, indent=2) + "\n"
        )
    return Outcome(path, found)


def exit_status(config_path: Path, data_path: Path, output_dir: Path, **options: Any) -> int:
    """Run the job as an entry point does: 0 on success, 1 and one line on stderr if refused.

    Both entry points (the container's ``python3 -m sagepipe.clarify`` and the local
    executor's job) report a bad config, dataset or model the same way.
    """
    try:
        run(config_path, data_path, output_dir, **options)
    except (OSError, ValueError) as err:
        print(f"clarify: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0
