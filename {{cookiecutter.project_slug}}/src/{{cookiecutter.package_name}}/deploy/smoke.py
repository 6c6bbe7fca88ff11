"""Smoke test a running endpoint with held-out rows of the project's data sample.

Checks, in order: every request answers 200; every response has one prediction per row
(JSON and CSV); single-row p99 latency stays under ``max_latency_ms``; and the metrics
computed from the served predictions on the held-out set agree with the registered
evaluation within ``tolerance``.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sagepipe.registry import ModelPackage

from .. import data, settings
from ..steps import preprocess

JSON_TYPE = "application/json"


@dataclass
class SmokeResult:
    """What the smoke test measured and whether it passed."""

    version: int
    rows: int
    requests: int
    p99_latency_ms: float
    served_metrics: dict[str, float]
    registered_metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (also what the history stores)."""
        return {**asdict(self), "passed": self.passed}


def held_out_rows(package: ModelPackage, root: Path | None = None) -> pd.DataFrame:
    """The test split of the shipped sample, split the way the pipeline split it."""
    params = {k.lower(): v for k, v in package.lineage.parameters.items()}
    fraction = float(params.get("testfraction", params.get("test_fraction", 0.2)))
    seed = int(params.get("seed", params.get("splitseed", 42)))
    raw = (root or settings.project_root()) / settings.load().data_dir
    frame = preprocess.clean(preprocess.read_raw(raw))
    _, test = preprocess.split(frame, fraction, seed)
    return test.reset_index(drop=True)


def registered_metrics(package: ModelPackage, s3_root: Path) -> dict[str, float]:
    """The evaluation registered with the version, flattened to ``{name: value}``."""
    report: dict[str, Any] = dict(package.metrics)
    if not report:
        uri = package.model_metrics.get("ModelQuality", {}).get("Statistics", {}).get("S3Uri", "")
        if uri.startswith("s3://"):
            path = s3_root / uri[len("s3://") :]
            if path.is_file():
                report = json.loads(path.read_text())
    block = report.get("binary_classification_metrics", report)
    flat: dict[str, float] = {}
    for name, entry in block.items():
        value: Any = entry.get("value") if isinstance(entry, dict) else entry
        try:
            flat[name] = float(value)
        except (TypeError, ValueError):
            continue
    return flat


def run(
    url: str,
    package: ModelPackage,
    rows: pd.DataFrame,
    registered: dict[str, float],
    options: dict[str, Any],
    post: Any = None,
) -> SmokeResult:
    """Send the rows to ``url`` and check status, shape, latency and metric agreement.

    ``post(url, body, content_type, accept)`` sends one request (default: HTTP; the
    SageMaker backend passes one that calls ``invoke_endpoint``).
    """
    send = post or _post
    batch_rows = int(options.get("batch_rows", 100))
    tolerance = float(options.get("tolerance", 0.02))
    max_latency = float(options.get("max_latency_ms", 1000))
    wanted = list(options.get("metrics", ["accuracy", "auc"]))
    failures: list[str] = []
    records = json.loads(rows[list(data.FEATURES)].to_json(orient="records"))
    labels: list[int] = []
    probabilities: list[float] = []
    requests = 0
    for start in range(0, len(records), batch_rows):
        chunk = records[start : start + batch_rows]
        status, body, _ = send(url, json.dumps({"instances": chunk}).encode(), JSON_TYPE, JSON_TYPE)
        requests += 1
        if status != 200:
            failures.append(
                f"rows {start}-{start + len(chunk) - 1} answered {status}: {body[:200]!r}"
            )
            break
        predictions = json.loads(body).get("predictions", [])
        if len(predictions) != len(chunk):
            failures.append(f"{len(chunk)} rows gave {len(predictions)} predictions")
            break
        labels += [int(p["label"]) for p in predictions]
        probabilities += [float(p["probability"]) for p in predictions]
    latencies = []
    for record in records[: int(options.get("latency_requests", 20))]:
        line = ",".join("" if record[name] is None else str(record[name]) for name in data.FEATURES)
        started = time.perf_counter()
        status, body, _ = send(url, line.encode(), "text/csv", "text/csv")
        latencies.append((time.perf_counter() - started) * 1000)
        requests += 1
        if status != 200 or len(body.decode().strip().splitlines()) != 1:
            failures.append(f"single-row CSV request answered {status} with {body[:100]!r}")
            break
    p99 = float(np.percentile(latencies, 99)) if latencies else math.nan
    if latencies and p99 > max_latency:
        failures.append(f"p99 latency {p99:.1f} ms is over max_latency_ms={max_latency:g}")
    served = (
        _metrics(rows[data.TARGET].to_numpy()[: len(labels)], labels, probabilities)
        if labels
        else {}
    )
    for name in wanted:
        if name not in registered:
            failures.append(
                f"the registered evaluation has no {name!r}; register the evaluation report"
            )
        elif name in served and abs(served[name] - registered[name]) > tolerance:
            failures.append(
                f"served {name} {served[name]:.4f} differs from registered {registered[name]:.4f} "
                f"by more than tolerance {tolerance:g}"
            )
    return SmokeResult(package.version, len(labels), requests, p99, served, registered, failures)


def _metrics(truth: np.ndarray, labels: list[int], probabilities: list[float]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    result = {"accuracy": float(accuracy_score(truth, labels))}
    if len(set(truth.tolist())) == 2:
        result["auc"] = float(roc_auc_score(truth, probabilities))
    return result


def _post(url: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": accept},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")
    except OSError as err:
        return 0, str(err).encode(), ""
