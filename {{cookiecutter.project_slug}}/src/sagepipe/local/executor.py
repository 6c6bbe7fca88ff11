"""Execute a SageMaker pipeline definition on this machine.

The executor interprets exactly the JSON that would go to SageMaker: it resolves
parameters and expressions, orders steps by their data references and ``DependsOn``,
runs independent Processing/Training jobs in parallel subprocesses (at most one per
core), evaluates Condition and Fail steps, and registers models in the local registry.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..private import private_file
from ..registry import Lineage, ModelRegistry
from ..runtimes.table import parse_image
from . import namespace, s3
from .cache import CacheEntry, StepCache, parse_expire_after
from .containment import TIMED_OUT, remove_tree, runtime_limit, wait_within
from .digests import DigestMemo
from .expressions import (
    Context,
    ExpressionError,
    evaluate_conditions,
    resolve,
    step_references,
    to_text,
    walk_path,
)
from .history import RunHistory, StepRun
from .jobenv import JobRuntime, job_runtime
from .parameters import resolve_parameters
from .s3server import S3Endpoint
from .sandbox import (
    JobError,
    JobPlan,
    collect_results,
    failure_reason,
    prepare_processing,
    prepare_training,
    python_shim,
)
from .transform_plan import prepare_transform
from .validate import validate_definition

SUPPORTED_VERSION = "2020-12-01"
JOB_TYPES = ("Processing", "Training", "Transform")
INLINE_TYPES = ("Condition", "Fail", "RegisterModel", "QualityCheck", "ClarifyCheck", "Model")
STEP_TYPES = JOB_TYPES + INLINE_TYPES
TERMINAL = ("Succeeded", "Failed", "Stopped", "NotExecuted")
EXECUTION_ID_PATTERN = re.compile(r"exec-\d{8}-\d{6}-[0-9a-f]{6}")
LOCAL_ARN = "arn:aws:sagemaker:local:000000000000"
STOP_GRACE_SECONDS = 5.0


class DefinitionError(ValueError):
    """A definition the executor cannot run; the message names the step and the fix."""


@dataclass
class Execution:
    """The outcome of :func:`execute` (also recorded in the run history)."""

    id: str
    pipeline_name: str
    status: str  # Executing, Succeeded, Failed, Stopped
    parameters: dict[str, Any]
    started: str
    workspace: Path
    steps: dict[str, StepRun] = field(default_factory=dict)
    ended: str | None = None
    failure_reason: str | None = None
    registered: list[tuple[str, int]] = field(default_factory=list)
    # Versions a RegisterModel step found already holding the same artifact (same sha256).
    already_registered: list[tuple[str, int]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)  # from the steps' property files

    @property
    def succeeded(self) -> bool:
        """True when every executed step succeeded."""
        return self.status == "Succeeded"

    @property
    def log_dir(self) -> Path:
        """The folder with one sub-folder (sandbox + job.log) per job."""
        return self.workspace / "executions" / self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "PipelineExecutionId": self.id,
            "PipelineName": self.pipeline_name,
            "Status": self.status,
            "Parameters": self.parameters,
            "Started": self.started,
            "Ended": self.ended,
            "FailureReason": self.failure_reason,
            "Registered": [{"Group": g, "Version": v} for g, v in self.registered],
            "AlreadyRegistered": [{"Group": g, "Version": v} for g, v in self.already_registered],
            "Metrics": self.metrics,
            "Steps": [s.to_dict() for s in self.steps.values()],
        }


@dataclass(frozen=True)
class Event:
    """A progress notification: ``kind`` is ``"execution"`` or ``"step"``."""

    kind: str
    execution: Execution
    step: StepRun | None = None


@dataclass
class _StepDef:
    name: str
    type: str
    raw: dict[str, Any]
    deps: set[str]
    parent: str | None = None
    branch: bool | None = None  # which outcome of ``parent`` runs this step


@dataclass
class _JobResult:
    name: str
    status: str
    properties: dict[str, Any] = field(default_factory=dict)
    cache_hit: bool = False
    failure_reason: str | None = None
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    log_path: str | None = None  # for cache hits: the log of the run that made the outputs


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def load_definition(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Accept a definition dict, a JSON text or a path to a JSON file."""
    if isinstance(source, Mapping):
        return dict(source)
    text: str
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith("{")
    ):
        path = Path(source)
        if not path.is_file():
            raise DefinitionError(f"definition file {path} does not exist: pass a JSON file path")
        text = path.read_text()
    else:
        text = str(source)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"definition is not valid JSON ({exc}): fix the file") from None
    if not isinstance(data, dict):
        raise DefinitionError("definition must be a JSON object with 'Version' and 'Steps'")
    return data


