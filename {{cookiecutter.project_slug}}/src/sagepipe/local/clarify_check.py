"""Run a ClarifyCheck step locally, with SageMaker's semantics.

The step's processing job is :mod:`sagepipe.clarify.job` on the step's inputs
(``analysis_config``, ``dataset`` and, for our compiled steps, ``model``), run as a job
(:mod:`.clarify_job`) in the project image's environment when there is one, else with this
interpreter (:func:`analysis_interpreter`): a warm fork, so the model's libraries are
already imported and two analyses use two cores. A definition the SDK made names the model by
``ModelName`` instead: the model a Model step created in this workspace, whose
``ModelDataUrl`` archive is served, in-process, by the project's
handler. Then, as for QualityCheck (:mod:`.quality_check`):

- ``CalculatedBaselineConstraints``: the ``analysis.json`` this run wrote;
- unless ``SkipCheck``: the analysis is checked against ``SuppliedBaselineConstraints``,
  else the latest Approved version's ``DriftCheckBaselines`` in ``ModelPackageGroupName``
  (Bias.PreTrainingConstraints, Bias.PostTrainingConstraints or
  Explainability.Constraints); with none the step fails, and violations fail it unless
  ``FailOnViolation`` is false;
- ``BaselineUsedForDriftCheckConstraints``: the calculated file with
  ``RegisterNewBaseline``, else the baseline checked against.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..storage import archives
from ..storage import objects as s3
from .check_step import check_flags, results_output, results_uri, sandboxed

BASELINE_KEYS = {
    "DATA_BIAS": ("Bias", "PreTrainingConstraints"),
    "MODEL_BIAS": ("Bias", "PostTrainingConstraints"),
    "MODEL_EXPLAINABILITY": ("Explainability", "Constraints"),
}
MODEL_TYPES = ("MODEL_BIAS", "MODEL_EXPLAINABILITY")


def registered_constraints(registry: Any, group: str | None, check_type: str) -> str | None:
    """Constraints URI of the latest Approved version's drift baseline for ``check_type``."""
    if not group:
        return None
    try:
        package = registry.latest_approved(str(group))
    except LookupError:
        return None
    if package is None:
        return None
    section, key = BASELINE_KEYS[check_type]
    block = (package.drift_check_baselines or {}).get(section) or {}
    uri = (block.get(key) or {}).get("S3Uri")
    return str(uri) if uri else None


class _ImageHandler:
    """The XGBoost image's default handler in its own interpreter (as Transform serves it)."""

    def __init__(self, python: str, model_dir: Path) -> None:
        from .model_child import ChildHandler, xgboost_command

        self.child = ChildHandler(xgboost_command(python, model_dir))

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> Any:
        from ..serving.batch import TransformError

        try:
            return self.child.invoke(body, content_type, accept)
        except TransformError as err:
            raise ValueError(str(err)) from None

    def close(self) -> None:
        self.child.close()


def _named_model(runner: Any, name: str, step: Mapping[str, Any], sandbox: Path) -> Any:
    """The endpoint of the model a Model step created (an SDK definition's ``ModelName``)."""
    from ..clarify.endpoint import LocalEndpoint
    from .image_handlers import image_handler
    from .jobenv import job_runtime

    model_name = step.get("ModelName")
    if not model_name:
        raise ValueError(
            f"step {name}: {step.get('CheckType')} needs the model: a 'model' processing "
            "input or ModelName"
        )
    record = runner.model(str(model_name))
    url = record.get("ModelDataUrl")
    if not url:
        raise ValueError(f"step {name}: model {model_name!r} has no ModelDataUrl")
    archive_dir = sandbox / "model"
    s3.download(runner.s3_root, str(url), archive_dir)
    archive = archive_dir / str(url).rstrip("/").rsplit("/", 1)[-1]
    image = str(record.get("Image") or "")
    if image_handler(image) == "xgboost":
        runtime = job_runtime(
            name, "Processing", {"AppSpecification": {"ImageUri": image}}, runner.runtimes
        )
        model_dir = sandbox / "model-unpacked"
        model_dir.mkdir(parents=True, exist_ok=True)
        archives.extract(archive, model_dir, error=ValueError)
        return LocalEndpoint(_ImageHandler(runtime.python, model_dir))
    return LocalEndpoint.from_archive(archive, sandbox / "models")


def analysis_interpreter(resolver: Any) -> str:
    """The interpreter a Clarify analysis job runs with: the project image's, else this one.

    The project image's environment is the lock the model was trained in, and it holds
    what the analysis imports (numpy, pandas, the model's framework); the pipeline's
    other jobs run there too, so its warm interpreter has all of it imported already
    (a second warm interpreter, this one, would import it all again: about a second of
    CPU per run). Without a project image (a bare definition), or when its environment
    cannot be built, the analysis runs with the executor's own interpreter.
    """
    from ..runtimes import BuildError, UnknownImage

    if resolver is None:
        return sys.executable
    try:
        environment = resolver.project_environment()
    except (UnknownImage, BuildError):
        return sys.executable
    return str(environment.python) if environment is not None else sys.executable


