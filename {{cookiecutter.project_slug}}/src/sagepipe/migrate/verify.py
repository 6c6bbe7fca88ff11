"""Check a migration: run the notebook and the migrated pipeline, compare what they make.

The notebook runs top to bottom in a fresh kernel (nbclient, a time limit per cell), with
a probe after each step's last cell that records the type and shape of the values the
step hands on, and the metrics at the end. The pipeline runs through the local executor
(the compiled definition, as on SageMaker) or, with ``runner="direct"``, by calling the
step functions in order. The first step whose outputs differ is where the mismatch starts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import MigrationError, require
from .apply import load_migration
from .build import Migration
from .generate import Layout, camel, input_folder, output_folder
from .project import Project
from .stepio import EVALUATION_FILE, describe_value, load_value

_PIP_LINE = re.compile(
    r"^(\s*)([!%]\s*(?:python\s+-m\s+)?(?:pip3?|conda|mamba)\s+install\b.*)$", re.M
)
_PROBE = """\
def __migrate_probe(__path, __record):
    import json as __json
    def __shape(__value):
        __s = getattr(__value, "shape", None)
        if __s is not None and not callable(__s):
            return {"type": type(__value).__name__, "shape": [int(n) for n in __s]}
        if isinstance(__value, (list, tuple, dict, set)):
            return {"type": type(__value).__name__, "shape": [len(__value)]}
        return {"type": type(__value).__name__, "shape": None}
    def __plain(__value):
        if isinstance(__value, dict):
            return {str(k): __plain(v) for k, v in __value.items()}
        if isinstance(__value, (list, tuple)):
            return [__plain(v) for v in __value]
        if hasattr(__value, "tolist"):
            return __plain(__value.tolist())
        if isinstance(__value, (bool, int, float, str)) or __value is None:
            return __value
        return str(__value)
    __out = {"step": __record["step"], "values": {}, "metrics": {}}
    for __name in __record["values"]:
        if __name in globals():
            __out["values"][__name] = __shape(globals()[__name])
    for __name in __record["metrics"]:
        if __name in globals():
            __out["metrics"][__name] = __plain(globals()[__name])
    with open(__path, "a") as __handle:
        __handle.write(__json.dumps(__out) + "\\n")
__migrate_probe(__PATH__, __RECORD__)
del __migrate_probe
"""


@dataclass
class Difference:
    """One value or metric that differs between the notebook and the pipeline."""

    step: str
    name: str
    notebook: Any
    pipeline: Any


@dataclass
class VerifyReport:
    """The outcome of ``migrate verify``."""

    runner: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    first_mismatch: str | None = None

    @property
    def ok(self) -> bool:
        """True when shapes and metrics agree."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "runner": self.runner,
            "first_mismatch": self.first_mismatch,
            "steps": self.steps,
            "metrics": self.metrics,
            "differences": [d.__dict__ for d in self.differences],
        }


