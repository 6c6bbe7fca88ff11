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
import inspect
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
from .generate import OUTPUT_DATA_FOLDER, Layout, camel, input_folder, output_folder
from .project import Project
from .stepio import describe_value, load_value, read_metrics

_PIP_LINE = re.compile(
    r"^(\s*)([!%]\s*(?:python\s+-m\s+)?(?:pip3?|conda|mamba)\s+install\b.*)$", re.M
)
_PRELUDE = """\
__migrate_io = {"__name__": "__migrate_io"}
exec(compile(__SOURCE__, "sagepipe.migrate.stepio", "exec"), __migrate_io)
record_metric = __migrate_io["record_metric"]
"""
_PROBE = """\
def __migrate_probe(__path, __record):
    import json as __json
    __describe = __migrate_io["describe_value"]
    __out = {"step": __record["step"], "values": {}, "metrics": {}}
    for __name in __record["values"]:
        if __name in globals():
            __out["values"][__name] = __describe(globals()[__name])
    __containers = {n: globals()[n] for n in __record["metrics"] if n in globals()}
    __out["metrics"] = __migrate_io["collect_metrics"](__containers)
    with open(__path, "a") as __handle:
        __handle.write(__json.dumps(__out, default=str) + "\\n")
__migrate_probe(__PATH__, __RECORD__)
del __migrate_probe
"""


def notebook_sources(migration: Migration, record_file: Path) -> list[str]:
    """The notebook's code cells as verify runs them, top to bottom.

    Step cells record their metrics with the same rewrite the migrated steps use (so both
    sides name each metric alike), and after each step's last cell a probe writes the
    values it hands on and its metrics to ``record_file``.
    """
    import ast

    from .magics import strip_magics
    from .metrics import instrument

    stepio = (Path(__file__).resolve().parent / "stepio.py").read_text(encoding="utf-8")
    sources = [_PRELUDE.replace("__SOURCE__", repr(stepio))]
    step_of = {index: s for s in migration.steps for index in s.cells}
    first_cells = {s.cells[0] for s in migration.steps if s.cells}
    last_cells = {s.cells[-1]: s for s in migration.steps if s.cells}
    helpers = migration.metric_helpers
    for cell in migration.notebook.code_cells:
        clean = strip_magics(cell.source).source
        try:
            statements = ast.parse(clean).body
        except SyntaxError:
            sources.append(clean)
            continue
        step = step_of.get(cell.index)
        rewritten = []
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                statement = instrument(statement, helpers, in_helper=True)[0]
            elif step is not None:
                statement = instrument(statement, helpers)[0]
            rewritten.append(ast.unparse(statement))
        prefix = ['__migrate_io["reset_metrics"]()'] if cell.index in first_cells else []
        sources.append("\n".join(prefix + rewritten))
        if cell.index in last_cells:
            done = last_cells[cell.index]
            record = {"step": done.name, "values": done.outputs, "metrics": done.metrics}
            sources.append(
                _PROBE.replace("__PATH__", repr(str(record_file))).replace(
                    "__RECORD__", repr(record)
                )
            )
    return sources


def _read_records(record_file: Path) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    if record_file.is_file():
        for line in record_file.read_text().splitlines():
            entry = json.loads(line)
            results[entry["step"]] = entry
    return results