def plan_steps(definition: Mapping[str, Any]) -> dict[str, _StepDef]:
    """Flatten the steps (Condition branches included) and find their dependencies."""
    version = definition.get("Version")
    if version != SUPPORTED_VERSION:
        raise DefinitionError(
            f"definition Version {version!r} is not supported: use {SUPPORTED_VERSION!r}"
        )
    steps: dict[str, _StepDef] = {}

    def add(raw: Mapping[str, Any], parent: str | None, branch: bool | None) -> None:
        name, kind = raw.get("Name"), raw.get("Type")
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"a step has no Name: {json.dumps(raw)[:80]}")
        if name in steps:
            raise DefinitionError(f"step name {name!r} is used twice: step names must be unique")
        if kind not in STEP_TYPES:
            raise DefinitionError(
                f"step {name} has Type {kind!r}, which runs neither locally nor here: "
                f"use one of {', '.join(STEP_TYPES)}"
            )
        deps = set(raw.get("DependsOn") or [])
        deps |= step_references(raw.get("Arguments") or {})
        # Check steps reference steps outside Arguments too (ClarifyCheck's ModelName).
        deps |= step_references({k: v for k, v in raw.items() if k != "Arguments"})
        if parent is not None:
            deps.add(parent)
        deps.discard(name)
        steps[name] = _StepDef(name, str(kind), dict(raw), deps, parent, branch)
        if kind == "Condition":
            args = raw.get("Arguments") or {}
            for child in args.get("IfSteps") or []:
                add(child, name, True)
            for child in args.get("ElseSteps") or []:
                add(child, name, False)

    raw_steps = definition.get("Steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DefinitionError("definition has no Steps: add at least one step")
    for raw in raw_steps:
        add(raw, None, None)
    for step in steps.values():
        if step.type == "Condition":
            # A condition's own dependencies come from its conditions, not its branches.
            conds = (step.raw.get("Arguments") or {}).get("Conditions") or []
            step.deps = (set(step.raw.get("DependsOn") or []) | step_references(conds)) - {
                step.name
            }
        unknown = sorted(step.deps - set(steps))
        if unknown:
            raise DefinitionError(
                f"step {step.name} depends on unknown step {unknown[0]!r}: "
                f"steps are {', '.join(sorted(steps))}"
            )
    _check_acyclic(steps)
    return steps


def _check_acyclic(steps: Mapping[str, _StepDef]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*trail[trail.index(name) :], name]
            raise DefinitionError(
                f"steps form a cycle: {' -> '.join(cycle)}; remove one of these dependencies"
            )
        state[name] = 1
        for dep in sorted(steps[name].deps):
            visit(dep, [*trail, name])
        state[name] = 2

    for name in steps:
        visit(name, [])


def _git_commit(folder: Path) -> tuple[str | None, bool | None]:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None, None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def _flatten_metrics(document: Any, prefix: str = "") -> dict[str, Any]:
    """``{"metrics": {"accuracy": {"value": 0.9}}}`` -> ``{"accuracy": 0.9}``."""
    found: dict[str, Any] = {}
    if isinstance(document, Mapping):
        value = document.get("value")
        if prefix and isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix] = value
        for key, sub in document.items():
            if isinstance(sub, Mapping):
                found.update(_flatten_metrics(sub, str(key)))
    return found


def _digest_of(mapping: Mapping[str, str]) -> str | None:
    if not mapping:
        return None
    text = "".join(f"{k}\0{v}\n" for k, v in sorted(mapping.items()))
    return hashlib.sha256(text.encode()).hexdigest()


