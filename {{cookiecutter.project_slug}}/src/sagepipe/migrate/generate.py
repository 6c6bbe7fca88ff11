"""Generate the code of a migration: step modules, helpers, a pipeline module and tests.

The files land in the project's one layout: the steps in ``steps/<name>/`` and the
pipeline in ``pipeline_<name>.py`` beside ``pipeline.py``, where the engine registers
every ``pipeline*.py`` alike (:mod:`sagepipe.project`). Every generated block names the
notebook cell it came from. The output is a mapping of project-relative paths to file
contents; :mod:`.apply` decides what may be written.
"""

from __future__ import annotations

import ast
import keyword
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..compile_lineage import MIGRATED_FROM
from .analysis import BUILTINS, effects, free_loads
from .build import Migration, Step
from .gate import Gate, find_gate
from .handler import PROGRAM, program_source
from .imports import import_block
from .metrics import block_name, instrument
from .rewrite import add_keyword_parameters, pass_globals, relocate_paths

_TYPES = {"int": "int", "float": "float", "str": "str", "bool": "bool"}
_PARAM_CLASS = {
    "int": "ParameterInteger",
    "float": "ParameterFloat",
    "str": "ParameterString",
    "bool": "ParameterBoolean",
}
OUTPUT_FOLDER = "output_dir"
MODEL_FOLDER = "model_dir"
OUTPUT_DATA_FOLDER = "output_data_dir"  # a Training job's output.tar.gz, beside the model
THRESHOLD_VARIABLE = "metric_threshold"  # the gate's parameter in the pipeline module


@dataclass
class Layout:
    """Where the generated files go, relative to the project root."""

    package: str
    name: str
    notebook: str  # the notebook path as the user sees it (relative to the project)
    data_dirs: dict[str, str]  # data input -> folder relative to the project (or absolute)

    @property
    def steps_dir(self) -> str:
        """The migration's steps: a folder of ``steps/``, like the project's own steps."""
        return f"src/{self.package}/steps/{self.name}"

    @property
    def pipeline_module(self) -> str:
        """``pipeline_<name>``: beside ``pipeline.py``, registered as ``<name>``."""
        return f"pipeline_{self.name}"

    @property
    def pipeline_file(self) -> str:
        """The pipeline module's path, relative to the project."""
        return f"src/{self.package}/{self.pipeline_module}.py"

    @property
    def test_file(self) -> str:
        """The generated tests' path, relative to the project."""
        return f"tests/migrated/test_{self.name}.py"


def camel(name: str) -> str:
    """``test_size`` / ``TEST_SIZE`` -> ``TestSize``."""
    return "".join(part[:1].upper() + part[1:].lower() for part in re.split(r"_+", name) if part)


def output_folder(step: Step) -> str:
    """The Path parameter a step writes into: Training steps write the model folder.

    A processing step whose notebook code has its own ``output_dir`` variable gets
    ``step_output_dir`` instead, so the notebook's variable cannot redirect the outputs.
    """
    if step.role == "train":
        return MODEL_FOLDER
    names = {n.id for _, s in step.statements for n in ast.walk(s) if isinstance(n, ast.Name)}
    return OUTPUT_FOLDER if OUTPUT_FOLDER not in names else f"step_{OUTPUT_FOLDER}"


def input_folder(producer: str, taken: set[str]) -> str:
    """Name of the Path parameter that receives a producer step's folder."""
    name = f"{producer}_dir"
    while name in taken or keyword.iskeyword(name):
        name += "_"
    return name


def generate(migration: Migration, layout: Layout) -> dict[str, str]:
    """Return ``{relative path: content}`` for every file of the migration."""
    files: dict[str, str] = {}
    steps_dir = layout.steps_dir
    files[f"{steps_dir}/__init__.py"] = (
        f'"""Steps migrated from {layout.notebook} by `migrate apply`.\n\n'
        "One module per step; values pass between steps as files (see _io.py).\n"
        '"""\n'
    )
    files[f"{steps_dir}/_io.py"] = _io_source()
    if migration.helpers:
        files[f"{steps_dir}/helpers.py"] = _helpers_module(migration, layout)
    for step in migration.steps:
        files[f"{steps_dir}/{step.name}.py"] = _step_module(migration, layout, step)
    if migration.handler is not None and migration.handler.generated:
        files[f"{steps_dir}/{PROGRAM}"] = program_source(
            migration, migration.handler, layout.notebook
        )
    if migration.baseline is not None and migration.baseline.kept:
        files[f"{steps_dir}/{migration.baseline.step}.py"] = _request_rows_module(migration, layout)
    files[layout.pipeline_file] = _pipeline_module(migration, layout)
    files[layout.test_file] = _test_module(migration, layout)
    return files


