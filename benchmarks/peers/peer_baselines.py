"""The generated pipeline's baseline checks, in-process, for the benchmark peers.

Our pipeline baselines the data and the model (``QualityCheck`` / ``ClarifyCheck`` steps:
data quality, data bias, model quality, model bias, SHAP). So that the peers do the same
work, their last step calls this: it builds the project's own pipeline graph, takes each
check's configuration from it (the Model Monitor environment, Clarify's
``analysis_config.json``) and runs the same library functions the local executor runs
(``sagepipe.monitor.container.run``, ``sagepipe.clarify.job.run``) on the peer's folders,
with the model served in-process by the project's handler as our executor serves it.
The harness copies this file next to each peer.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

_OUTPUT = re.compile(r"Outputs\['(\w+)'\]")


def _folder(work: Path, expression: Any) -> Path:
    """The peer folder of a step output (``prep.outputs.train`` -> ``work/train``)."""
    found = _OUTPUT.search(str(getattr(expression, "path", "")))
    if found is None:
        raise ValueError(f"{expression!r} is not a step output the peers write to a folder")
    return work / found.group(1)


def compute_baselines(package: str, work: Path) -> dict[str, str]:
    """Run every check of ``package``'s pipeline on ``work``; return check -> output folder."""
    from sagepipe.clarify.endpoint import LocalEndpoint
    from sagepipe.clarify.job import run as clarify
    from sagepipe.clarify_check import ClarifyCheck
    from sagepipe.monitor.container import run as monitor
    from sagepipe.quality_check import QualityCheck
    from sagepipe.serving import load_handler

    pipeline = importlib.import_module(f"{package}.pipeline").build_pipeline()
    endpoint = None
    written: dict[str, str] = {}
    for step in pipeline.steps:
        out = work / "baselines" / step.name
        if isinstance(step, QualityCheck):
            config = step.config
            out.mkdir(parents=True, exist_ok=True)
            monitor(
                {
                    "dataset_source": str(_folder(work, config.baseline_dataset)),
                    "output_path": str(out),
                    "dataset_format": json.dumps(config.dataset_format),
                    **config.environment(),
                }
            )
        elif isinstance(step, ClarifyCheck):
            config_file = work / "baselines" / f"{step.name}.analysis_config.json"
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_bytes(step.analysis_config_bytes())
            model = getattr(step.config, "model", None)
            if model is not None and endpoint is None:
                # Training wrote code/inference.py beside the model: the serving handler.
                endpoint = LocalEndpoint(load_handler(work / "model"))
            clarify(
                config_file,
                _folder(work, step.config.data_config.s3_data_input_path),
                out,
                model=endpoint if model is not None else None,
            )
        else:
            continue
        written[step.name] = str(out)
    return written
