"""Model Monitor's container contract: the job reads its settings from environment variables.

The SageMaker SDK's ``QualityCheckStep`` and monitoring schedules start the analyzer
container with these variables (the names are the SDK's), so the same job runs from the
local executor and as a Processing job on the project image:

- ``dataset_source``: folder (or file) of the data to analyse;
- ``output_path``: where ``statistics.json`` / ``constraints.json`` /
  ``constraint_violations.json`` go;
- ``dataset_format``: JSON such as ``{"csv": {"header": true}}`` or ``{"json": {"lines":
  true}}`` (a baselining job) or ``{"sagemakerCaptureJson": ...}`` (captured traffic);
- ``baseline_statistics`` / ``baseline_constraints``: files to check against (monitoring);
- ``analysis_type``: ``MODEL_QUALITY`` for model quality (with ``problem_type``,
  ``inference_attribute``, ``probability_attribute``, ``ground_truth_attribute``);
- ``start_time`` / ``end_time``: the window of capture times a monitoring run checks
  (ISO times, ``end_time`` excluded), as Model Monitor's scheduled jobs receive them;
- ours (Model Monitor's container ignores them): ``exclude_columns``, comma-separated
  columns left out of a data-quality baseline, such as the training label; ``since``
  (``1h``, ``1d``: the window's length, counted back from ``end_time``); ``report_html``
  (``true``: also write ``report.html``); ``fail_on_violation`` (``false``: exit 0 even
  when violations were found, so a Processing job completes and uploads its results,
  which say what was found).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import baseline as baselines

# Model Monitor hooks this analyzer refuses rather than silently ignores.
UNSUPPORTED = ("record_preprocessor_script", "post_analytics_processor_script")


@dataclass
class JobOutcome:
    """What the analyzer wrote and whether it found violations."""

    statistics: Path
    constraints: Path | None
    violations: Path | None
    violation_count: int


def dataset_format(env: Mapping[str, str]) -> tuple[str, bool]:
    """(``csv`` | ``json`` | ``capture``, header) from the ``dataset_format`` variable."""
    raw = env.get("dataset_format") or '{"csv": {"header": true}}'
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise baselines.BaselineError(
            f'dataset_format={raw!r} is not JSON; use e.g. \'{{"csv": {{"header": true}}}}\''
        ) from None
    if not isinstance(parsed, dict) or not parsed:
        raise baselines.BaselineError(
            f"dataset_format={raw!r} must be an object like {{'csv': {{}}}}"
        )
    if "csv" in parsed:
        return "csv", bool((parsed["csv"] or {}).get("header", True))
    if "json" in parsed:
        return "json", True
    if "sagemakerCaptureJson" in parsed:
        return "capture", True
    raise baselines.BaselineError(
        f"dataset_format={raw!r}: expected a csv, json or sagemakerCaptureJson format"
    )


def run(env: Mapping[str, str]) -> JobOutcome:
    """Run one analyzer job as its environment describes."""
    for hook in UNSUPPORTED:
        if env.get(hook):
            raise baselines.BaselineError(
                f"{hook}={env[hook]!r}: this analyzer does not run Model Monitor's "
                "preprocessor/postprocessor scripts; drop the script (exclude_columns covers "
                "leaving out columns) or use AWS's analyzer image"
            )
    source = Path(_required(env, "dataset_source"))
    output = Path(_required(env, "output_path"))
    kind, header = dataset_format(env)
    if env.get("analysis_type", "").upper() == "MODEL_QUALITY":
        return _model_quality(env, source, output, kind, header)
    statistics_file = env.get("baseline_statistics")
    constraints_file = env.get("baseline_constraints")
    if kind == "capture":
        if not statistics_file or not constraints_file:
            raise baselines.BaselineError(
                "monitoring captured traffic needs baseline_statistics and baseline_constraints"
            )
        from .job import monitor
        from .window import window

        try:
            since, until = window(env)
        except ValueError as err:
            raise baselines.BaselineError(str(err)) from None
        result = monitor(
            source,
            Path(statistics_file),
            Path(constraints_file),
            output,
            since=since,
            until=until,
            html=env.get("report_html", "").lower() == "true",
            title=f"{env.get('sagemaker_endpoint_name') or 'endpoint'}: data quality",
        )
        return JobOutcome(
            output / baselines.STATISTICS_FILE,
            None,
            output / baselines.VIOLATIONS_FILE,
            len(result.violations),
        )
    exclude = [c.strip() for c in env.get("exclude_columns", "").split(",") if c.strip()]
    profile = baselines.profile_dataset(
        baselines.read_chunks(source, dataset_format=kind, header=header), exclude=exclude
    )
    statistics = profile.to_statistics()
    suggested = baselines.suggest_constraints(statistics)
    baselines.write_json(output / baselines.STATISTICS_FILE, statistics)
    baselines.write_json(output / baselines.CONSTRAINTS_FILE, suggested)
    if not constraints_file:
        return JobOutcome(
            output / baselines.STATISTICS_FILE, output / baselines.CONSTRAINTS_FILE, None, 0
        )
    # Check the new dataset against supplied baselines, as the SDK's QualityCheckStep does.
    from .checks import evaluate

    base_stats = (
        baselines.read_json(Path(statistics_file), "baseline statistics")
        if statistics_file
        else statistics
    )
    base_constraints = baselines.read_json(Path(constraints_file), "baseline constraints")
    edges = baselines.feature_edges(base_stats)
    checked = baselines.profile_dataset(
        baselines.read_chunks(source, dataset_format=kind, header=header),
        exclude=exclude,
        edges=edges,
    )
    found, _ = evaluate(checked, base_stats, base_constraints, edges)
    path = baselines.write_json(output / baselines.VIOLATIONS_FILE, {"violations": found})
    return JobOutcome(
        output / baselines.STATISTICS_FILE, output / baselines.CONSTRAINTS_FILE, path, len(found)
    )


def exit_status(outcome: JobOutcome, env: Mapping[str, str]) -> int:
    """1 when violations were found, unless ``fail_on_violation=false``; else 0."""
    if env.get("fail_on_violation", "true").lower() == "false":
        return 0  # the caller reads constraint_violations.json (a Processing job on AWS)
    return 1 if outcome.violation_count else 0


def _model_quality(
    env: Mapping[str, str], source: Path, output: Path, kind: str, header: bool
) -> JobOutcome:
    """Model quality of a table of predictions and labels (binary classification)."""
    from .model_quality import (
        QualityAccumulator,
        quality_violations,
        suggest_quality_constraints,
    )

    problem = env.get("problem_type", "BinaryClassification")
    if problem != "BinaryClassification":
        raise baselines.BaselineError(
            f"problem_type={problem!r}: only BinaryClassification is supported; "
            "use a BinaryClassification model quality check"
        )
    label = _required(env, "ground_truth_attribute")
    predicted = env.get("inference_attribute") or ""
    probability = env.get("probability_attribute") or ""
    if not predicted and not probability:
        raise baselines.BaselineError(
            "model quality needs inference_attribute or probability_attribute naming a column"
        )
    quality = QualityAccumulator()
    for chunk in baselines.read_chunks(source, dataset_format=kind, header=header):
        missing = [c for c in (label, predicted, probability) if c and c not in chunk.columns]
        if missing:
            raise baselines.BaselineError(
                f"{source}: column(s) {', '.join(missing)} not in the dataset "
                f"(columns: {', '.join(map(str, chunk.columns))}); fix the attribute names"
            )
        truth = [int(float(v)) for v in chunk[label]]
        scores: list[Any] = (
            [float(v) for v in chunk[probability]] if probability else [None] * len(chunk)
        )
        labels: list[Any] = list(chunk[predicted]) if predicted else [None] * len(chunk)
        quality.add(list(zip(labels, scores, strict=True)), truth)
    statistics = quality.statistics()
    suggested = suggest_quality_constraints(statistics)
    baselines.write_json(output / baselines.STATISTICS_FILE, statistics)
    baselines.write_json(output / baselines.CONSTRAINTS_FILE, suggested)
    constraints_file = env.get("baseline_constraints")
    if not constraints_file:
        return JobOutcome(
            output / baselines.STATISTICS_FILE, output / baselines.CONSTRAINTS_FILE, None, 0
        )
    found = quality_violations(
        statistics, baselines.read_json(Path(constraints_file), "baseline constraints")
    )
    path = baselines.write_json(output / baselines.VIOLATIONS_FILE, {"violations": found})
    return JobOutcome(
        output / baselines.STATISTICS_FILE, output / baselines.CONSTRAINTS_FILE, path, len(found)
    )


def _outcome(output: Path, violations: Path | None, count: int) -> JobOutcome:
    return JobOutcome(
        output / baselines.STATISTICS_FILE, output / baselines.CONSTRAINTS_FILE, violations, count
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise baselines.BaselineError(f"environment variable {name} is not set; the job needs it")
    return value
