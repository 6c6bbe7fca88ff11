"""Model cards in SageMaker's model card content schema, built from the registry.

The facts (training data digests, image, hyperparameters, metrics, lineage) come from
the registered version; what only people know (purpose, intended uses, risk rating,
caveats) comes from a TOML file the team edits. The card is validated against
SageMaker's content schema (``model-card-content.schema.json``, shipped beside this
module) before it is written, so it can be sent to ``CreateModelCard`` unchanged.
"""

from __future__ import annotations

import html
import json
import math
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA_PATH = Path(__file__).with_name("model-card-content.schema.json")
TEAM_SECTIONS = ("model_overview", "intended_uses", "business_details", "additional_information")


class ModelCardError(ValueError):
    """A card that cannot be built or does not validate; the message says how to fix it."""


def load_team_file(path: Path) -> dict[str, Any]:
    """The team's sections from ``path`` (TOML); unknown sections are refused."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(
            f"{path}: no model card file; create it with the sections {', '.join(TEAM_SECTIONS)}"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ModelCardError(f"{path} is not valid TOML ({err}); fix the file") from None
    unknown = sorted(set(raw) - set(TEAM_SECTIONS))
    if unknown:
        raise ModelCardError(
            f"{path}: unknown section(s) {', '.join(unknown)}; use {', '.join(TEAM_SECTIONS)}"
        )
    return raw


def _text(value: Any, limit: int = 1024) -> str:
    return str(value)[:limit]


def _numbers(document: dict[str, Any]) -> list[tuple[str, float]]:
    """(name, value) of every finite ``{"value": number}`` metric in an evaluation report."""
    found = []
    for group in document.values() if isinstance(document, dict) else []:
        if not isinstance(group, dict):
            continue
        for name, metric in group.items():
            value = metric.get("value") if isinstance(metric, dict) else None
            if isinstance(value, (int, float)) and math.isfinite(value):
                found.append((name, float(value)))
    return found


def build_card(package: Any, team: dict[str, Any]) -> dict[str, Any]:
    """The card content of a registered ``package`` (a ``ModelPackage``)."""
    lineage = package.lineage
    extra = lineage.extra or {}
    overview = dict(team.get("model_overview", {}))
    if package.model_data_url:
        overview["model_artifact"] = [package.model_data_url]
    overview.setdefault("model_description", package.description or f"{package.group} model")
    containers = package.inference_specification.get("Containers") or []
    images = [str(c["Image"]) for c in containers if c.get("Image")] or (
        [package.image] if package.image else []
    )
    datasets = [
        f"{name} sha256:{digest}" for name, digest in sorted(extra.get("DataInputs", {}).items())
    ]
    metrics = [
        {"name": name, "value": value}
        for name, value in sorted(lineage.metrics.items())
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ]
    training = {
        "training_job_details": {
            "training_arn": _text(f"{lineage.pipeline_name}/{lineage.execution_id}"),
            "training_datasets": datasets[:15],
            "training_environment": {"container_image": images[:15]},
            "training_metrics": metrics[:50],
            "hyper_parameters": [
                {"name": str(k), "value": _text(v, 255)}
                for k, v in sorted(lineage.parameters.items())
            ][:100],
        }
    }
    evaluation = extra.get("Evaluation") or {}
    evaluations = []
    simple = [
        {"name": name, "type": "number", "value": value} for name, value in _numbers(evaluation)
    ]
    if simple:
        evaluations.append(
            {
                "name": "test set evaluation",
                "evaluation_observation": "Metrics of the Evaluate step on the held-out test set.",
                "datasets": [d for d in datasets if "test" in d][:10],
                "metadata": {"source": _text(extra.get("StatisticsUri") or "evaluation.json")},
                "metric_groups": [{"name": "binary_classification_metrics", "metric_data": simple}],
            }
        )
    additional = dict(team.get("additional_information", {}))
    custom = {
        "model_package_arn": package.arn,
        "model_package_version": str(package.version),
        "approval_status": package.approval_status,
        "pipeline_execution_id": str(lineage.execution_id),
        "data_digest": str(lineage.data_digest),
        "code_digest": str(lineage.code_digest),
        "git_commit": str(lineage.git_commit),
    }
    for section in ("ModelDataQuality", "ModelQuality", "Bias", "Explainability"):
        block = package.drift_check_baselines.get(section) or package.model_metrics.get(section)
        for kind, source in (block or {}).items():
            if isinstance(source, dict) and source.get("S3Uri"):
                custom[f"{section}.{kind}"] = _text(source["S3Uri"])
    additional["custom_details"] = {**dict(additional.get("custom_details", {})), **custom}
    card: dict[str, Any] = {
        "model_overview": overview,
        "intended_uses": dict(team.get("intended_uses", {})),
        "business_details": dict(team.get("business_details", {})),
        "training_details": training,
        "evaluation_details": evaluations,
        "additional_information": additional,
    }
    return {k: v for k, v in card.items() if v}


def validate(card: dict[str, Any]) -> None:
    """Raise ``ModelCardError`` naming the first field that breaks SageMaker's schema."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(card)"
        raise ModelCardError(
            f"model card field {where}: {first.message}; fix it in the model card file"
        )


def render_html(card: dict[str, Any], title: str) -> str:
    """A readable page of the card: one table per section."""
    esc = html.escape

    def rows(value: Any) -> str:
        if isinstance(value, dict):
            return "".join(
                f"<tr><th>{esc(str(k))}</th><td>{rows(v)}</td></tr>" for k, v in value.items()
            ).join(("<table>", "</table>"))
        if isinstance(value, list):
            return "<ul>" + "".join(f"<li>{rows(v)}</li>" for v in value) + "</ul>"
        return esc(str(value))

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left;vertical-align:top}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for section, content in card.items():
        parts.append(f"<h2>{esc(section.replace('_', ' '))}</h2>{rows(content)}")
    parts.append("</body></html>")
    return "\n".join(parts)