def _io_source() -> str:
    source = (Path(__file__).resolve().parent / "stepio.py").read_text(encoding="utf-8")
    return source.replace(
        '"""Pass values between migrated steps',
        '"""Pass values between migrated steps (copied from sagepipe.migrate.stepio).\n\n'
        "Pass values between migrated steps",
        1,
    )


def _import_lines(names: list[str], migration: Migration) -> list[str]:
    return sorted({migration.imports[n] for n in names if n in migration.imports})


def _statement_text(source: str, statement: ast.stmt, original: ast.stmt | None) -> str:
    if original is not None and ast.dump(original) == ast.dump(statement):
        # Whole lines, so a trailing comment stays with its statement.
        lines = source.splitlines()[original.lineno - 1 : original.end_lineno]
        if lines and original.col_offset == 0:
            return "\n".join(lines)
        segment = ast.get_source_segment(source, original)
        if segment is not None:
            return segment
    return ast.unparse(statement)


def _cell_blocks(
    migration: Migration, step: Step, rewritten: dict[int, list[ast.stmt]]
) -> list[str]:
    blocks = []
    cells = {c.index: c for c in migration.cells}
    for index in step.cells:
        cell = cells[index]
        originals = (
            {(s.lineno, s.col_offset): s for s in ast.parse(cell.source).body}
            if cell.source.strip()
            else {}
        )
        lines = cell.source.splitlines()
        count = f", execution count {cell.execution_count}" if cell.execution_count else ""
        text = [f"# --- notebook cell {index}{count} ---"]
        previous_end = 0
        for statement in rewritten.get(index, []):
            start = statement.lineno
            comments = [
                line for line in lines[previous_end : start - 1] if line.strip().startswith("#")
            ]
            text.extend(comments)
            original = originals.get((statement.lineno, statement.col_offset))
            text.append(_statement_text(cell.source, statement, original))
            previous_end = statement.end_lineno or start
        for dropped in cell.dropped:
            text.append(f"# (display only, left out: {dropped.splitlines()[0][:70]})")
        blocks.append("\n".join(text))
    return blocks


def _data_file(migration: Migration) -> Callable[[str], tuple[str, str] | None]:
    folders = {str(d.folder): d.name for d in migration.data_inputs}
    base = migration.notebook.path.parent

    def find(text: str) -> tuple[str, str] | None:
        if not text or "\n" in text or "://" in text or len(text) > 300:
            return None
        candidate = (base / text).resolve() if not Path(text).is_absolute() else Path(text)
        try:
            if candidate.is_file() and str(candidate.parent) in folders:
                return folders[str(candidate.parent)], candidate.name
        except OSError:
            return None
        return None

    return find


def metrics_block(migration: Migration) -> str:
    """The ModelMetrics block every step of this migration writes its metrics into."""
    calls = [
        n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
        for s in migration.steps
        for _, st in s.statements
        for n in ast.walk(st)
        if isinstance(n, ast.Call)
    ]
    return block_name(calls)


def _report_module(migration: Migration, layout: Layout, step: Step) -> str:
    taken = {OUTPUT_FOLDER}
    folders = {producer: input_folder(producer, taken) for producer in step.inputs}
    signature = [f"    {folder}: Path," for folder in folders.values()]
    sources = ", ".join(f"{p!r}: {f}" for p, f in folders.items())
    lines = [
        f'"""Step `{step.name}`: every metric of {layout.notebook} in one evaluation.json.',
        "",
        "Generated by `migrate apply`. The steps that compute metrics write them into their own",
        "folders (a Training step's only reach model.tar.gz); this Processing step gathers them",
        'so the pipeline\'s Condition can read them through a PropertyFile."""',
        "",
        "from __future__ import annotations",
        "",
        "from pathlib import Path",
        "",
        "from ._io import write_report",
        "",
        "",
        f"def {step.name}(",
        *signature,
        f"    {OUTPUT_FOLDER}: Path,",
        ") -> None:",
        f'    """Merge the metrics of {", ".join(step.inputs)} into evaluation.json."""',
        f"    write_report({OUTPUT_FOLDER}, {{{sources}}}, {metrics_block(migration)!r})",
    ]
    return "\n".join(lines) + "\n"