def _run_as_job(
    runner: Any, name: str, sandbox: Path, spec: Mapping[str, Path | None]
) -> list[dict[str, Any]]:
    """Run the analysis as a job (:mod:`.clarify_job`, :func:`analysis_interpreter`); its
    violations."""
    from ..clarify.drift import VIOLATIONS_FILE
    from .sandbox import JobPlan, base_env

    spec_path = sandbox / "clarify.json"
    spec_path.write_text(json.dumps({k: str(v) if v else None for k, v in spec.items()}))
    job_dir = runner.execution.log_dir / name
    job_dir.mkdir(parents=True, exist_ok=True)
    python = analysis_interpreter(runner.runtimes)
    env = base_env(None, sandbox, runner.shim_for(python))
    framework_src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (framework_src, env.get("PYTHONPATH")) if p)
    plan = JobPlan(
        step_name=name,
        kind="Processing",
        job_name=f"clarify-{name}",
        command=[python, "-m", "sagepipe.local.clarify_job", str(spec_path)],
        env=env,
        cwd=sandbox,
        job_dir=sandbox,
        opt_ml=sandbox,
        log_path=job_dir / "job.log",
    )
    code = runner.launcher.spawn(plan)
    if code != 0:
        lines = [ln for ln in plan.log_path.read_text(errors="replace").splitlines() if ln]
        last = lines[-1] if lines else f"exit status {code}"
        raise ValueError(f"step {name}: {last} (log: {plan.log_path})")
    found = Path(str(spec["output"])) / VIOLATIONS_FILE
    if spec.get("baseline") is None or not found.is_file():
        return []
    return list(json.loads(found.read_text()).get("violations") or [])


def run_clarify_check(runner: Any, name: str, step: Mapping[str, Any]) -> dict[str, Any]:
    """Run one resolved ClarifyCheck step; return its properties (raises ValueError on failure)."""
    from ..clarify.analysis import ANALYSIS_FILE
    from ..clarify.drift import VIOLATIONS_FILE
    from ..clarify.job import run as run_job

    check_type = str(step.get("CheckType"))
    if check_type not in BASELINE_KEYS:
        raise ValueError(
            f"step {name}: CheckType {check_type!r} is not one of {', '.join(BASELINE_KEYS)}"
        )
    args = step.get("Arguments") or {}
    skip, register_new, fail_on_violation = check_flags(step)
    output_uri = results_uri(name, step)
    baseline_uri = step.get("SuppliedBaselineConstraints") or registered_constraints(
        runner.registry, step.get("ModelPackageGroupName"), check_type
    )
    if not skip and not baseline_uri:
        raise ValueError(
            f"step {name}: no baseline to check against (no SuppliedBaselineConstraints and "
            f"no Approved version of {step.get('ModelPackageGroupName')!r} with "
            "DriftCheckBaselines); run it with SkipCheck=True and RegisterNewBaseline=True first"
        )
    s3_root: Path = runner.s3_root
    sandbox = Path(tempfile.mkdtemp(prefix=f"cc-{name}-", dir=runner.execution.log_dir))
    try:
        local: dict[str, Path] = {}
        for item in args.get("ProcessingInputs") or []:
            source = (item.get("S3Input") or {}).get("S3Uri")
            path = (item.get("S3Input") or {}).get("LocalPath")
            if source and path:
                target = sandboxed(str(path), sandbox)
                s3.download(s3_root, str(source), target)
                local[str(item.get("InputName"))] = target
        for required in ("analysis_config", "dataset"):
            if required not in local:
                raise ValueError(f"step {name}: ProcessingInputs needs an input named {required!r}")
        endpoint = None
        if check_type in MODEL_TYPES and "model" not in local:
            endpoint = _named_model(runner, name, step, sandbox)
        baseline = None
        if not skip and baseline_uri:
            baseline = sandbox / "baseline"
            s3.download(s3_root, str(baseline_uri), baseline)
        out_dir = sandboxed(
            str(results_output(name, step).get("LocalPath") or "/opt/ml/processing/output"),
            sandbox,
        )
        model_archive = local.get("model") if check_type in MODEL_TYPES else None
        if endpoint is None:
            violations = _run_as_job(
                runner,
                name,
                sandbox,
                {
                    "config": local["analysis_config"],
                    "data": local["dataset"],
                    "output": out_dir,
                    "model_archive": model_archive,
                    "baseline": baseline,
                    "work_dir": sandbox / "models",
                },
            )
        else:
            outcome = run_job(
                local["analysis_config"],
                local["dataset"],
                out_dir,
                model=endpoint,
                baseline=baseline,
                work_dir=sandbox / "models",
            )
            violations = outcome.violations
            handler = getattr(endpoint, "handler", None)
            if isinstance(handler, _ImageHandler):
                handler.close()
        s3.put_tree(s3_root, output_uri, out_dir)
    finally:
        if not runner.keep_sandboxes:  # kept like a job's sandbox, to inspect or replay
            shutil.rmtree(sandbox, ignore_errors=True)
    calculated = f"{output_uri}/{ANALYSIS_FILE}"
    if violations and fail_on_violation:
        kinds = sorted({v["constraint_check_type"] for v in violations})
        raise ValueError(
            f"step {name}: {len(violations)} {'/'.join(kinds)} violation(s) against "
            f"the baseline; see {output_uri}/{VIOLATIONS_FILE}"
        )
    if register_new:
        used = calculated
    elif baseline_uri:
        used = str(baseline_uri)
    else:
        raise ValueError(
            f"step {name}: RegisterNewBaseline is false but there is no earlier baseline to "
            "use for drift checks; set RegisterNewBaseline=True"
        )
    return {
        "CheckType": check_type,
        "CalculatedBaselineConstraints": calculated,
        "BaselineUsedForDriftCheckConstraints": used,
        "ViolationCount": len(violations),
        "SkipCheck": skip,
        "RegisterNewBaseline": register_new,
    }