def run_notebook(migration: Migration, timeout: int) -> dict[str, dict[str, Any]]:
    """Run the notebook with probes; return ``{step: {"values": ..., "metrics": ...}}``."""
    require("nbclient", "running the notebook")
    require("ipykernel", "running the notebook")
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    with tempfile.TemporaryDirectory(prefix="migrate-verify-") as scratch:
        record_file = Path(scratch) / "probes.jsonl"
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        last_cell = {s.cells[-1]: s for s in migration.steps}
        for cell in migration.notebook.cells:
            if cell.kind == "markdown":
                notebook.cells.append(nbformat.v4.new_markdown_cell(cell.source))
            elif cell.kind == "code":
                # Installing packages is not what verify checks, and needs the network.
                source = _PIP_LINE.sub(r"\1# (skipped by migrate verify) \2", cell.source)
                notebook.cells.append(nbformat.v4.new_code_cell(source))
                step = last_cell.get(cell.index)
                if step is not None:
                    record = {"step": step.name, "values": step.outputs, "metrics": step.metrics}
                    notebook.cells.append(
                        nbformat.v4.new_code_cell(
                            _PROBE.replace("__PATH__", repr(str(record_file))).replace(
                                "__RECORD__", repr(record)
                            )
                        )
                    )
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(migration.notebook.path.parent)}},
        )
        try:
            client.execute()
        except CellTimeoutError:
            raise MigrationError(
                f"{migration.notebook.path}: a cell ran longer than {timeout} s; raise "
                "--timeout or make the notebook use the sample data"
            ) from None
        except CellExecutionError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "error"
            raise MigrationError(
                f"{migration.notebook.path}: the notebook fails when run top to bottom "
                f"({first}); fix the notebook (out-of-order cells?) before verifying"
            ) from None
        except DeadKernelError as exc:
            raise MigrationError(f"{migration.notebook.path}: the kernel died ({exc})") from None
        results: dict[str, dict[str, Any]] = {}
        if record_file.is_file():
            for line in record_file.read_text().splitlines():
                entry = json.loads(line)
                results[entry["step"]] = entry
        return results