def _request_rows_module(migration: Migration, layout: Layout) -> str:
    baseline, registered = migration.baseline, migration.registration
    assert baseline is not None and registered is not None
    folder = input_folder(registered["step"], {OUTPUT_FOLDER})
    lines = [
        f'"""Step `{baseline.step}`: the rows requests to the model migrated from',
        f"{layout.notebook} carry, for its data-quality baseline.",
        "",
        f"Generated by `migrate apply`. The training step `{registered['step']}` writes them into",
        "its output.tar.gz (the job's output data, which the model archive does not carry);",
        "this Processing step copies them out so the pipeline's QualityCheck",
        "(BaselineTrainingData) can read them.",
        f"Rows: {baseline.decision.split(': ', 1)[-1]}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from pathlib import Path",
        "",
        "from ._io import copy_request_rows",
        "",
        "",
        f"def {baseline.step}({folder}: Path, {OUTPUT_FOLDER}: Path) -> None:",
        '    """Copy request-rows.csv out of the training step\'s output.tar.gz."""',
        f"    copy_request_rows({folder}, {OUTPUT_FOLDER})",
    ]
    return "\n".join(_wrap_docstring(lines)) + "\n"


def _wrap_docstring(lines: list[str]) -> list[str]:
    """Lines over the project's 100 columns, wrapped (only prose lines are that long)."""
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(line, 92) if len(line) > 92 else [line])
    return wrapped


def _step_module(migration: Migration, layout: Layout, step: Step) -> str:
    if step.report:
        return _report_module(migration, layout, step)
    out_folder = output_folder(step)
    rewritten: dict[int, list[ast.stmt]] = {}
    find = _data_file(migration)
    for index, statement in step.statements:
        statement, _ = relocate_paths(statement, find, out_folder)
        rewritten.setdefault(index, []).append(statement)
    all_statements = [s for block in rewritten.values() for s in block]
    body_names = {n for s in all_statements for n in free_loads(s)}
    body_names |= set(effects(all_statements).defines)
    taken = body_names | set(step.parameters) | {out_folder}
    folders = {producer: input_folder(producer, taken) for producer in step.inputs}
    producers = {s.name: s for s in migration.steps}
    uses_partial = any(c.uses_partial for c in migration.cells if c.index in step.cells)

    # Imports: what the step's code reads, helpers it calls, and the file helpers.
    names = [n for s in all_statements for n in free_loads(s)]
    recreations = _recreations(migration, step.recreated)
    names += [n for r in recreations for n in free_loads(r)]
    imports = _import_lines(names, migration)
    if uses_partial:
        imports.insert(0, "import functools")
    local = (["load_value"] if step.inputs else []) + (["save_value"] if step.outputs else [])
    recording = any(
        isinstance(n, ast.Name) and n.id == "record_metric"
        for s in all_statements
        for n in ast.walk(s)
    )
    if step.records_metrics:
        local += ["record_metric"] if recording else []
        local += ["reset_metrics", "write_metrics"]

    signature: list[str] = []
    for data_name in step.data_inputs:
        signature.append(f"{data_name}: Path")
    for folder in folders.values():
        signature.append(f"{folder}: Path")
    signature.append(f"{out_folder}: Path")
    if _exports_request_rows(migration, step):
        signature.append(f"{OUTPUT_DATA_FOLDER}: Path")
    parameters = {p.name: p for p in migration.parameters}
    for name in step.parameters:
        parameter = parameters[name]
        signature.append(f"{name}: {_TYPES[parameter.type]} = {parameter.value!r}")

    preamble: list[str] = [f"{out_folder}.mkdir(parents=True, exist_ok=True)"]
    if step.records_metrics:
        preamble.append("reset_metrics()  # every metric this step shows goes to evaluation.json")
    for statement in recreations:
        preamble.append(f"# re-created here: code, not data (notebook cell {statement.cell})")  # type: ignore[attr-defined]
        preamble.append(ast.unparse(statement))
    for name in step.data_paths:
        data_name, file = migration.data_path_constants[name]
        where = f"{data_name} / {file!r}" if file else data_name
        preamble.append(f"{name} = str({where})  # was a notebook constant")
    constants = {c.name: c for c in migration.constants}
    for name in step.constants:
        preamble.append(
            f"{constants[name].source}  # constant from notebook cell {constants[name].cell}"
        )
    for producer, variables in step.inputs.items():
        for variable in variables:
            preamble.append(f"{variable} = load_value({folders[producer]}, {variable!r})")

    saves = [f"save_value({out_folder}, {v!r}, {v})" for v in step.outputs]
    registered = migration.registration
    if registered and registered["step"] == step.name:
        local.append("export_model")
        saves.append(f"export_model({out_folder}, {registered['model']})  # what serving loads")
        handler = migration.handler
        if handler is not None and handler.generated:
            local.append("export_handler")
            fitted = ", ".join(f"{n!r}: {n}" for n in handler.fitted)
            used = [n for n in handler.constants if n in step.parameters]
            values = ", " + "{" + ", ".join(f"{n!r}: {n}" for n in used) + "}" if used else ""
            saves.append(
                f"export_handler({out_folder}, Path(__file__).with_name({PROGRAM!r}), "
                f"{{{fitted}}}, {handler.source}{values})  # code/inference.py replays the features"
            )
        baseline = migration.baseline
        if _exports_request_rows(migration, step):
            assert baseline is not None
            local.append("export_request_rows")
            like = f", {baseline.like}" if baseline.like else ""
            saves.append("# for the data-quality baseline: output.tar.gz, not the model archive")
            saves.append(f"export_request_rows({OUTPUT_DATA_FOLDER}, {baseline.rows}{like})")
    if step.records_metrics:
        pairs = ", ".join(f"{m!r}: {m}" for m in step.metrics)
        saves.append(f"write_metrics({out_folder}, {{{pairs}}}, {metrics_block(migration)!r})")

    reads = ", ".join(sorted({v for vs in step.inputs.values() for v in vs})) or "nothing"
    writes = ", ".join([*step.outputs, *(["evaluation.json"] if step.records_metrics else [])])
    writes = writes or "nothing"
    cells = ", ".join(str(c) for c in step.cells)
    cells_label = ("cell " if len(step.cells) == 1 else "cells ") + cells
    helper_names = sorted(set(step.helpers) & {h.name for h in migration.helpers})
    lines = [
        f'"""Step `{step.name}` ({step.role}), migrated from {layout.notebook} ({cells_label}).',
        "",
        "Generated by `migrate apply`; edit freely: applying again keeps your edits or stops",
        'with a conflict message."""',
        "",
    ]
    block = ["from __future__ import annotations", "from pathlib import Path", *imports]
    if local:
        block.append(f"from ._io import {', '.join(local)}")
    if helper_names:
        block.append(f"from .helpers import {', '.join(helper_names)}")
    lines.extend(import_block(block, {layout.package, "sagepipe"}))
    lines += ["", ""]
    lines.append(f"def {step.name}(")
    lines.extend(f"    {item}," for item in signature)
    lines.append(") -> None:")
    summary = f"Notebook {cells_label}: reads {reads}; writes {writes}."
    if len(summary) + 10 <= 100:
        lines.append(f'    """{summary}"""')
    else:  # wrapped, so the generated module passes the project's line length
        wrapped = textwrap.wrap(summary, 92)
        lines.append(f'    """{wrapped[0]}')
        lines.extend(f"    {line}" for line in wrapped[1:])
        lines.append('    """')
    body = list(preamble)
    if preamble:
        body.append("")
    body.append("\n\n".join(_cell_blocks(migration, step, rewritten)))
    if saves:
        body.append("")
        body.append("# --- values the next steps read, as files ---")
        body.extend(saves)
    lines.append(textwrap.indent("\n".join(body), "    ", lambda line: bool(line.strip())))
    del producers
    return "\n".join(lines).rstrip() + "\n"


