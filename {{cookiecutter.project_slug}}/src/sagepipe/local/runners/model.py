"""Model steps (CreateModel): record the model for later Transform steps.

The records live in ``<workspace>/created-models/``, apart from ``<workspace>/models/``
(unpacked registered models), which the registry reads as evidence that models were
registered here: a pipeline that creates a model before it registers one must not look
like a workspace whose ``registry.db`` was lost.
"""

from __future__ import annotations

import json

from ..execution import CREATED_MODELS, LOCAL_ARN
from ..expressions import resolve
from ..plan import StepPlan
from ..scheduler import StepOutcome
from .base import InlineRunner, succeeded


class ModelRunner(InlineRunner):
    """Writes ``<workspace>/created-models/<name>.json``; the model's name is a step property."""

    def run(self, step: StepPlan) -> StepOutcome:
        """Record the step's primary container under the model's generated name."""
        args = resolve(step.arguments, self.session.context())
        name = self.session.job_name(step)
        containers = [dict(c) for c in args.get("Containers") or []]
        container = dict(args.get("PrimaryContainer") or (containers or [{}])[0])
        record = {
            "ModelName": name,
            "Image": container.get("Image"),
            "ModelDataUrl": container.get("ModelDataUrl"),
            "Environment": container.get("Environment") or {},
            "ExecutionRoleArn": args.get("ExecutionRoleArn"),
        }
        # Kept so that a Transform step can say why it cannot serve such a model here.
        if len(containers) > 1:
            record["Containers"] = containers
            record["InferenceExecutionConfig"] = args.get("InferenceExecutionConfig") or {
                "Mode": "Serial"
            }
        if container.get("Mode"):
            record["Mode"] = container["Mode"]
        folder = self.session.workspace / CREATED_MODELS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(record, indent=2, sort_keys=True))
        return succeeded({**record, "ModelArn": f"{LOCAL_ARN}:model/{name.lower()}"})
