"""The data-quality gate step: run the suites on the raw and the processed data.

great-expectations runs fully offline here: an ephemeral context (no project folder,
no cloud), analytics off, and Data Docs built as static HTML into the ``report`` folder.
A failing expectation raises ``DataQualityError`` whose message is one readable
paragraph listing every failure, so the pipeline's failure reason says what is wrong.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import data
from ..errors import DataQualityError
from ..steps.preprocess import TEST_FILE, TRAIN_FILE, read_raw
from . import suites

SUMMARY_FILE = "summary.json"
_EXAMPLES = 3
# SageMaker (and sagepipe) keep about 1 KiB of a failure reason: the summary stays inside
# it, listing as many failures as fit, so the Data Docs path at its end is never cut off.
MAX_SUMMARY_CHARS = 1000
# What pandas reads as a missing value (besides an empty field): say so in messages, or
# "n/a" in a file reads as a mysterious "null".
MISSING_WORDS = "empty, NA, N/A, n/a, null or NaN"


@dataclass
class Failure:
    """One failed expectation, in words."""

    dataset: str
    expectation: str
    column: str | None
    detail: str

    def sentence(self) -> str:
        """Describe the failure in one clause, e.g. ``raw: age between 16 and 120 (...)``."""
        where = f"{self.column}: " if self.column else ""
        return f"{self.dataset}: {where}{self.expectation} ({self.detail})"


@dataclass
class QualityReport:
    """The outcome of the gate across all datasets."""

    evaluated: int = 0
    failures: list[Failure] = field(default_factory=list)
    docs_index: Path | None = None

    @property
    def success(self) -> bool:
        """True when every expectation passed."""
        return not self.failures

    def summary(self, docs: str | Path | None = None, limit: int = MAX_SUMMARY_CHARS) -> str:
        """One paragraph of at most ``limit`` characters: how many failed, the failures that
        fit, and where the Data Docs are (``docs``, default: ``docs_index``), always last."""
        shown_docs = docs if docs is not None else self.docs_index
        tail = f" Data Docs: {shown_docs}" if shown_docs else ""
        if self.success:
            return f"Data quality passed: all {self.evaluated} expectations met.{tail}"
        head = (
            f"Data quality failed: {len(self.failures)} of {self.evaluated} expectations not met: "
        )
        sentences = [failure.sentence() for failure in self.failures]
        for count in range(len(sentences), 0, -1):
            rest = len(sentences) - count
            more = f"; and {rest} more (all in {SUMMARY_FILE})" if rest else ""
            text = head + "; ".join(sentences[:count]) + more + "." + tail
            if len(text) <= limit:
                return text
        # Even the first failure alone is too long: cut it, never the Data Docs path.
        return (head + sentences[0])[: max(0, limit - len(tail) - 3)] + "..." + tail


def _describe(kind: str, kwargs: dict[str, Any]) -> str:
    words = kind.removeprefix("expect_").replace("_", " ")
    missing = f"values must not be missing ({MISSING_WORDS})"
    words = words.replace("column values to not be null", missing)
    words = words.replace("column values to be", "values must be").replace(" to be ", " must be ")
    bounds = [
        f"{key}={kwargs[key]}"
        for key in ("min_value", "max_value", "value_set", "regex", "mostly", "column_list")
        if kwargs.get(key) is not None
    ]
    return words + (f" [{', '.join(bounds)}]" if bounds else "")


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers are values, not missing
        return False


def _detail(result: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        # Missing values (None/NaN) have nothing to show; the rule already says "missing".
        shown = [v for v in result.get("partial_unexpected_list", []) if not _is_missing(v)]
        distinct = dict.fromkeys(repr(value) for value in shown)
        examples = ", ".join(list(distinct)[:_EXAMPLES])
        count = result.get("unexpected_count")
        total = result.get("element_count")
        text = f"{count} of {total} rows unexpected"
        return text + (f", e.g. {examples}" if examples else "")
    if "observed_value" in result:
        return f"observed {result['observed_value']!r}"
    return "not met"


def _type_failures(
    name: str, frame: pd.DataFrame, expectations: list[suites.Expectation]
) -> tuple[pd.DataFrame, list[suites.Expectation], list[Failure]]:
    """Report text in a numeric column as a type problem, not as a failed range check.

    A column that a range expectation checks must hold numbers: values that are not numbers
    (``age='old'``) become one "values must be numbers" failure, and that column's range
    checks are skipped (they would only repeat it as "must be between"). Columns whose
    values all parse as numbers are converted, so the range checks see numbers.
    """
    numeric_columns = {
        kwargs["column"]
        for kind, kwargs in expectations
        if "column" in kwargs
        and ("min_value" in kwargs or "max_value" in kwargs)
        and kind.endswith("ValuesToBeBetween")
    }
    frame = frame.copy()
    failures: list[Failure] = []
    broken: set[str] = set()
    for column in sorted(numeric_columns):
        if column not in frame.columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[values.notna() & numbers.isna()]
        if bad.empty:
            frame[column] = numbers
            continue
        broken.add(column)
        examples = ", ".join(list(dict.fromkeys(repr(str(v)) for v in bad))[:_EXAMPLES])
        failures.append(
            Failure(
                dataset=name,
                expectation="values must be numbers",
                column=column,
                detail=f"{len(bad)} of {len(values)} rows are not numbers, e.g. {examples}",
            )
        )
    kept = [
        (kind, kwargs)
        for kind, kwargs in expectations
        if not (kwargs.get("column") in broken and kind.endswith("ValuesToBeBetween"))
    ]
    return frame, kept, failures


def _gx_objects(kind: str, kwargs: dict[str, Any]) -> Any:
    import great_expectations.expectations as gxe

    return getattr(gxe, kind)(**kwargs)


def validate(
    datasets: dict[str, tuple[pd.DataFrame, list[suites.Expectation]]], docs_dir: Path
) -> QualityReport:
    """Validate each named dataframe against its suite and build Data Docs in ``docs_dir``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir = Path(docs_dir).resolve()
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name="local",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("pipeline")
    report = QualityReport()
    for name, (frame, expectations) in datasets.items():
        frame, expectations, type_failures = _type_failures(name, frame, expectations)
        report.evaluated += len(type_failures)
        report.failures.extend(type_failures)
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}-suite"))
        for kind, kwargs in expectations:
            suite.add_expectation(_gx_objects(kind, kwargs))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}-validation", data=batch, suite=suite)
        )
        validated = definition.run(batch_parameters={"dataframe": frame})
        for result in validated.results:
            report.evaluated += 1
            if result.success:
                continue
            config = result.expectation_config
            if config is None:  # GX always sets it for suite runs; keep mypy honest
                continue
            kwargs = {key: value for key, value in config.kwargs.items() if key != "batch_id"}
            report.failures.append(
                Failure(
                    dataset=name,
                    expectation=_describe(config.type, kwargs),
                    column=kwargs.get("column"),
                    detail=_detail(dict(result.result or {})),
                )
            )
    # One build renders every suite and result (and the index) once; an update per
    # validation re-rendered the index and reloaded the templates each time.
    context.build_data_docs(site_names=["local"])
    index = docs_dir / "index.html"
    report.docs_index = index if index.exists() else None
    return report


def check_data_quality(raw: Path, train: Path, test: Path, report: Path) -> QualityReport:
    """Gate step: validate the raw export and the processed train/test sets.

    Writes Data Docs HTML and ``summary.json`` into ``report``; raises
    ``DataQualityError`` (one-paragraph summary) when any expectation fails.
    """
    datasets = {
        "raw": (read_raw(raw), suites.raw_suite()),
        "train": (data.load_csv(Path(train) / TRAIN_FILE), suites.processed_suite()),
        "test": (data.load_csv(Path(test) / TEST_FILE), suites.processed_suite()),
    }
    outcome = validate(datasets, Path(report))
    # summary.json travels with the report folder (the job's sandbox is deleted after a
    # successful run), so it names the Data Docs relative to itself.
    docs = outcome.docs_index.name if outcome.docs_index else None
    summary = {
        "success": outcome.success,
        "evaluated": outcome.evaluated,
        "failed": [failure.__dict__ for failure in outcome.failures],
        "data_docs": docs,
        "summary": outcome.summary(docs=f"{docs} (next to this file)" if docs else None),
    }
    (Path(report) / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if not outcome.success:
        raise DataQualityError(outcome.summary())
    return outcome
