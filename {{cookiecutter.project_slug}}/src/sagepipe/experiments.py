"""Experiments: compare runs side by side, parameters and metrics, and plot a metric.

``runs compare A B [...]`` reads the run history (``runs.db``): each execution's
parameters and the metrics its steps reported (see ``sagepipe.local.run_metrics``).
``--plot FILE`` writes an HTML page with an SVG line chart of ``--metric`` across the
runs, in the order given.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click


def comparison(workspace: Path, ids: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per execution: id, status, started, parameters, metrics."""
    from .local.history import RunHistory
    from .local.run_metrics import RunMetrics

    history = RunHistory(workspace / "runs.db")
    metrics = RunMetrics(workspace / "runs.db")
    try:
        rows = []
        for wanted in ids:
            record = history.get_execution(wanted)
            if record is None:
                raise LookupError(
                    f"no execution {wanted!r} in {workspace / 'runs.db'}; list them with `runs`"
                )
            rows.append(
                {
                    "id": record.id,
                    "status": record.status,
                    "started": record.started,
                    "parameters": dict(record.parameters),
                    "metrics": metrics.get(record.id),
                }
            )
        return rows
    finally:
        metrics.close()


def render_table(rows: list[dict[str, Any]]) -> str:
    """Parameters then metrics as rows, runs as columns; differing values marked ``*``."""
    names = [("status", "status")]
    names += [("parameters", k) for k in sorted({k for r in rows for k in r["parameters"]})]
    names += [("metrics", k) for k in sorted({k for r in rows for k in r["metrics"]})]
    header = ["", *[r["id"] for r in rows]]
    body = []
    for section, key in names:
        values = [r[section] if section == "status" else r[section].get(key, "-") for r in rows]
        shown = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in values]
        mark = "*" if len(set(shown)) > 1 else " "
        label = (
            key
            if section == "status"
            else f"{section[:-1] if section == 'metrics' else 'param'} {key}"
        )
        body.append([f"{mark}{label}", *shown])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *body]
    ]
    return "\n".join(line.rstrip() for line in lines)


def render_plot(rows: list[dict[str, Any]], metric: str) -> str:
    """An HTML page with an SVG line chart of ``metric`` across ``rows``."""
    points = [(r["id"], r["metrics"].get(metric)) for r in rows]
    values = [v for _, v in points if isinstance(v, (int, float))]
    if not values:
        raise LookupError(f"no run among these recorded the metric {metric!r}")
    width, height, pad = 640, 300, 50
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = []
    parts = [f'<svg width="{width}" height="{height + 80}" role="img">']
    for i, (run, value) in enumerate(points):
        x = pad + i * step
        if isinstance(value, (int, float)):
            y = height - pad - (value - low) / span * (height - 2 * pad)
            coords.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1f77b4"><title>'
                f"{html.escape(run)}: {value:.6g}</title></circle>"
                f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="10" text-anchor="middle">'
                f"{value:.4g}</text>"
            )
        parts.append(
            f'<text x="{x:.1f}" y="{height - pad + 16}" font-size="9" text-anchor="end" '
            f'transform="rotate(-30 {x:.1f} {height - pad + 16})">{html.escape(run)}</text>'
        )
    parts.insert(1, f'<polyline fill="none" stroke="#1f77b4" points="{" ".join(coords)}"/>')
    parts.append("</svg>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(metric)}"
        f"</title></head><body style='font-family:sans-serif'><h1>{html.escape(metric)} "
        f"across runs</h1>{''.join(parts)}</body></html>"
    )


def make_compare_command(workspace_default: Any) -> click.Command:
    """``runs compare A B [...] [--metric NAME --plot FILE] [--json]``."""

    @click.command(name="compare")
    @click.argument("executions", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.option("--metric", default="accuracy", show_default=True, help="Metric to plot.")
    @click.option(
        "--plot",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write an HTML line chart of --metric across the runs here.",
    )
    @click.option(
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
    )
    def compare(
        executions: tuple[str, ...],
        as_json: bool,
        metric: str,
        plot: Path | None,
        workspace: Path | None,
    ) -> None:
        """Parameters and metrics of runs side by side (differences marked with *)."""
        root = workspace or workspace_default()
        try:
            rows = comparison(root, executions)
            page = render_plot(rows, metric) if plot is not None else None
        except LookupError as err:
            click.echo(f"error: {err}", err=True)
            raise click.exceptions.Exit(2) from None
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        else:
            click.echo(render_table(rows))
        if plot is not None and page is not None:
            plot.parent.mkdir(parents=True, exist_ok=True)
            plot.write_text(page, encoding="utf-8")
            click.echo(f"plot: {plot}", err=True)

    return compare