def run_direct(
    migration: Migration, layout: Layout, project: Project, work: Path
) -> dict[str, Path]:
    """Call the generated step functions in order; return each step's output folder."""
    src = str(project.root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    importlib.invalidate_caches()
    _forget(layout.package)  # the steps on disk now, not what an earlier import cached
    done: dict[str, Path] = {}
    for step in migration.steps:
        module_name = f"{layout.package}.steps.{layout.name}.{step.name}"
        function = getattr(importlib.import_module(module_name), step.name)
        kwargs: dict[str, Any] = {d: project.resolve(layout.data_dirs[d]) for d in step.data_inputs}
        taken = _taken(migration, step)
        for producer in step.inputs:
            kwargs[input_folder(producer, taken)] = done[producer]
        out = work / step.name
        kwargs[output_folder(step)] = out
        try:
            # What the notebook code prints is log output, not the report (which may be JSON).
            with contextlib.redirect_stdout(sys.stderr):
                function(**kwargs)
        except Exception as exc:
            raise MigrationError(
                f"migrated step {step.name!r} failed: {type(exc).__name__}: {exc}; fix "
                f"{layout.steps_dir}/{step.name}.py or the plan"
            ) from None
        done[step.name] = out
    return done


def run_executor(
    migration: Migration, layout: Layout, project: Project, work: Path
) -> dict[str, Path]:
    """Compile the generated pipeline and run it with the local executor."""
    import tarfile

    src = str(project.root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    importlib.invalidate_caches()
    from sagepipe.compile import compile_pipeline
    from sagepipe.local import execute
    from sagepipe.local.s3 import put_file, put_tree, uri_to_path

    _forget(layout.package)
    pipeline_module = importlib.import_module(f"{layout.package}.pipelines.{layout.name}")
    settings_module = importlib.import_module(f"{layout.package}.settings")
    settings = settings_module.load()
    pipeline = pipeline_module.build_pipeline(settings)
    compiled = compile_pipeline(
        pipeline,
        bucket=settings.bucket,
        prefix=settings.prefix,
        role=settings.role_arn,
        region=settings.region,
        image_uri=settings.image_uri,
    )
    s3_root = work / "workspace" / "s3"
    compiled.write_artifacts(s3_root)
    parameters = {p.name: p for p in pipeline.parameters}
    for data in migration.data_inputs:
        uri = parameters[camel(layout.name + "_" + data.name)].default
        folder = project.resolve(layout.data_dirs[data.name])
        if data.whole_folder:
            put_tree(s3_root, uri, folder)
            continue
        for file in data.files:
            put_file(s3_root, f"{uri}/{file}", folder / file)
    execution = execute(
        compiled.definition,
        workspace=work / "workspace",
        use_cache=False,
        pipeline_name=pipeline.name,
    )
    if not execution.succeeded:
        raise MigrationError(
            f"the migrated pipeline failed: {execution.failure_reason}; see "
            f"the logs in {execution.log_dir}"
        )
    done: dict[str, Path] = {}
    for step in migration.steps:
        run = execution.steps[camel(step.name)]
        properties = run.properties
        if step.role == "train":
            archive = uri_to_path(s3_root, properties["ModelArtifacts"]["S3ModelArtifacts"])
            folder = work / "unpacked" / step.name
            folder.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as tar:
                tar.extractall(folder, filter="data") if sys.version_info >= (
                    3,
                    12,
                ) else tar.extractall(folder)  # our own archive
            done[step.name] = folder
        else:
            outputs = properties["ProcessingOutputConfig"]["Outputs"]
            entry = outputs[0] if isinstance(outputs, list) else outputs[output_folder(step)]
            done[step.name] = uri_to_path(s3_root, entry["S3Output"]["S3Uri"])
    return done


def _forget(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        sys.modules.pop(name, None)


def _taken(migration: Migration, step: Any) -> set[str]:
    from .generate import _taken_names

    return _taken_names(migration, step)


def verify(
    project: Project, plan: Path, *, timeout: int = 600, runner: str = "local"
) -> VerifyReport:
    """Run both sides and compare; the report says where a mismatch starts."""
    migration, layout = load_migration(project, plan)
    for step in migration.steps:
        module = project.root / layout.steps_dir / f"{step.name}.py"
        if not module.is_file():
            raise MigrationError(
                f"{project.relative(module)} does not exist; run "
                f"`migrate apply {project.relative(plan)}` first"
            )
    expected = run_notebook(migration, timeout)
    report = VerifyReport(runner=runner)
    with tempfile.TemporaryDirectory(prefix="migrate-pipeline-") as scratch:
        work = Path(scratch)
        if runner == "direct":
            folders = run_direct(migration, layout, project, work)
        else:
            folders = run_executor(migration, layout, project, work)
        notebook_metrics: dict[str, Any] = {}
        pipeline_metrics: dict[str, Any] = {}
        for step in migration.steps:
            seen = expected.get(step.name, {"values": {}, "metrics": {}})
            row: dict[str, Any] = {"step": step.name, "values": {}}
            for name in step.outputs:
                got = describe_value(load_value(folders[step.name], name))
                want = seen["values"].get(name)
                row["values"][name] = {"notebook": want, "pipeline": got}
                if want is None or want["shape"] != got["shape"]:
                    report.differences.append(Difference(step.name, name, want, got))
            if step.metrics:
                evaluation = folders[step.name] / EVALUATION_FILE
                written = (
                    json.loads(evaluation.read_text())["metrics"] if evaluation.is_file() else {}
                )
                for name in step.metrics:
                    for key, value in _flatten(seen["metrics"].get(name), name).items():
                        notebook_metrics[key] = (step.name, value)
                    for key, value in _flatten(written.get(name), name).items():
                        pipeline_metrics[key] = (step.name, value)
            report.steps.append(row)
        for key in sorted(set(notebook_metrics) | set(pipeline_metrics)):
            step_name, want = notebook_metrics.get(key, (None, None))
            other_step, got = pipeline_metrics.get(key, (None, None))
            same = _close(want, got)
            report.metrics[key] = {"notebook": want, "pipeline": got, "same": same}
            if not same:
                report.differences.append(
                    Difference(step_name or other_step or "?", key, want, got)
                )
    order = [s.name for s in migration.steps]
    if report.differences:
        report.first_mismatch = min(
            (d.step for d in report.differences),
            key=lambda s: order.index(s) if s in order else len(order),
        )
    return report


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}"))
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def _close(want: Any, got: Any) -> bool:
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(want), float(got), rel_tol=1e-9, abs_tol=1e-12)
    return bool(want == got)
