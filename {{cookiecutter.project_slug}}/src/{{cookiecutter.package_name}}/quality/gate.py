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

    def summary(self) -> str:
        """One paragraph: how many failed, each failure, and where the Data Docs are."""
        if self.success:
            head = f"Data quality passed: all {self.evaluated} expectations met."
        else:
            listed = "; ".join(failure.sentence() for failure in self.failures)
            head = (
                f"Data quality failed: {len(self.failures)} of {self.evaluated} "
                f"expectations not met: {listed}."
            )
        docs = f" Data Docs: {self.docs_index}" if self.docs_index else ""
        return head + docs


def _describe(kind: str, kwargs: dict[str, Any]) -> str:
    words = kind.removeprefix("expect_").replace("_", " ")
    words = words.replace("column values to be", "values must be").replace(" to be ", " must be ")
    bounds = [
        f"{key}={kwargs[key]}"
        for key in ("min_value", "max_value", "value_set", "regex", "mostly", "column_list")
        if kwargs.get(key) is not None
    ]
    return words + (f" [{', '.join(bounds)}]" if bounds else "")


def _detail(result: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        distinct = dict.fromkeys(repr(value) for value in result.get("partial_unexpected_list", []))
        examples = ", ".join(list(distinct)[:_EXAMPLES])
        count = result.get("unexpected_count")
        total = result.get("element_count")
        text = f"{count} of {total} rows unexpected"
        return text + (f", e.g. {examples}" if examples else "")
    if "observed_value" in result:
        return f"observed {result['observed_value']!r}"
    return "not met"


def _gx_objects(kind: str, kwargs: dict[str, Any]) -> Any:
    import great_expectations.expectations as gxe

    return getattr(gxe, kind)(**kwargs)


def validate(
    datasets: dict[str, tuple[pd.DataFrame, list[suites.Expectation]]], docs_dir: Path
) -> QualityReport:
    """Validate each named dataframe against its suite and build Data Docs in ``docs_dir``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
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
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        suite = context.suites.add(gx.ExpectationSuite(name=f"{name}-suite"))
        for kind, kwargs in expectations:
            suite.add_expectation(_gx_objects(kind, kwargs))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}-validation", data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}-checkpoint",
                validation_definitions=[definition],
                actions=[UpdateDataDocsAction(name="data-docs")],
            )
        )
        outcome = checkpoint.run(batch_parameters={"dataframe": frame})
        for run in outcome.run_results.values():
            for result in run.results:
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
    summary = {
        "success": outcome.success,
        "evaluated": outcome.evaluated,
        "failed": [failure.__dict__ for failure in outcome.failures],
        "summary": outcome.summary(),
    }
    (Path(report) / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if not outcome.success:
        raise DataQualityError(outcome.summary())
    return outcome