def _exports_request_rows(migration: Migration, step: Step) -> bool:
    """Whether ``step`` is the training step that writes the baseline's request rows."""
    registered, baseline = migration.registration, migration.baseline
    return bool(
        registered
        and registered["step"] == step.name
        and baseline is not None
        and baseline.rows is not None
    )


def _recreations(migration: Migration, names: list[str]) -> list[ast.stmt]:
    """The statements that re-create ``names`` (each once, in notebook order)."""
    seen: dict[int, ast.stmt] = {}
    for name in names:
        item = migration.recreated[name]
        statement = item.statement
        statement.cell = item.cell  # type: ignore[attr-defined]
        seen.setdefault(id(statement), statement)
    return sorted(seen.values(), key=lambda s: (s.cell, s.lineno))  # type: ignore[attr-defined]


def _helpers_module(migration: Migration, layout: Layout) -> str:
    needs = {h.name: h.needs for h in migration.helpers}
    blocks: list[str] = []
    names: list[str] = []
    partial = False
    recording = False
    for helper in migration.helpers:
        measured, keys, _, _ = instrument(helper.node, migration.metric_helpers, in_helper=True)
        recording = recording or bool(keys)
        node, used_partial = pass_globals(
            measured, {k: v for k, v in needs.items() if k != helper.name}
        )
        partial = partial or used_partial
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and helper.needs:
            add_keyword_parameters(node, helper.needs)
        names.extend(free_loads(node))
        cell = next(c for c in migration.cells if c.index == helper.cell)
        original = next(
            (s for s in ast.parse(cell.source).body if getattr(s, "name", None) == helper.name),
            None,
        )
        text = _statement_text(cell.source, node, original)
        note = f"# --- notebook cell {helper.cell} ---"
        if helper.needs:
            note += f"\n# Reads the notebook globals {', '.join(helper.needs)}: now parameters."
        blocks.append(f"{note}\n{text}")
    used = [n for n in names if n not in BUILTINS]
    recreations = _recreations(
        migration, [n for n in dict.fromkeys(used) if n in migration.recreated]
    )
    used += [n for r in recreations for n in free_loads(r)]
    imports = _import_lines(used, migration)
    if partial:
        imports.insert(0, "import functools")
    if recording:
        imports.append("from ._io import record_metric")
    header = [
        f'"""Functions and classes defined in {layout.notebook}, shared by its steps.',
        "",
        "Functions that read notebook globals take them as keyword parameters now.",
        '"""',
        "",
    ]
    block = import_block(
        ["from __future__ import annotations", *imports], {layout.package, "sagepipe"}
    )
    for statement in recreations:
        block += ["", f"# re-created: code, not data (notebook cell {statement.cell})"]  # type: ignore[attr-defined]
        block.append(ast.unparse(statement))
    return "\n".join(header + block + ["", ""]) + "\n\n\n".join(blocks) + "\n"


