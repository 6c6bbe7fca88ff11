"""The HTML report of an ``analysis.json``: bias metric tables and a SHAP bar chart."""

from __future__ import annotations

import html
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
    "padding:.3rem .6rem;text-align:left}td.num{text-align:right;font-variant-numeric:"
    "tabular-nums}.bar{background:#4a7bd0;height:.9rem}.err{color:#a33}"
)


def _bias_section(title: str, block: dict[str, Any]) -> str:
    parts = [
        f"<h2>{html.escape(title)}</h2>",
        f"<p>Label <code>{html.escape(str(block.get('label')))}</code>, positive when "
        f"<code>{html.escape(str(block.get('label_value_or_threshold')))}</code>.</p>",
    ]
    for facet, splits in sorted((block.get("facets") or {}).items()):
        for split in splits:
            parts.append(
                f"<h3>Facet <code>{html.escape(facet)}</code> = "
                f"<code>{html.escape(str(split.get('value_or_threshold')))}</code></h3>"
                "<table><tr><th>Metric</th><th>Description</th><th>Value</th></tr>"
            )
            for metric in split.get("metrics") or []:
                value = metric.get("value")
                cell = (
                    f"<td class=num>{value:.4f}</td>"
                    if isinstance(value, (int, float))
                    else f"<td class=err>{html.escape(str(metric.get('error', '')))}</td>"
                )
                parts.append(
                    f"<tr><td>{html.escape(str(metric['name']))}</td>"
                    f"<td>{html.escape(str(metric.get('description', '')))}</td>{cell}</tr>"
                )
            parts.append("</table>")
    return "\n".join(parts)


def _shap_section(explanations: dict[str, Any]) -> str:
    parts = ["<h2>Feature attributions (mean |SHAP|)</h2>"]
    for label, block in sorted((explanations.get("kernel_shap") or {}).items()):
        values = block.get("global_shap_values") or {}
        top = max(values.values(), default=0.0) or 1.0
        parts.append(
            f"<p>{html.escape(label)}: expected value "
            f"{float(block.get('expected_value', 0.0)):.4f}</p><table>"
        )
        for feature, value in sorted(values.items(), key=lambda kv: -kv[1]):
            width = max(1, int(300 * value / top))
            parts.append(
                f"<tr><td>{html.escape(feature)}</td><td class=num>{value:.4f}</td>"
                f'<td><div class=bar style="width:{width}px"></div></td></tr>'
            )
        parts.append("</table>")
    return "\n".join(parts)


def render_html(result: dict[str, Any], title: str = "Analysis Report") -> str:
    """A self-contained HTML page (no scripts, no external assets) of the analysis."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if result.get("pre_training_bias_metrics"):
        body.append(_bias_section("Pre-training bias", result["pre_training_bias_metrics"]))
    if result.get("post_training_bias_metrics"):
        body.append(_bias_section("Post-training bias", result["post_training_bias_metrics"]))
    if result.get("explanations"):
        body.append(_shap_section(result["explanations"]))
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
