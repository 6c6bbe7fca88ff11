"""Results of a benchmark run and their Markdown rendering for ``docs/benchmarks.md``."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psutil


@dataclass
class Row:
    """One line of the summary table: a measured ratio (or value) against its target."""

    benchmark: str
    data: str
    ours: str
    baseline: str
    result: str
    target: str
    met: bool | None  # None: no target, or not measured
    note: str = ""


@dataclass
class Section:
    """What one benchmark produced: summary rows and any detail tables."""

    title: str
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    error: str | None = None


def _met(flag: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[flag]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine() -> str:
    """One line describing the machine the numbers come from."""
    memory = psutil.virtual_memory().total / 2**30
    cpu = platform.processor() or platform.machine()
    return (
        f"{psutil.cpu_count(logical=True)} cores ({cpu}), "
        f"{memory:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine makes every number noisier."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def render(
    sections: list[Section],
    command: str,
    seconds: float,
    notes: list[str],
    load_before: str = "unknown",
) -> str:
    """Render the whole results page."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks",
        "",
        "Measured by the template's benchmark harness (`benchmarks/`), every comparison side by",
        "side in one run on one machine, reported as ratios because absolute times depend on the",
        "machine. This page is written by the harness; do not edit it by hand.",
        "",
        f"- Command: `{command}`",
        f"- Date: {now}; total bench time {seconds / 60:.1f} min",
        f"- Machine: {machine()}",
        f"- Load average (1 min) before / after the run: {load_before} / {load_average()}"
        " (above about 0.5 means other work shared the cores and the numbers are noisier)",
        "",
        "## Summary",
        "",
        "| Benchmark | Data | Ours | Baseline | Result | Target | Met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for section in sections:
        for row in section.rows:
            lines.append(
                "| "
                + " | ".join(
                    _cell(part)
                    for part in (
                        row.benchmark,
                        row.data,
                        row.ours,
                        row.baseline,
                        row.result,
                        row.target,
                        _met(row.met),
                    )
                )
                + " |"
            )
        if section.error:
            lines.append(f"| {_cell(section.title)} | - | not measured | - | - | - | - |")
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.error:
            lines += [f"Not measured: {section.error}", ""]
        for row in section.rows:
            if row.note:
                lines += [f"- {row.benchmark} ({row.data}): {row.note}"]
        if any(row.note for row in section.rows):
            lines.append("")
        for block in section.details:
            lines += [block.rstrip(), ""]
    if notes:
        lines += ["## Method", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def seconds(value: float) -> str:
    """Format a duration for the tables."""
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def ratio(value: float) -> str:
    """Format a ratio for the tables."""
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"