class _Runner:
    """One execution: state, scheduling, signal handling."""

    def __init__(
        self,
        definition: dict[str, Any],
        steps: dict[str, _StepDef],
        execution: Execution,
        *,
        use_cache: bool,
        on_event: Callable[[Event], None] | None,
        max_workers: int,
        history: RunHistory,
        keep_sandboxes: bool = False,
        runtimes: Any = None,
    ) -> None:
        self.keep_sandboxes = keep_sandboxes
        self.runtimes = runtimes
        self.definition = definition
        self.steps = steps
        self.execution = execution
        self.workspace = execution.workspace
        self.s3_root = self.workspace / "s3"
        self.use_cache = use_cache
        self.on_event = on_event
        self.max_workers = max_workers
        self.history = history
        self.cache = StepCache(self.workspace / "runs.db")
        self.digests = DigestMemo(self.workspace / "runs.db")
        self.registry = ModelRegistry.for_workspace(self.workspace)
        self.properties: dict[str, dict[str, Any]] = {}
        self.outcomes: dict[str, bool] = {}
        self.inputs: dict[str, dict[str, dict[str, str]]] = {}
        self.done: queue.Queue[_JobResult] = queue.Queue()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.procs_lock = threading.RLock()  # re-entered by a second signal
        self.stop_event = threading.Event()
        self.stop_reason: str | None = None
        self.stop_time: float | None = None
        self.failure: str | None = None
        self.shim = python_shim(execution.log_dir / ".bin")
        # boto3 inside jobs reaches the workspace's s3/ folder through this endpoint.
        self.s3_endpoint = S3Endpoint(self.s3_root, execution.log_dir / ".s3-multipart")
        self.execution_vars = {
            "PipelineExecutionId": execution.id,
            "PipelineExecutionArn": (
                f"{LOCAL_ARN}:pipeline/{execution.pipeline_name}/execution/{execution.id}"
            ),
            "PipelineName": execution.pipeline_name,
            "PipelineArn": f"{LOCAL_ARN}:pipeline/{execution.pipeline_name}",
            "StartDateTime": execution.started,
            "CurrentDateTime": execution.started,
        }

    # -- events and bookkeeping ------------------------------------------------------------
    def emit(self, step: StepRun | None = None) -> None:
        if step is not None:
            self.history.update_step(self.execution.id, step)
        if self.on_event is not None:
            self.on_event(Event("step" if step else "execution", self.execution, step))

    def set_status(self, name: str, status: str, **changes: Any) -> None:
        step = self.execution.steps[name]
        step.status = status
        for key, value in changes.items():
            setattr(step, key, value)
        if status == "Executing" and step.started is None:
            step.started = _now()
        if status in TERMINAL and status != "NotExecuted":
            step.ended = _now()
            if step.started:
                start = _dt.datetime.fromisoformat(step.started)
                end = _dt.datetime.fromisoformat(step.ended)
                step.duration_seconds = round((end - start).total_seconds(), 3)
        self.emit(step)

    def context(self) -> Context:
        return Context(
            parameters=self.execution.parameters,
            execution=dict(self.execution_vars, CurrentDateTime=_now()),
            step_properties=self.properties,
            read_property_file=self.read_property_file,
            read_json_uri=self.read_json_uri,
        )

    def read_json_uri(self, uri: str) -> Any:
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
        step = self.steps.get(step_name)
        declared = (
            {p.get("PropertyFileName"): p for p in (step.raw.get("PropertyFiles") or [])}
            if step
            else {}
        )
        if file_name not in declared:
            raise ExpressionError(
                f"step {step_name} declares no property file {file_name!r}: add it to the "
                "step's PropertyFiles"
            )
        spec = declared[file_name]
        props = self.properties.get(step_name)
        if props is None:
            raise ExpressionError(f"step {step_name} has not run, so {file_name} is unavailable")
        uri = walk_path(
            props,
            f"ProcessingOutputConfig.Outputs['{spec['OutputName']}'].S3Output.S3Uri",
            what=f"property file {file_name}",
        )
        return self.read_json_uri(s3.join_uri(str(uri), str(spec["FilePath"])))

    # -- signals ---------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        first = not self.stop_event.is_set()
        self.stop_reason = self.stop_reason or reason
        self.stop_event.set()
        self.stop_time = self.stop_time or time.monotonic()
        self._signal_jobs(signal.SIGTERM if first else signal.SIGKILL)

    def _signal_jobs(self, sig: int) -> None:
        with self.procs_lock:
            procs = list(self.procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    # -- scheduling ------------------------------------------------------------------------
    def run(self) -> None:
        pending = list(self.steps)  # definition order, so output is stable
        running: set[str] = set()
        while pending or running:
            progressed = True
            while progressed:
                progressed = False
                for name in list(pending):
                    verdict = self._readiness(name)
                    if verdict == "wait":
                        continue
                    if verdict == "skip":
                        pending.remove(name)
                        self.set_status(name, "NotExecuted")
                        progressed = True
                        continue
                    step = self.steps[name]
                    if step.type in INLINE_TYPES:
                        pending.remove(name)
                        self._run_inline(step)
                        progressed = True
                    elif len(running) < self.max_workers:
                        pending.remove(name)
                        running.add(name)
                        self._launch(step)
                        progressed = True
            if not running:
                if pending:  # only possible after a stop/failure: nothing may start any more
                    for name in pending:
                        self.set_status(name, "NotExecuted")
                    pending.clear()
                break
            try:
                result = self.done.get(timeout=0.2)
            except queue.Empty:
                if self.stop_time and time.monotonic() - self.stop_time > STOP_GRACE_SECONDS:
                    self._signal_jobs(signal.SIGKILL)
                continue
            running.discard(result.name)
            self._absorb(result)

    def _readiness(self, name: str) -> str:
        if self.stop_event.is_set() or self.failure is not None:
            return "skip"
        step = self.steps[name]
        statuses = [self.execution.steps[d].status for d in step.deps]
        if any(s not in TERMINAL for s in statuses):
            return "wait"
        if any(s != "Succeeded" for s in statuses):
            return "skip"
        if step.parent is not None and self.outcomes.get(step.parent) != step.branch:
            return "skip"
        return "go"

    def _absorb(self, result: _JobResult) -> None:
        self.inputs[result.name] = result.inputs
        if result.status == "Succeeded":
            self.properties[result.name] = result.properties
            self.set_status(
                result.name,
                "Succeeded",
                cache_hit=result.cache_hit,
                log_path=result.log_path or self.execution.steps[result.name].log_path,
                properties=_summary(result.properties),
            )
        elif result.status == "Stopped" or self.stop_event.is_set():
            self.set_status(result.name, "Stopped", failure_reason=self.stop_reason)
        else:
            self.set_status(result.name, "Failed", failure_reason=result.failure_reason)
            if self.failure is None:
                self.failure = f"step {result.name} failed: {result.failure_reason}"

    # -- inline steps ----------------------------------------------------------------------
    def _run_inline(self, step: _StepDef) -> None:
        self.set_status(step.name, "Executing")
        args = step.raw.get("Arguments") or {}
        try:
            if step.type == "Condition":
                outcome = evaluate_conditions(list(args.get("Conditions") or []), self.context())
                self.outcomes[step.name] = outcome
                self.properties[step.name] = {"Outcome": "True" if outcome else "False"}
                self.set_status(step.name, "Succeeded", properties=self.properties[step.name])
            elif step.type == "Fail":
                message = to_text(resolve(args.get("ErrorMessage", ""), self.context()))
                self.set_status(step.name, "Failed", failure_reason=message)
                if self.failure is None:
                    self.failure = f"step {step.name} (Fail): {message}"
            elif step.type == "QualityCheck":
                from .quality_check import run_quality_check

                props = run_quality_check(self, step.name, resolve(step.raw, self.context()))
                self.properties[step.name] = props
                self.set_status(step.name, "Succeeded", properties=props)
            elif step.type == "ClarifyCheck":
                from .clarify_check import run_clarify_check

                props = run_clarify_check(self, step.name, resolve(step.raw, self.context()))
                self.properties[step.name] = props
                self.set_status(step.name, "Succeeded", properties=props)
            elif step.type == "Model":
                props = self._create_model(step, resolve(args, self.context()))
                self.properties[step.name] = props
                self.set_status(step.name, "Succeeded", properties=props)
            else:
                props = self._register(step, resolve(args, self.context()))
                self.properties[step.name] = props
                self.set_status(step.name, "Succeeded", properties=props)
        except (ExpressionError, OSError, ValueError, KeyError, TypeError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            self.set_status(step.name, "Failed", failure_reason=reason)
            if self.failure is None:
                self.failure = f"step {step.name} failed: {reason}"

    def _register(self, step: _StepDef, args: Mapping[str, Any]) -> dict[str, Any]:
        group = args.get("ModelPackageGroupName")
        spec = dict(args.get("InferenceSpecification") or {})
        containers = spec.get("Containers") or []
        if not group or not containers:
            raise ValueError(
                f"RegisterModel needs ModelPackageGroupName and InferenceSpecification.Containers"
                f" (got group {group!r}, {len(containers)} containers)"
            )
        model_url = containers[0].get("ModelDataUrl")
        model_path = s3.uri_to_path(self.s3_root, str(model_url)) if model_url else None
        if model_path is not None and not model_path.is_file():
            raise ValueError(
                f"ModelDataUrl {model_url} does not exist (looked at {model_path}); "
                "the training step must produce it first"
            )
        metrics_doc: Any = {}
        stats_uri = (
            ((args.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
        ).get("S3Uri")
        if stats_uri:
            stats_path = s3.uri_to_path(self.s3_root, str(stats_uri))
            if stats_path.is_file():
                metrics_doc = json.loads(stats_path.read_text())
        commit, dirty = _git_commit(self.workspace.resolve().parent)
        code, data = {}, {}
        for step_name, groups in self.inputs.items():
            for label, digest in groups.get("code", {}).items():
                code[f"{step_name}/{label}"] = digest
            for label, digest in groups.get("data", {}).items():
                data[f"{step_name}/{label}"] = digest
        lineage = Lineage(
            execution_id=self.execution.id,
            pipeline_name=self.execution.pipeline_name,
            data_digest=_digest_of(data),
            code_digest=_digest_of(code),
            git_commit=commit,
            parameters=dict(self.execution.parameters),
            metrics=_flatten_metrics(metrics_doc),
            extra={
                "Step": step.name,
                "GitDirty": dirty,
                "DataInputs": data,
                "CodeInputs": code,
                "Evaluation": metrics_doc,
                "StatisticsUri": stats_uri,
            },
        )
        # An unchanged artifact (e.g. a fully cached re-run) is not registered again: the
        # step answers with the version that already holds it.
        package, created = self.registry.register(
            str(group),
            model_data_url=str(model_url) if model_url else None,
            approval_status=str(args.get("ModelApprovalStatus") or "PendingManualApproval"),
            inference_specification=spec,
            model_metrics=dict(args.get("ModelMetrics") or {}),
            drift_check_baselines=dict(args.get("DriftCheckBaselines") or {}),
            customer_metadata=dict(args.get("CustomerMetadataProperties") or {}),
            description=str(args.get("ModelPackageDescription") or ""),
            lineage=lineage,
        )
        target = self.execution.registered if created else self.execution.already_registered
        target.append((package.group, package.version))
        return {
            "ModelPackageArn": package.arn,
            "ModelPackageGroupName": package.group,
            "ModelPackageVersion": package.version,
            "ModelApprovalStatus": package.approval_status,
        }

    def _create_model(self, step: _StepDef, args: Mapping[str, Any]) -> dict[str, Any]:
        """CreateModel: remember the model for later Transform steps; its name is a property."""
        name = self._job_name(step)
        container = dict(args.get("PrimaryContainer") or (args.get("Containers") or [{}])[0])
        record = {
            "ModelName": name,
            "Image": container.get("Image"),
            "ModelDataUrl": container.get("ModelDataUrl"),
            "Environment": container.get("Environment") or {},
            "ExecutionRoleArn": args.get("ExecutionRoleArn"),
        }
        folder = self.workspace / "models"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.json").write_text(json.dumps(record, indent=2, sort_keys=True))
        return {**record, "ModelArn": f"{LOCAL_ARN}:model/{name.lower()}"}

    def _model(self, name: str) -> dict[str, Any]:
        path = self.workspace / "models" / f"{name}.json"
        try:
            record: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            raise JobError(
                f"model {name!r} does not exist locally; create it with a Model step first"
            ) from None
        return record

    # -- jobs ------------------------------------------------------------------------------
    def _launch(self, step: _StepDef) -> None:
        try:
            args = resolve(step.raw.get("Arguments") or {}, self.context())
        except (ExpressionError, ValueError) as exc:
            self.set_status(step.name, "Executing")
            self.done.put(_JobResult(step.name, "Failed", failure_reason=str(exc)))
            return
        job_dir = self.execution.log_dir / step.name
        self.set_status(step.name, "Executing", log_path=str(job_dir / "job.log"))
        thread = threading.Thread(
            target=self._job_thread,
            args=(step, args, job_dir),
            name=f"job-{step.name}",
            daemon=True,
        )
        thread.start()

    def _job_thread(self, step: _StepDef, args: dict[str, Any], job_dir: Path) -> None:
        try:
            result = self._run_job(step, args, job_dir)
        except JobError as exc:
            result = _JobResult(step.name, "Failed", failure_reason=str(exc))
        except Exception as exc:  # report, never lose a worker silently
            result = _JobResult(step.name, "Failed", failure_reason=f"{type(exc).__name__}: {exc}")
        self.done.put(result)

    def _job_name(self, step: _StepDef) -> str:
        tail = re.sub(r"[^A-Za-z0-9-]", "-", step.name)
        base = f"pipelines-{self.execution.id}-"
        return base + tail[: max(1, 63 - len(base))]

    def _classify_inputs(
        self, step: _StepDef, args: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
        """Replace input URIs by content digests (for the cache key); sort code from data."""
        keyed = json.loads(json.dumps(args))
        raw_args = step.raw.get("Arguments") or {}
        groups: dict[str, dict[str, str]] = {"code": {}, "data": {}, "upstream": {}}

        def digest(uri: str) -> str:
            return self.digests.tree(s3.uri_to_path(self.s3_root, uri))

        if step.type == "Processing":
            for i, item in enumerate(keyed.get("ProcessingInputs") or []):
                source = item.get("S3Input")
                if not source:
                    continue
                d = digest(source["S3Uri"])
                source["S3Uri"] = f"content:{d}"
                label = item.get("InputName") or str(i)
                raw_item = (raw_args.get("ProcessingInputs") or [{}] * (i + 1))[i]
                local = str(source.get("LocalPath", ""))
                if label == "code" or local.startswith("/opt/ml/processing/input/code"):
                    groups["code"][label] = d
                elif step_references(raw_item):
                    groups["upstream"][label] = d
                else:
                    groups["data"][label] = d
        elif step.type == "Transform":
            source = ((keyed.get("TransformInput") or {}).get("DataSource") or {}).get(
                "S3DataSource"
            ) or {}
            if source.get("S3Uri"):
                d = digest(str(source["S3Uri"]))
                source["S3Uri"] = f"content:{d}"
                groups["data"]["input"] = d
            model = self._model(str(keyed.get("ModelName")))
            keyed["Model"] = {k: v for k, v in model.items() if k != "ModelName"}
            if model.get("ModelDataUrl"):
                d = digest(str(model["ModelDataUrl"]))
                keyed["Model"]["ModelDataUrl"] = f"content:{d}"
                groups["upstream"]["model"] = d
            keyed.pop("ModelName", None)
        else:
            for i, channel in enumerate(keyed.get("InputDataConfig") or []):
                source = (channel.get("DataSource") or {}).get("S3DataSource")
                if not source:
                    continue
                d = digest(source["S3Uri"])
                source["S3Uri"] = f"content:{d}"
                label = channel.get("ChannelName") or str(i)
                raw_channel = (raw_args.get("InputDataConfig") or [{}] * (i + 1))[i]
                if label in ("code", "sm_drivers"):
                    groups["code"][label] = d
                elif step_references(raw_channel):
                    groups["upstream"][label] = d
                else:
                    groups["data"][label] = d
            hps = keyed.get("HyperParameters") or {}
            submit = hps.get("sagemaker_submit_directory")
            if submit:
                uri = json.loads(submit) if submit.startswith('"') else submit
                d = digest(str(uri))
                hps["sagemaker_submit_directory"] = f"content:{d}"
                groups["code"]["sagemaker_submit_directory"] = d
        return keyed, groups

    def _cache_key(self, step: _StepDef, keyed_args: Mapping[str, Any]) -> str:
        document = {
            "Type": step.type,
            "Arguments": keyed_args,
            "PropertyFiles": step.raw.get("PropertyFiles") or [],
        }
        text = json.dumps(document, sort_keys=True, default=str)
        text = EXECUTION_ID_PATTERN.sub("<execution-id>", text)
        return hashlib.sha256(text.encode()).hexdigest()

    def _run_job(self, step: _StepDef, args: dict[str, Any], job_dir: Path) -> _JobResult:
        keyed, groups = self._classify_inputs(step, args)
        cache_config = step.raw.get("CacheConfig") or {}
        cacheable = self.use_cache and bool(cache_config.get("Enabled"))
        key = self._cache_key(step, keyed)
        if cacheable:
            entry = self.cache.lookup(
                key, expire_after=parse_expire_after(cache_config.get("ExpireAfter"))
            )
            if entry is not None and all(
                self.digests.tree(s3.uri_to_path(self.s3_root, uri)) == d
                for uri, d in entry.outputs.items()
            ):
                original_log = self.workspace / "executions" / entry.execution_id / step.name
                return _JobResult(
                    step.name,
                    "Succeeded",
                    dict(entry.properties),
                    cache_hit=True,
                    inputs=groups,
                    log_path=str(original_log / "job.log"),
                )
        if self.stop_event.is_set():
            return _JobResult(step.name, "Stopped", inputs=groups)
        job_name = self._job_name(step)
        if step.type == "Transform":
            runtime, plan = self._transform_plan(step, args, job_dir, job_name)
        else:
            runtime = job_runtime(step.name, step.type, args, self.runtimes)
            prepare = prepare_processing if step.type == "Processing" else prepare_training
            plan = prepare(
                step.name,
                args,
                job_dir=job_dir,
                job_name=job_name,
                s3_root=self.s3_root,
                shim=self._shim_for(runtime.python),
                python=runtime.python,
            )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            plan.env.pop(name, None)
        for name, value in runtime.env.items():
            if value is None:
                plan.env.pop(name, None)
            else:
                plan.env[name] = value
        plan.env.update(self.s3_endpoint.job_env(plan.job_dir))
        if not (plan.env.get("AWS_REGION") or plan.env.get("AWS_DEFAULT_REGION")):
            plan.env["AWS_DEFAULT_REGION"] = "us-east-1"
        plan.command, mount_notice = namespace.wrap(plan.command, plan.opt_ml, plan.job_dir)
        for notice in (runtime.notice, mount_notice):
            if notice:
                with open(plan.log_path, "a") as log:
                    log.write(f"notice: {notice}\n")
                if notice is mount_notice:
                    print(f"sagepipe: {notice}", file=sys.stderr)
        limit = runtime_limit(args)
        returncode = self._spawn(plan, limit)
        if self.stop_event.is_set():
            return _JobResult(step.name, "Stopped", inputs=groups)
        if returncode == TIMED_OUT:
            reason = f"stopped at StoppingCondition.MaxRuntimeInSeconds={limit:g}"
            return _JobResult(step.name, "Failed", failure_reason=reason, inputs=groups)
        if returncode != 0:
            return _JobResult(
                step.name, "Failed", failure_reason=failure_reason(plan, returncode), inputs=groups
            )
        written = collect_results(plan, self.s3_root, move=not self.keep_sandboxes)
        if not self.keep_sandboxes:
            # Outputs are uploaded; the sandbox only holds copies. Keep job.log (and keep
            # failed sandboxes, which are what one wants to inspect).
            remove_tree(plan.opt_ml, self.execution.log_dir)
            remove_tree(plan.job_dir / "staging", self.execution.log_dir)
            remove_tree(plan.job_dir / ".mountns", self.execution.log_dir)
        properties = dict(args)
        properties["Runtime"] = runtime.record
        region_arn = f"{LOCAL_ARN}"
        if step.type == "Transform":
            properties.update(
                TransformJobName=job_name,
                TransformJobArn=f"{region_arn}:transform-job/{job_name.lower()}",
                TransformJobStatus="Completed",
            )
        elif step.type == "Processing":
            properties.update(
                ProcessingJobName=job_name,
                ProcessingJobArn=f"{region_arn}:processing-job/{job_name.lower()}",
                ProcessingJobStatus="Completed",
                ExitMessage="",
            )
        else:
            properties.update(
                TrainingJobName=job_name,
                TrainingJobArn=f"{region_arn}:training-job/{job_name.lower()}",
                TrainingJobStatus="Completed",
                ModelArtifacts={"S3ModelArtifacts": plan.model_uri},
            )
        if cacheable:
            # Written last and in one transaction: a run killed before this line leaves no
            # entry, so the step simply runs again next time.
            outputs = {uri: self.digests.tree(Path(path)) for uri, path in written.items()}
            self.cache.store(
                CacheEntry(key, step.name, self.execution.id, _now(), properties, outputs)
            )
        return _JobResult(step.name, "Succeeded", properties, inputs=groups)

    def _transform_plan(
        self, step: _StepDef, args: dict[str, Any], job_dir: Path, job_name: str
    ) -> tuple[JobRuntime, JobPlan]:
        """The batch-transform job of a Transform step, served in its model's runtime."""
        model = self._model(str(args.get("ModelName")))
        image = str(model.get("Image") or "")
        runtime = job_runtime(
            step.name, "Processing", {"AppSpecification": {"ImageUri": image}}, self.runtimes
        )
        ref = parse_image(image)
        if ref is not None and ref.repository == "sagemaker-xgboost":
            handler = "xgboost"  # the image's default handler, in the image's interpreter
        elif runtime.python == sys.executable:
            handler = "inference.py"  # code/inference.py, on the serving stack of this process
        else:
            raise JobError(
                f"step {step.name}: models on image {image} are served locally only in this "
                "interpreter's runtime; use the project image or an XGBoost image for them"
            )
        plan = prepare_transform(
            step.name,
            args,
            model,
            job_dir=job_dir,
            job_name=job_name,
            s3_root=self.s3_root,
            shim=self.shim,
            handler=handler,
            model_python=runtime.python,
        )
        return runtime, plan

    def _shim_for(self, python: str) -> Path:
        """A ``python3`` shim folder per interpreter (the default one is made up front)."""
        if python == sys.executable:
            return self.shim
        tag = hashlib.sha256(python.encode()).hexdigest()[:10]
        return python_shim(self.execution.log_dir / ".bin" / tag, python)

    def _spawn(self, plan: JobPlan, limit: float | None = None) -> int:
        with open(private_file(plan.log_path), "ab") as log:
            log.write(f"$ {' '.join(plan.command)}\n".encode())
            log.flush()
            with self.procs_lock:
                if self.stop_event.is_set():
                    return -int(signal.SIGTERM)
                proc = subprocess.Popen(
                    plan.command,
                    cwd=plan.cwd,
                    env=plan.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # own process group: stop kills the whole job
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
                self.procs[plan.step_name] = proc
            try:
                return wait_within(proc, limit)
            finally:
                with self.procs_lock:
                    self.procs.pop(plan.step_name, None)


def _load_prctl() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL: Callable[..., int] | None = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the executor dies (even by SIGKILL)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def _summary(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The properties worth keeping in the history (not the whole request)."""
    keep = (
        "ProcessingJobName",
        "TrainingJobName",
        "ModelArtifacts",
        "ProcessingOutputConfig",
        "Outcome",
        "ModelPackageArn",
        "ModelName",
        "TransformJobName",
        "Runtime",
    )
    return {k: properties[k] for k in keep if k in properties}


def new_execution_id() -> str:
    """A sortable, recognisable execution id: ``exec-YYYYMMDD-HHMMSS-xxxxxx``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"exec-{stamp}-{secrets.token_hex(3)}"


def execute(
    definition: Mapping[str, Any] | str | Path,
    *,
    workspace: Path | str,
    parameters: Mapping[str, Any] | None = None,
    use_cache: bool = True,
    on_event: Callable[[Event], None] | None = None,
    pipeline_name: str = "pipeline",
    max_workers: int | None = None,
    keep_sandboxes: bool | None = None,
    runtimes: Any = None,
) -> Execution:
    """Run a pipeline definition locally and return its :class:`Execution`.

    ``parameters`` override the definition's defaults (strings are converted by the
    declared type). Invalid definitions or parameters raise ``DefinitionError`` /
    ``ParameterError`` before anything is written. A failing step does not raise: the
    returned execution has ``status == "Failed"`` and a ``failure_reason`` naming the step.
    SIGINT/SIGTERM (when called from the main thread) stop the jobs; the status is then
    ``"Stopped"``. Sandboxes of successful jobs are removed (their ``job.log`` stays)
    unless ``keep_sandboxes`` or ``$SAGEPIPE_KEEP_SANDBOXES=1``. ``runtimes`` (a
    :class:`sagepipe.runtimes.RuntimeResolver`) runs each job in its image's environment;
    without it jobs use this interpreter.
    """
    global _PRCTL
    if _PRCTL is None:
        _PRCTL = _load_prctl()
    data = load_definition(definition)
    validate_definition(data)  # the whole definition, before anything is written
    steps = plan_steps(data)
    values = resolve_parameters(list(data.get("Parameters") or []), parameters)
    workspace = Path(workspace).absolute()
    workspace.mkdir(parents=True, exist_ok=True)
    history = RunHistory(workspace / "runs.db")
    history.mark_abandoned(_now())

    execution = Execution(
        id=new_execution_id(),
        pipeline_name=pipeline_name,
        status="Executing",
        parameters=values,
        started=_now(),
        workspace=workspace,
        steps={
            name: StepRun(name=name, type=s.type, status="Pending") for name, s in steps.items()
        },
    )
    canonical = json.dumps(data, sort_keys=True).encode()
    history.start_execution(
        execution.id,
        pipeline_name=pipeline_name,
        parameters=values,
        definition_sha256=hashlib.sha256(canonical).hexdigest(),
        started=execution.started,
        steps=[(s.name, s.type) for s in steps.values()],
    )
    runner = _Runner(
        data,
        steps,
        execution,
        use_cache=use_cache,
        on_event=on_event,
        max_workers=max_workers or os.cpu_count() or 1,
        history=history,
        keep_sandboxes=(
            keep_sandboxes
            if keep_sandboxes is not None
            else os.environ.get("SAGEPIPE_KEEP_SANDBOXES") == "1"
        ),
        runtimes=runtimes,
    )
    previous = _install_signal_handlers(runner)
    try:
        runner.emit()
        try:
            runner.run()
        except KeyboardInterrupt:
            runner.request_stop("interrupted (Ctrl-C)")
            runner.run()
    except Exception as exc:  # e.g. the disk filled under the history: record Failed
        if runner.failure is None and not runner.stop_event.is_set():
            runner.failure = " ".join(f"the executor failed: {type(exc).__name__}: {exc}".split())
        runner._signal_jobs(signal.SIGKILL)  # no job outlives the run it belonged to
        raise
    finally:
        _restore_signal_handlers(previous)
        if runner.stop_event.is_set():
            execution.status = "Stopped"
            execution.failure_reason = runner.stop_reason
        elif runner.failure is not None:
            execution.status = "Failed"
            execution.failure_reason = runner.failure
        else:
            execution.status = "Succeeded"
        execution.ended = _now()
        from .run_metrics import record_execution_metrics

        execution.metrics = record_execution_metrics(runner)
        history.finish_execution(
            execution.id,
            status=execution.status,
            ended=execution.ended,
            failure_reason=execution.failure_reason,
        )
        runner.emit()
        for store in (history, runner.cache, runner.digests, runner.s3_endpoint):
            store.close()
    return execution


def _install_signal_handlers(runner: _Runner) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        runner.request_stop(f"stopped by {signal.Signals(signum).name}")

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: Mapping[int, Any]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)