def _pipeline_module(migration: Migration, layout: Layout) -> str:
    parameters = {p.name: p for p in migration.parameters}
    used = [p for p in migration.parameters if any(p.name in s.parameters for s in migration.steps)]
    lines = [
        f'"""Pipeline migrated from {layout.notebook} by `migrate apply`.',
        "",
        "Steps: " + " -> ".join(s.name for s in migration.steps) + ".",
        "Notebook constants are pipeline parameters; the data folders are parameters too.",
        '"""',
        "",
    ]
    api = {"Pipeline", "Processing", "ParameterString"}
    if any(s.records_metrics and s.role != "train" for s in migration.steps):
        api.add("PropertyFile")  # conditions can read the metrics with JsonGet
    api |= {_PARAM_CLASS[p.type] for p in used}
    if any(s.role == "train" for s in migration.steps):
        api.add("Training")
    if migration.registration:
        api.add("RegisterModel")
    baseline = migration.baseline if migration.baseline and migration.baseline.kept else None
    if baseline is not None:
        api |= {"DataQualityCheckConfig", "MetricsSource", "ModelMetrics", "ParameterBoolean"}
        api.add("QualityCheck")
    gate = find_gate(migration)
    if gate is not None:
        api |= {"Condition", "Fail", "Join", "JsonGet", "ParameterFloat", gate.op}
    block = [
        "from __future__ import annotations",
        f"from sagepipe import {', '.join(sorted(api))}",
        "from sagepipe.project import PipelineSettings",
    ]
    block += [f"from .steps.{layout.name}.{s.name} import {s.name}" for s in migration.steps]
    if baseline is not None:
        block.append(f"from .steps.{layout.name}.{baseline.step} import {baseline.step}")
    lines.extend(import_block(block, {layout.package, "sagepipe"}))
    lines += ["", f'NAME = "{layout.name}"']
    lines.append("# The notebook's data: parameter -> (folder in the project, files; [] = all).")
    lines.append("# `run --pipeline NAME` stages them.")
    lines.append("DATA: dict[str, tuple[str, list[str]]] = {")
    for data in migration.data_inputs:
        files = [] if data.whole_folder else data.files
        lines.append(
            f"    {camel(layout.name + '_' + data.name)!r}: "
            f"({layout.data_dirs[data.name]!r}, {files!r}),"
        )
    lines += ["}", "", ""]
    lines.append("def build_pipeline(settings: PipelineSettings) -> Pipeline:")
    lines.append(f'    """Return the pipeline migrated from {Path(layout.notebook).name}."""')
    lines.append(
        "    # Put the notebook's data files under this prefix (s3:// or the local .mlops/s3/)."
    )
    lines.append('    data_root = f"s3://{settings.bucket}/{settings.prefix}/migrated/{NAME}"')
    for data in migration.data_inputs:
        lines.append(
            f"    {data.name} = ParameterString({camel(layout.name + '_' + data.name)!r}, "
            f'default=f"{{data_root}}/{data.name}")'
        )
    for parameter in used:
        lines.append(
            f"    {parameter.name.lower()}_param = {_PARAM_CLASS[parameter.type]}("
            f"{camel(parameter.name)!r}, default={parameter.value!r})"
        )
    by_name = {s.name: s for s in migration.steps}
    for step in migration.steps:
        variable = f"{step.name}_step"
        folders: dict[str, str] = {}
        for data_name in step.data_inputs:
            folders[data_name] = data_name
        taken = _taken_names(migration, step)
        for producer in step.inputs:
            source = by_name[producer]
            reference = (
                f"{producer}_step.model_artifacts"
                if source.role == "train"
                else f"{producer}_step.outputs.{output_folder(source)}"
            )
            folders[input_folder(producer, taken)] = reference
        values = {name: f"{name.lower()}_param" for name in step.parameters if name in parameters}
        folder_text = _dict_text(folders)
        value_text = _dict_text(values)
        label = "cell" if len(step.cells) == 1 else "cells"
        lines.append(f"    # notebook {label} {', '.join(str(c) for c in step.cells)}")
        if step.records_metrics and step.role != "train":
            lines.append(
                f"    {step.name}_report = PropertyFile({camel(step.name) + 'Report'!r}, "
                f'output={output_folder(step)!r}, path="evaluation.json")'
            )
        if step.role == "train":
            lines.append(f"    {variable} = Training(")
            lines.append(f"        {camel(step.name)!r},")
            lines.append(f"        {step.name},")
            lines.append(f"        channels={folder_text},")
            lines.append(f"        hyperparameters={value_text},")
        else:
            lines.append(f"    {variable} = Processing(")
            lines.append(f"        {camel(step.name)!r},")
            lines.append(f"        {step.name},")
            lines.append(f"        inputs={folder_text},")
            lines.append(f"        outputs=[{output_folder(step)!r}],")
            lines.append(f"        arguments={value_text},")
            if step.records_metrics:
                lines.append(f"        property_files=[{step.name}_report],")
        lines.append("    )")
    step_variables = [s.name + "_step" for s in migration.steps]
    used_names: list[str] = []  # parameters the gate adds
    if migration.registration:
        reporting = [s for s in migration.steps if s.records_metrics and s.role != "train"]
        final = next((s for s in reporting if s.report), reporting[-1] if reporting else None)
        # The default pipeline registers into the project's group, so deploy, batch-transform
        # and monitoring serve it like the example model; otherwise a group of its own.
        lines.append("    model_group = settings.model_package_group")
        lines.append('    if getattr(settings, "default_pipeline", "") != NAME:')
        lines.append(f'        model_group += "-{layout.name.replace("_", "-")}"')
        if baseline is not None:
            lines.extend(_baseline_lines(baseline.step, migration.registration["step"]))
            step_variables += [f"{baseline.step}_step", DATA_QUALITY_VARIABLE]
            used_names += list(_SWITCHES)
        generated = migration.handler is not None and migration.handler.generated
        lines.append(
            "    # the notebook's model, served by "
            + (
                "code/inference.py, generated from its prediction code"
                if generated
                else "the default inference handler"
            )
        )
        lines.append("    register_step = RegisterModel(")
        lines.append('        "RegisterModel",')
        lines.append(f"        model={migration.registration['step']}_step,")
        lines.append("        group=model_group,")
        if baseline is not None:
            lines.extend(_register_metrics_lines(final.name if final is not None else None))
        elif final is not None:
            lines.append(f"        metrics={final.name}_report.uri,")
        lines.append('        content_types=["text/csv", "application/json"],')
        lines.append('        response_types=["application/json", "text/csv"],')
        lines.append("        inference_instances=[settings.inference_instance_type],")
        lines.append("        transform_instances=[settings.inference_instance_type],")
        lines.append("        image_uri=settings.image_uri,")
        if generated:
            lines.append('        inference_program="inference.py",  # the notebook\'s features')
        else:
            lines.append("        inference_program=None,  # model.joblib + the default handler")
        # The notebook it came from (lineage; `monitor` names it when there is no baseline).
        lines.append(f"        customer_metadata={{{MIGRATED_FROM!r}: {layout.notebook!r}}},")
        lines.append("    )")
        if gate is None:
            step_variables.append("register_step")
        else:
            lines.extend(_gate_lines(gate, metrics_block(migration)))
            used_names.append(THRESHOLD_VARIABLE)
            step_variables.append("check_step")
    parameter_list = (
        [d.name for d in migration.data_inputs]
        + [f"{p.name.lower()}_param" for p in used]
        + used_names
    )
    lines.append("    return Pipeline(")
    lines.append(f'        f"{{settings.pipeline_name}}-{layout.name.replace("_", "-")}",')
    lines.append(f"        parameters=[{', '.join(parameter_list)}],")
    lines.append(f"        steps=[{', '.join(step_variables)}],")
    lines.append(f'        description="Migrated from {Path(layout.notebook).name}.",')
    lines.append("    )")
    return "\n".join(lines) + "\n"


