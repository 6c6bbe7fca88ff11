"""What the steps of one execution share: stores, the registry, the job launcher, values.

A :class:`RunSession` is made per execution and handed to every runner; the
scheduler fills ``properties`` (what ``Get: Steps.X...`` reads) and ``inputs``
(the digests each step read, for lineage) as steps finish.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..registry import ModelRegistry
from ..storage import objects as s3
from ..storage.digest_memo import DigestMemo
from .cache import StepCache
from .execution import CREATED_MODELS, LEGACY_CREATED_MODELS, Execution
from .expressions import Context, ExpressionError, walk_path
from .launch import Launcher
from .plan import PipelinePlan, StepPlan
from .s3server import S3Endpoint
from .sandbox import JobError, python_shim
from .scheduler import StopRequest
from .warm import SHIM_FOLDER, shim_folder


class RunSession:
    """The services and shared state of one execution."""

    def __init__(
        self,
        plan: PipelinePlan,
        execution: Execution,
        *,
        use_cache: bool,
        keep_sandboxes: bool,
        runtimes: Any,
    ) -> None:
        self.plan = plan
        self.steps: Mapping[str, StepPlan] = plan.steps
        self.execution = execution
        self.workspace = execution.workspace
        self.s3_root = self.workspace / "s3"
        self.use_cache = use_cache
        self.keep_sandboxes = keep_sandboxes
        self.runtimes = runtimes
        self.stop = StopRequest()
        self.launcher = Launcher(
            self.stop, execution.log_dir / ".warm", label=execution.pipeline_name
        )
        self.cache = StepCache(self.workspace / "runs.db")
        self.digests = DigestMemo(self.workspace / "runs.db")
        self.registry = ModelRegistry.for_workspace(self.workspace)
        self.properties: dict[str, Any] = {}
        self.inputs: dict[str, Mapping[str, Mapping[str, str]]] = {}
        self.shim = python_shim(execution.log_dir / SHIM_FOLDER)
        # boto3 inside jobs reaches the workspace's s3/ folder through this endpoint.
        self.s3_endpoint = S3Endpoint(self.s3_root, execution.log_dir / ".s3-multipart")

    def close(self) -> None:
        """Release the stores and stop the S3 endpoint."""
        self.launcher.close()
        for store in (self.cache, self.digests, self.s3_endpoint):
            store.close()

    # -- values expressions read -----------------------------------------------------------
    def context(self) -> Context:
        """The expression context as of now (``Execution.CurrentDateTime`` included)."""
        return Context(
            parameters=self.execution.parameters,
            execution=self.execution.variables,
            step_properties=self.properties,
            read_property_file=self.read_property_file,
            read_json_uri=self.read_json_uri,
        )

    def read_json_uri(self, uri: str) -> Any:
        """The JSON document at ``uri`` in the workspace's S3 folder."""
        path = s3.uri_to_path(self.s3_root, uri)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ExpressionError(
                f"JSON document {uri} does not exist (looked at {path})"
            ) from None
        except ValueError as exc:
            raise ExpressionError(f"{uri} is not valid JSON ({exc})") from None

    def read_property_file(self, step_name: str, file_name: str) -> Any:
        """A property file a step declared, read from the output it names."""
        step = self.steps.get(step_name)
        spec = step.property_file(file_name) if step else None
        if spec is None:
            raise ExpressionError(
                f"step {step_name} declares no property file {file_name!r}: add it to the "
                "step's PropertyFiles"
            )
        props = self.properties.get(step_name)
        if props is None:
            raise ExpressionError(f"step {step_name} has not run, so {file_name} is unavailable")
        if spec.output_name is None or spec.file_path is None:
            raise KeyError("OutputName" if spec.output_name is None else "FilePath")
        uri = walk_path(
            props,
            f"ProcessingOutputConfig.Outputs['{spec.output_name}'].S3Output.S3Uri",
            what=f"property file {file_name}",
        )
        return self.read_json_uri(s3.join_uri(str(uri), str(spec.file_path)))

    # -- helpers runners share -------------------------------------------------------------
    def digest_uri(self, uri: str) -> str:
        """The content digest of the object or prefix at ``uri`` (memoised)."""
        return self.digests.tree(s3.uri_to_path(self.s3_root, uri))

    def job_name(self, step: StepPlan) -> str:
        """SageMaker-style job/model name: ``pipelines-<execution>-<step>``, 63 characters."""
        tail = re.sub(r"[^A-Za-z0-9-]", "-", step.name)
        base = f"pipelines-{self.execution.id}-"
        return base + tail[: max(1, 63 - len(base))]

    def model(self, name: str) -> dict[str, Any]:
        """The record a Model step wrote for ``name`` (``JobError`` if there is none)."""
        for folder in (CREATED_MODELS, LEGACY_CREATED_MODELS):
            # Workspaces of earlier versions kept these records in models/.
            path = self.workspace / folder / f"{name}.json"
            try:
                record: dict[str, Any] = json.loads(path.read_text())
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                break
            return record
        raise JobError(f"model {name!r} does not exist locally; create it with a Model step first")

    def shim_for(self, python: str) -> Path:
        """A ``python3`` shim folder per interpreter (the default one is made up front)."""
        if python == sys.executable:
            return self.shim
        return python_shim(shim_folder(self.execution.log_dir, python), python)
