"""The monitoring report as one self-contained HTML page (inline SVG, no scripts).

Per feature: the baseline's and the current distribution side by side (histogram
buckets or category shares), the drift distance against its threshold, and the
feature's violations; then model quality when ground truth was given.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import MonitorResult

BASE_COLOUR = "#8da0cb"
NOW_COLOUR = "#fc8d62"
WIDTH, HEIGHT = 520, 170


def _shares(feature: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, share of values) per bucket or category of a statistics entry."""
    if "numerical_statistics" in feature:
        buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
        total = sum(b["count"] for b in buckets) or 1.0
        return [
            (f"{b['lower_bound']:.4g}..{b['upper_bound']:.4g}", b["count"] / total) for b in buckets
        ]
    buckets = feature.get("string_statistics", {}).get("distribution", {})
    items = buckets.get("categorical", {}).get("buckets", [])
    total = sum(b["count"] for b in items) or 1.0
    return [(str(b["value"]), b["count"] / total) for b in items]


def bar_chart(baseline: list[tuple[str, float]], current: list[tuple[str, float]]) -> str:
    """Grouped bars: baseline and current share for every label either one has."""
    labels = [label for label, _ in baseline]
    labels += [label for label, _ in current if label not in labels]
    if not labels:
        return "<p>no values</p>"
    base, now = dict(baseline), dict(current)
    top = max([*base.values(), *now.values(), 1e-9])
    slot = (WIDTH - 40) / len(labels)
    bar = max(slot / 2 - 2, 1)
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT + 60}" role="img" '
        'aria-label="baseline and current distribution">'
    ]
    for i, label in enumerate(labels):
        x = 30 + i * slot
        for offset, share, colour in (
            (0, base.get(label, 0.0), BASE_COLOUR),
            (bar, now.get(label, 0.0), NOW_COLOUR),
        ):
            h = HEIGHT * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{HEIGHT - h + 5:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{html.escape(label)}: '
                f"{share:.1%}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{HEIGHT + 18}" font-size="9" text-anchor="end" '
            f'transform="rotate(-35 {x + bar:.1f} {HEIGHT + 18})">{html.escape(label[:18])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: MonitorResult, *, title: str = "Model monitor") -> str:
    """The whole page."""
    esc = html.escape
    current = {f["name"]: f for f in result.statistics.get("features", [])}
    drifts = {d.feature: d for d in result.drifts}
    by_feature: dict[str, list[dict[str, str]]] = {}
    for v in result.violations:
        by_feature.setdefault(v["feature_name"], []).append(v)
    status = "no violations" if result.clean else f"{len(result.violations)} violation(s)"
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        ".bad{color:#b00}.ok{color:#070}.feature{margin-bottom:2em}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class='{'ok' if result.clean else 'bad'}'><b>{esc(status)}</b> in "
        f"{result.events} captured requests ({result.rows} rows). Legend: "
        f"<span style='color:{BASE_COLOUR}'>&#9632; baseline</span> "
        f"<span style='color:{NOW_COLOUR}'>&#9632; current</span></p>",
        "<h2>Drift</h2><table><tr><th>feature</th><th>distance</th><th>threshold</th>"
        "<th>method</th></tr>",
    ]
    for d in sorted(result.drifts, key=lambda d: -d.distance):
        css = "bad" if d.drifted else "ok"
        out.append(
            f"<tr class='{css}'><td>{esc(d.feature)}</td><td>{d.distance:.4f}</td>"
            f"<td>{d.threshold:g}</td><td>{esc(d.method)}</td></tr>"
        )
    out.append("</table>")
    others = [v for v in result.violations if v["feature_name"] not in current]
    for v in others:
        by_feature.setdefault(v["feature_name"], [])
    for feature in result.baseline_statistics.get("features", []):
        name = feature["name"]
        out.append(f"<div class='feature'><h2>{esc(name)}</h2>")
        drift = drifts.get(name)
        if drift is not None:
            out.append(f"<p>drift {drift.distance:.4f} (threshold {drift.threshold:g})</p>")
        now = current.get(name)
        out.append(bar_chart(_shares(feature), _shares(now) if now else []))
        for v in by_feature.get(name, []):
            out.append(
                f"<p class='bad'>{esc(v['constraint_check_type'])}: {esc(v['description'])}</p>"
            )
        out.append("</div>")
    extra = [v for v in result.violations if v["constraint_check_type"] == "extra_column_check"]
    if extra:
        out.append("<h2>Extra columns</h2><ul>")
        out.extend(f"<li>{esc(v['description'])}</li>" for v in extra)
        out.append("</ul>")
    if result.quality is not None:
        metrics = result.quality.get("binary_classification_metrics", {})
        out.append(
            f"<h2>Model quality</h2><p>{result.matched_rows} rows matched to ground truth</p>"
            "<table><tr><th>metric</th><th>value</th></tr>"
        )
        for metric in ("accuracy", "precision", "recall", "f1", "auc"):
            value = metrics.get(metric, {}).get("value")
            shown = f"{value:.4f}" if isinstance(value, float) else esc(str(value))
            out.append(f"<tr><td>{metric}</td><td>{shown}</td></tr>")
        out.append("</table>")
        for v in result.quality_violations:
            out.append(f"<p class='bad'>{esc(v['description'])}</p>")
    out.append("</body></html>")
    return "\n".join(out)