DATA_QUALITY_VARIABLE = "data_quality_check"  # the QualityCheck in the pipeline module
# SageMaker's switch pair for a data-quality check, named as in pipeline.py (variable: name).
_SWITCHES = {
    "skip_data_quality": "SkipDataQualityCheck",
    "register_data_quality": "RegisterNewDataQualityBaseline",
}


def _baseline_lines(step: str, train: str) -> list[str]:
    """The RequestRows step and the QualityCheck on its rows, as pipeline.py's
    BaselineTrainingData; they run beside the evaluation, RegisterModel waits for them."""
    skip, register = _SWITCHES
    folder = input_folder(train, {OUTPUT_FOLDER})
    return [
        "    # the rows requests carry (request-rows.csv in the training job's output.tar.gz),",
        "    # baselined for `monitor` like pipeline.py's train split (BaselineTrainingData);",
        "    # the first run skips the check and registers the new baseline, as SageMaker's",
        "    # switches say: set SkipDataQualityCheck=false to fail on drift from the",
        "    # Approved version's baseline",
        f"    {step}_step = Processing(",
        f"        {camel(step)!r},",
        f"        {step},",
        f"        inputs={{{folder!r}: {train}_step.output_data}},",
        f"        outputs=[{OUTPUT_FOLDER!r}],",
        "    )",
        f"    {skip} = ParameterBoolean({_SWITCHES[skip]!r}, default=True)",
        f"    {register} = ParameterBoolean({_SWITCHES[register]!r}, default=True)",
        f"    {DATA_QUALITY_VARIABLE} = QualityCheck(",
        '        "BaselineTrainingData",',
        f"        DataQualityCheckConfig({step}_step.outputs.{OUTPUT_FOLDER}),",
        f"        skip_check={skip},",
        f"        register_new_baseline={register},",
        "        model_package_group_name=model_group,",
        "    )",
    ]


