"""Lineage of a registered model version, as a tree (and as JSON).

Version -> data (digests), pipeline execution and its steps, code digest and git commit,
image, baselines, the endpoints it was deployed to, and the monitoring runs that
checked traffic against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def build_lineage(
    package: Any,
    *,
    execution: Any | None = None,
    deployments: list[Any] | None = None,
    monitoring_root: Path | None = None,
) -> dict[str, Any]:
    """The lineage document of ``package`` (a ``ModelPackage``)."""
    lineage = package.lineage
    extra = lineage.extra or {}
    containers = package.inference_specification.get("Containers") or []
    baselines: dict[str, str] = {}
    for field in ("DriftCheckBaselines", "ModelMetrics"):
        sections = (
            package.drift_check_baselines
            if field == "DriftCheckBaselines"
            else (package.model_metrics)
        )
        for section, block in (sections or {}).items():
            for kind, source in (block or {}).items():
                if isinstance(source, dict) and source.get("S3Uri"):
                    baselines[f"{field}.{section}.{kind}"] = str(source["S3Uri"])
    document: dict[str, Any] = {
        "model": f"{package.group}/{package.version}",
        "arn": package.arn,
        "approval_status": package.approval_status,
        "created": package.creation_time,
        "model_data": {"url": package.model_data_url, "sha256": package.model_data_sha256},
        "image": [c.get("Image") for c in containers if c.get("Image")] or [package.image],
        "data": {"digest": lineage.data_digest, "inputs": dict(extra.get("DataInputs", {}))},
        "code": {
            "digest": lineage.code_digest,
            "inputs": dict(extra.get("CodeInputs", {})),
            "git_commit": lineage.git_commit,
            "git_dirty": extra.get("GitDirty"),
        },
        "execution": {
            "id": lineage.execution_id,
            "pipeline": lineage.pipeline_name,
            "parameters": dict(lineage.parameters),
            "steps": [
                {
                    "name": s.name,
                    "type": s.type,
                    "status": s.status,
                    "seconds": s.duration_seconds,
                    "cache_hit": s.cache_hit,
                }
                for s in (execution.steps if execution is not None else [])
            ],
        },
        "metrics": dict(lineage.metrics),
        "baselines": baselines,
        "deployments": [
            {"at": d.at, "action": d.action, "stage": d.stage, "endpoint": d.endpoint, "by": d.user}
            for d in deployments or []
            if d.version == package.version and d.model_package_group == package.group
        ],
        "monitoring": monitoring_runs(monitoring_root, f"{package.group}/{package.version}"),
    }
    return document


def monitoring_runs(root: Path | None, model: str) -> list[dict[str, Any]]:
    """Monitoring runs (their ``summary.json``) that checked traffic against ``model``."""
    if root is None or not Path(root).is_dir():
        return []
    runs = []
    for path in sorted(Path(root).glob("*/*/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if summary.get("model") != model:
            continue
        runs.append(
            {
                "stage": path.parent.parent.name,
                "run": path.parent.name,
                "rows": summary.get("rows"),
                "violations": len(summary.get("violations", []))
                + len(summary.get("model_quality_violations", [])),
                "clean": summary.get("clean"),
            }
        )
    return runs


def render_tree(document: dict[str, Any]) -> str:
    """The lineage as an indented tree for a terminal."""
    lines = [f"{document['model']}  {document['approval_status']}  created {document['created']}"]

    def branch(label: str, children: list[str]) -> None:
        lines.append(f"├── {label}")
        for i, child in enumerate(children):
            lines.append(f"│   {'└──' if i == len(children) - 1 else '├──'} {child}")

    data = document["data"]
    branch(
        f"data  digest {data['digest']}",
        [f"{k}  sha256:{v}" for k, v in sorted(data["inputs"].items())],
    )
    code = document["code"]
    dirty = " (uncommitted changes)" if code.get("git_dirty") else ""
    branch(
        f"code  digest {code['digest']}  git {code['git_commit']}{dirty}",
        [f"{k}  {v}" for k, v in sorted(code["inputs"].items())],
    )
    execution = document["execution"]
    branch(
        f"execution {execution['id']} ({execution['pipeline']})",
        [
            f"{s['name']} [{s['type']}] {s['status']}"
            + (f" {s['seconds']:.1f}s" if isinstance(s["seconds"], (int, float)) else "")
            + (" cached" if s["cache_hit"] else "")
            for s in execution["steps"]
        ]
        + [f"parameter {k}={v}" for k, v in sorted(execution["parameters"].items())],
    )
    branch("image", [str(i) for i in document["image"]])
    branch(
        f"model data {document['model_data']['url']}",
        [f"sha256 {document['model_data']['sha256']}"],
    )
    branch("metrics", [f"{k} = {v}" for k, v in sorted(document["metrics"].items())])
    branch("baselines", [f"{k}  {v}" for k, v in sorted(document["baselines"].items())])
    branch(
        "deployments",
        [
            f"{d['at']}  {d['action']} {d['stage']} ({d['endpoint']}) by {d['by']}"
            for d in document["deployments"]
        ]
        or ["never deployed"],
    )
    lines.append("└── monitoring")
    runs = document["monitoring"] or []
    for i, run in enumerate(runs):
        mark = "clean" if run["clean"] else f"{run['violations']} violation(s)"
        lines.append(
            f"    {'└──' if i == len(runs) - 1 else '├──'} {run['stage']} {run['run']}: "
            f"{run['rows']} rows, {mark}"
        )
    if not runs:
        lines.append("    └── no monitoring runs yet")
    return "\n".join(lines)