def run_notebook_in_process(migration: Migration) -> dict[str, dict[str, Any]]:
    """Run the notebook's code in this process (no kernel): fast, for small notebooks.

    The cells run in one fresh namespace from the notebook's folder, as a kernel would;
    magics and shell lines are left out (as the pipeline leaves them out).
    """
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="migrate-verify-") as scratch:
        record_file = Path(scratch) / "probes.jsonl"
        namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
        previous = Path.cwd()
        os.chdir(migration.notebook.path.parent)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                for number, source in enumerate(notebook_sources(migration, record_file)):
                    try:
                        exec(compile(source, f"<cell {number}>", "exec"), namespace)
                    except Exception as exc:
                        raise MigrationError(
                            f"{migration.notebook.path}: the notebook fails when run top to "
                            f"bottom ({type(exc).__name__}: {exc}); fix the notebook before "
                            "verifying"
                        ) from None
        finally:
            os.chdir(previous)
            _close_figures()
        return _read_records(record_file)


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


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
    shown: list[dict[str, Any]] = field(default_factory=list)  # numbers in saved outputs
    problem: str | None = None  # why nothing could be compared

    @property
    def ok(self) -> bool:
        """True when shapes and metrics agree and at least one metric was compared."""
        return not self.differences and self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "runner": self.runner,
            "first_mismatch": self.first_mismatch,
            "steps": self.steps,
            "metrics": self.metrics,
            "shown": self.shown,
            "problem": self.problem,
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
        for source in notebook_sources(migration, record_file):
            # Installing packages is not what verify checks, and needs the network.
            source = _PIP_LINE.sub(r"\1# (skipped by migrate verify) \2", source)
            notebook.cells.append(nbformat.v4.new_code_cell(source))
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
        return _read_records(record_file)


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
        if OUTPUT_DATA_FOLDER in inspect.signature(function).parameters:
            kwargs[OUTPUT_DATA_FOLDER] = work / f"{step.name}_output_data"  # output.tar.gz's
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
    """Prepare the generated pipeline as ``run --pipeline`` does (through the project's
    adapter: its settings, compiled code, the notebook's data staged) and run it with the
    local executor, in a scratch workspace."""
    from sagepipe.local import execute
    from sagepipe.prepare import prepare_run
    from sagepipe.project import ProjectError, load_adapter
    from sagepipe.storage import archives
    from sagepipe.storage.objects import uri_to_path

    importlib.invalidate_caches()
    _forget(layout.package)  # the modules on disk now, not what an earlier import cached
    workspace = work / "workspace"
    try:
        prepared = prepare_run(load_adapter(project.root), workspace, pipeline=layout.name)
    except ProjectError as error:
        raise MigrationError(str(error)) from None
    s3_root = workspace / "s3"
    execution = execute(
        prepared.definition,
        workspace=workspace,
        use_cache=False,
        pipeline_name=prepared.name,
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
            archives.extract(archive, folder)
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
    project: Project,
    plan: Path,
    *,
    timeout: int = 600,
    runner: str = "local",
    notebook_runner: str = "kernel",
) -> VerifyReport:
    """Run both sides and compare; the report says where a mismatch starts.

    Every metric is compared: those the notebook's code computes (recorded on both sides
    under the same key) and the numbers its saved outputs show in the cells of its steps.
    A metric missing from the pipeline, or no metric at all, fails the report.
    """
    migration, layout = load_migration(project, plan)
    for step in migration.steps:
        module = project.root / layout.steps_dir / f"{step.name}.py"
        if not module.is_file():
            raise MigrationError(
                f"{project.relative(module)} does not exist; run "
                f"`migrate apply {project.relative(plan)}` first"
            )
    if notebook_runner == "in-process":
        expected = run_notebook_in_process(migration)
    else:
        expected = run_notebook(migration, timeout)
    report = VerifyReport(runner=runner)
    with tempfile.TemporaryDirectory(prefix="migrate-pipeline-") as scratch:
        work = Path(scratch)
        if runner == "direct":
            folders = run_direct(migration, layout, project, work)
        else:
            folders = run_executor(migration, layout, project, work)
        pipeline_values: list[float] = []
        for step in migration.steps:
            if step.report:
                continue
            seen: dict[str, Any] = expected.get(step.name, {"values": {}, "metrics": {}})
            row: dict[str, Any] = {"step": step.name, "values": {}}
            for name in step.outputs:
                got = describe_value(load_value(folders[step.name], name))
                want = seen["values"].get(name)
                row["values"][name] = {"notebook": want, "pipeline": got}
                if want is None or want["shape"] != got["shape"]:
                    report.differences.append(Difference(step.name, name, want, got))
            report.steps.append(row)
            if not step.records_metrics:
                continue
            written = read_metrics(folders[step.name])
            pipeline_values.extend(_numbers(written.values()))
            wanted: dict[str, Any] = seen.get("metrics") or {}
            for key in [*wanted, *(k for k in written if k not in wanted)]:
                notebook_value, pipeline_value = wanted.get(key), written.get(key)
                same = key in wanted and key in written and _close(notebook_value, pipeline_value)
                report.metrics[key] = {
                    "step": step.name,
                    "notebook": notebook_value,
                    "pipeline": pipeline_value,
                    "same": same,
                }
                if not same:
                    report.differences.append(
                        Difference(
                            step.name,
                            key,
                            notebook_value if key in wanted else "(absent)",
                            pipeline_value if key in written else "(absent)",
                        )
                    )
        for step in migration.steps:  # the gathered report holds every metric too
            if step.report:
                gathered = read_metrics(folders[step.name])
                for key, entry in report.metrics.items():
                    if entry["pipeline"] is not None and not any(
                        k in (key, f"{entry['step']}_{key}") for k in gathered
                    ):
                        report.differences.append(
                            Difference(step.name, key, entry["pipeline"], "(absent)")
                        )
        report.shown = _shown_numbers(migration, pipeline_values)
        for entry in report.shown:
            if entry["matched"] is None:
                report.differences.append(
                    Difference(
                        entry["step"],
                        f"{entry['number']} shown by cell {entry['cell']}",
                        entry["number"],
                        "(absent)",
                    )
                )
    if not report.metrics and not report.shown:
        report.problem = (
            "no metric found: the notebook's code computes none that migrate recognises and "
            "its saved outputs show none, so nothing was compared; assign the metric to a "
            "variable (acc = accuracy_score(...)) or print it, then plan and apply again"
        )
    order = [s.name for s in migration.steps]
    if report.differences:
        report.first_mismatch = min(
            (d.step for d in report.differences),
            key=lambda s: order.index(s) if s in order else len(order),
        )
    return report


_NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?")


def _numbers(values: Any) -> list[float]:
    found: list[float] = []
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            found.append(float(value))
        elif isinstance(value, str):
            found.extend(float(n) for n in _NUMBER.findall(value))
    return found


def _shown_numbers(migration: Migration, values: list[float]) -> list[dict[str, Any]]:
    """Decimal numbers the saved outputs of metric cells show, each matched (to the shown
    precision) with a metric the pipeline wrote, or None."""
    cells = {c.index: c for c in migration.notebook.cells}
    plans = {c.index: c for c in migration.cells}
    shown: list[dict[str, Any]] = []
    for step in migration.steps:
        for index in step.cells:
            plan = plans.get(index)
            if plan is None or not (plan.metric_keys or plan.metric_containers):
                continue
            for text in cells[index].outputs:
                for match in _NUMBER.finditer(text):
                    number = match.group(0)
                    mantissa = number.lower().split("e")[0]
                    decimals = len(mantissa.split(".")[1])
                    shown_value = float(number)
                    tolerance = (
                        0.5
                        * 10.0 ** (-decimals)
                        * (
                            10.0 ** int(number.lower().split("e")[1])
                            if "e" in number.lower()
                            else 1
                        )
                    )
                    # A number shown to all 17 digits can differ in its last one from what
                    # this machine computes (the outputs were saved with other library
                    # builds): within the metrics' own 1e-9 it is the same number.
                    tolerance = max(tolerance * (1 + 1e-9), 1e-9 * abs(shown_value))
                    hit = next((v for v in values if abs(v - shown_value) <= tolerance), None)
                    shown.append(
                        {
                            "step": step.name,
                            "cell": index,
                            "number": number,
                            "matched": hit,
                        }
                    )
    return shown


def _close(want: Any, got: Any) -> bool:
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(want), float(got), rel_tol=1e-9, abs_tol=1e-12)
    return bool(want == got)