def _register_metrics_lines(report: str | None) -> list[str]:
    """RegisterModel's ModelMetrics and DriftCheckBaselines with the data-quality baseline."""
    check = DATA_QUALITY_VARIABLE
    quality = (
        [f"            model_statistics=MetricsSource({report}_report.uri),"] if report else []
    )
    return [
        "        metrics=ModelMetrics(",
        *quality,
        f"            data_statistics=MetricsSource({check}.calculated_baseline_statistics),",
        f"            data_constraints=MetricsSource({check}.calculated_baseline_constraints),",
        "        ),",
        "        drift_check_baselines=ModelMetrics(",
        "            data_statistics=MetricsSource(",
        f"                {check}.baseline_used_for_drift_check_statistics",
        "            ),",
        "            data_constraints=MetricsSource(",
        f"                {check}.baseline_used_for_drift_check_constraints",
        "            ),",
        "        ),",
    ]


def _gate_lines(gate: Gate, block: str) -> list[str]:
    """The Condition on the evaluation report's metric: register, or Fail with the values."""
    compare = "at least" if gate.op == "ge" else "at most"
    failed = "is below the threshold" if gate.op == "ge" else "is above the threshold"
    return [
        f"    # register only if {gate.metric} is {compare} the threshold (a parameter:",
        f"    # `run --pipeline NAME --param {gate.parameter}=VALUE`); the default passes all",
        f"    {THRESHOLD_VARIABLE} = ParameterFloat("
        f"{gate.parameter!r}, default={gate.threshold:g})",
        f"    metric = JsonGet({gate.step}_report, {f'{block}.{gate.metric}.value'!r})",
        "    too_weak = Fail(",
        '        "MetricFailsThreshold",',
        "        message=Join(",
        '            on=" ",',
        "            values=[",
        f"                {gate.metric!r},",
        "                metric,",
        f"                {failed!r},",
        f"                {THRESHOLD_VARIABLE},",
        f"                {f'(parameter {gate.parameter}); nothing was registered.'!r},",
        "            ],",
        "        ),",
        "    )",
        "    check_step = Condition(",
        '        "CheckMetric",',
        f"        conditions=[{gate.op}(metric, {THRESHOLD_VARIABLE})],",
        "        if_steps=[register_step],",
        "        else_steps=[too_weak],",
        "    )",
    ]


def _dict_text(entries: dict[str, str]) -> str:
    text = "{" + ", ".join(f"{k!r}: {v}" for k, v in entries.items()) + "}"
    if len(text) <= 70:
        return text
    inner = "".join(f"            {k!r}: {v},\n" for k, v in entries.items())
    return "{\n" + inner + "        }"


def _taken_names(migration: Migration, step: Step) -> set[str]:
    statements = [s for _, s in step.statements]
    names = {n for s in statements for n in free_loads(s)} | set(effects(statements).defines)
    return names | set(step.parameters) | {output_folder(step)}


