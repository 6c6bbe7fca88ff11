"""Transform steps: a batch-transform job, served in the runtime of its model's image."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...storage import objects as s3
from ..cache import InputGroups, transform_inputs
from ..execution import LOCAL_ARN
from ..image_handlers import image_handler
from ..jobenv import JobRuntime, job_runtime, with_requirements
from ..plan import StepPlan
from ..sandbox import JobError, JobPlan
from ..transform_plan import prepare_transform, script_mode_code, script_requirements
from .jobs import JobRunner


class TransformRunner(JobRunner):
    """Reads the model a Model step recorded and runs the transform job against it."""

    def content_keyed(
        self, step: StepPlan, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], InputGroups]:
        """The input data, and the model (by content) in place of its generated name."""
        model = self.session.model(str(args.get("ModelName")))
        return transform_inputs(args, model, self.session.digest_uri)

    def plan_job(
        self, step: StepPlan, args: dict[str, Any], job_dir: Path, job_name: str
    ) -> tuple[JobRuntime, JobPlan]:
        """The batch-transform job of a Transform step, served in its model's runtime."""
        session = self.session
        model = session.model(str(args.get("ModelName")))
        _refuse_unsupported(step.name, model)
        containers: list[dict[str, Any]] | None = None
        if model.get("Containers"):
            # An inference pipeline: every container in its own image's runtime.
            containers = []
            for index, raw in enumerate(model["Containers"]):
                record = dict(raw, ModelName=f"{model.get('ModelName')} container {index + 1}")
                served, handler, installed = self._serving(
                    step.name, record, f"{step.name}-{index + 1}"
                )
                containers.append(
                    {
                        "model": record,
                        "handler": handler,
                        "python": served.python,
                        "requirements_installed": installed,
                        "runtime": served,
                    }
                )
            runtime = containers[0].pop("runtime")
            records = [runtime.record] + [c.pop("runtime").record for c in containers[1:]]
            runtime = replace(runtime, record={**runtime.record, "Containers": records})
            handler, installed = containers[0]["handler"], containers[0]["requirements_installed"]
        else:
            runtime, handler, installed = self._serving(step.name, model, step.name)
        plan = prepare_transform(
            step.name,
            args,
            model,
            job_dir=job_dir,
            job_name=job_name,
            s3_root=session.s3_root,
            shim=session.shim,
            handler=handler,
            model_python=runtime.python,
            requirements_installed=installed,
            containers=containers,
        )
        return runtime, plan

    def _serving(
        self, step_name: str, model: Mapping[str, Any], folder: str
    ) -> tuple[JobRuntime, str, bool]:
        """The runtime, handler and installed requirements of one model container."""
        image = str(model.get("Image") or "")
        runtime = job_runtime(
            step_name,
            "Processing",
            {"AppSpecification": {"ImageUri": image}},
            self.session.runtimes,
        )
        # The image's own handler (XGBoost's default, scikit-learn's script mode) in the
        # image's interpreter; else code/inference.py on the serving stack of this process.
        handler = image_handler(image)
        if handler is None and runtime.python == sys.executable:
            handler = "inference.py"
        elif handler is None:
            raise JobError(
                f"step {step_name}: models on image {image} are served locally only in this "
                "interpreter's runtime; use the project image, a scikit-learn or an XGBoost "
                "image for them"
            )
        installed = False
        if handler == "sklearn":
            runtime, installed = self._requirements(step_name, model, runtime, folder)
        return runtime, handler, installed

    def _requirements(
        self, step_name: str, model: Mapping[str, Any], runtime: JobRuntime, name: str
    ) -> tuple[JobRuntime, bool]:
        """The image installs the source directory's requirements.txt before serving."""
        session = self.session
        code = script_mode_code(step_name, model, session.s3_root)
        url = str(model.get("ModelDataUrl") or "")
        archive = s3.uri_to_path(session.s3_root, url) if url.startswith("s3://") else None
        text = script_requirements(code, archive)
        if text is None or runtime.environment is None:
            return runtime, False
        # Outside the job's folder, which prepare_transform starts afresh.
        folder = session.execution.log_dir / ".requirements" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "requirements.txt").write_bytes(text)
        path = folder / "requirements.txt"
        return with_requirements(step_name, runtime, path, session.runtimes), True

    def job_properties(self, job_name: str, plan: JobPlan) -> dict[str, Any]:
        """DescribeTransformJob's name, ARN and status."""
        return {
            "TransformJobName": job_name,
            "TransformJobArn": f"{LOCAL_ARN}:transform-job/{job_name.lower()}",
            "TransformJobStatus": "Completed",
        }


def _refuse_unsupported(step_name: str, model: Mapping[str, Any]) -> None:
    """One line for the models this Transform cannot serve locally, before any work."""
    containers = model.get("Containers") or []
    mode = (model.get("InferenceExecutionConfig") or {}).get("Mode") or "Serial"
    if len(containers) > 1 and mode != "Serial":
        raise JobError(
            f"step {step_name}: model {model.get('ModelName')!r} has {len(containers)} "
            f"containers in {mode} mode, where each request names the container that answers "
            "it, which a batch transform does not send; create the model with "
            "InferenceExecutionConfig Mode Serial, or one model per container"
        )
    if model.get("Mode") == "MultiModel":
        raise JobError(
            f"step {step_name}: model {model.get('ModelName')!r} is a multi-model container "
            "(Mode MultiModel), which serves the model each request names, and a local "
            "Transform serves one model archive only; create the model with Mode SingleModel"
        )