def _test_module(migration: Migration, layout: Layout) -> str:
    package = layout.package
    expected_steps = [camel(s.name) for s in migration.steps]
    baseline = migration.baseline if migration.baseline and migration.baseline.kept else None
    if baseline is not None:
        expected_steps += [camel(baseline.step), "BaselineTrainingData"]
    if migration.registration:
        expected_steps.append("RegisterModel" if find_gate(migration) is None else "CheckMetric")
    lines = [
        f'"""Tests of the steps migrated from {layout.notebook}',
        "(generated by `migrate apply`).",
        "",
        "They run every step in order on the notebook's data and check what each one hands",
        'to the next. Edit freely: applying again keeps your edits."""',
        "",
    ]
    block = [
        "from __future__ import annotations",
        "import math",
        "from pathlib import Path",
        "import pytest",
        "from sagepipe.project import load_adapter",
        f"from {package}.{layout.pipeline_module} import build_pipeline",
        f"from {package}.steps.{layout.name}._io import load_value, read_metrics",
    ]
    block += [
        f"from {package}.steps.{layout.name}.{s.name} import {s.name}" for s in migration.steps
    ]
    if baseline is not None:
        block.insert(1, "import csv")
        block.append(f"from {package}.steps.{layout.name}.{baseline.step} import {baseline.step}")
    lines.extend(import_block(block, {package, "sagepipe"}))
    lines += ["", "PROJECT = Path(__file__).resolve().parents[2]"]
    lines.append("DATA = {")
    for data_name, folder in layout.data_dirs.items():
        lines.append(f"    {data_name!r}: PROJECT / {folder!r},")
    lines.append("}")
    lines += [
        "",
        "",
        '@pytest.fixture(scope="module")',
        "def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:",
        '    """Run the migrated steps in notebook order; return each step\'s output folder."""',
        '    root = tmp_path_factory.mktemp("migrated")',
        "    done: dict[str, Path] = {}",
    ]
    for step in migration.steps:
        args = [f"{d}=DATA[{d!r}]" for d in step.data_inputs]
        taken = _taken_names(migration, step)
        args += [f"{input_folder(p, taken)}=done[{p!r}]" for p in step.inputs]
        args.append(f"{output_folder(step)}=root / {step.name!r}")
        if _exports_request_rows(migration, step):
            args.append(f"{OUTPUT_DATA_FOLDER}=root / {step.name + '_output_data'!r}")
        call = f"    {step.name}({', '.join(args)})"
        if len(call) > 100:
            call = f"    {step.name}(\n" + "".join(f"        {a},\n" for a in args) + "    )"
        lines.append(call)
        lines.append(f"    done[{step.name!r}] = root / {step.name!r}")
    lines.append("    return done")
    for step in migration.steps:
        if step.outputs:
            lines += [
                "",
                "",
                f"def test_{step.name}_hands_on_{'_'.join(step.outputs[:2]).lower()}"
                f"{'_and_more' if len(step.outputs) > 2 else ''}"
                "(folders: dict[str, Path]) -> None:",
                f"    for name in {step.outputs!r}:",
                f"        assert load_value(folders[{step.name!r}], name) is not None",
            ]
        if step.records_metrics:
            keys = sorted({*step.metrics, *step.metric_keys})
            lines += [
                "",
                "",
                f"def test_{step.name}_writes_its_metrics(folders: dict[str, Path]) -> None:",
                f"    metrics = read_metrics(folders[{step.name!r}])",
            ]
            if keys:
                lines += [
                    f"    for key in {keys!r}:",
                    "        assert any(n == key or n.startswith(key + '_') for n in metrics), key",
                ]
            lines += [
                "    numbers = [v for v in metrics.values() if isinstance(v, float)]",
                "    assert numbers and all(math.isfinite(v) for v in numbers)",
            ]
    if baseline is not None and migration.registration:
        train = migration.registration["step"]
        folder = input_folder(train, {OUTPUT_FOLDER})
        lines += [
            "",
            "",
            "def test_request_rows_are_a_table_for_the_data_quality_baseline(",
            "    folders: dict[str, Path], tmp_path: Path",
            ") -> None:",
            f"    output_data = folders[{train!r}].with_name({train + '_output_data'!r})",
            f"    {baseline.step}({folder}=output_data, {OUTPUT_FOLDER}=tmp_path)",
            '    with open(tmp_path / "request-rows.csv", newline="") as handle:',
            "        header, *rows = list(csv.reader(handle))",
            "    assert header and rows and all(len(row) == len(header) for row in rows)",
        ]
    lines += [
        "",
        "",
        "def test_pipeline_wires_every_migrated_step() -> None:",
        "    pipeline = build_pipeline(load_adapter(PROJECT).load_settings())",
        f"    assert [s.name for s in pipeline.steps] == {expected_steps!r}",
    ]
    return "\n".join(lines) + "\n"
