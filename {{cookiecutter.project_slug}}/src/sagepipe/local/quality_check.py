"""Run a QualityCheck step locally, with SageMaker's semantics.

The step's processing job is the analyzer of :mod:`sagepipe.monitor` (the job a
Processing job runs on AWS), run in-process on the step's inputs. Then:

- ``CalculatedBaselineStatistics`` / ``CalculatedBaselineConstraints``: the files this
  run wrote under the step's output URI;
- unless ``SkipCheck``: the data is checked against the supplied baselines, else the
  ``DriftCheckBaselines`` of the latest Approved version in ``ModelPackageGroupName``;
  with no baseline to check against the step fails (run it once with ``SkipCheck`` and
  ``RegisterNewBaseline``), and violations fail it unless ``FailOnViolation`` is false;
- ``BaselineUsedForDriftCheck*``: the calculated baselines with ``RegisterNewBaseline``,
  else the baselines checked against (supplied or registered).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..storage import objects as s3
from .check_step import PROCESSING, check_flags, results_uri, sandboxed

if TYPE_CHECKING:  # for the annotation only: a session brings the registry and S3 endpoint
    from .session import RunSession

SECTIONS = {"DATA_QUALITY": "ModelDataQuality", "MODEL_QUALITY": "ModelQuality"}


def registered_baselines(
    registry: Any, group: str | None, check_type: str
) -> tuple[str | None, str | None]:
    """Statistics and constraints URIs of the latest Approved version's drift baselines."""
    if not group:
        return None, None
    try:
        package = registry.latest_approved(str(group))
    except LookupError:
        return None, None
    if package is None:
        return None, None
    block = (package.drift_check_baselines or {}).get(SECTIONS[check_type]) or {}
    statistics = (block.get("Statistics") or {}).get("S3Uri")
    constraints = (block.get("Constraints") or {}).get("S3Uri")
    return statistics, constraints


def run_quality_check(session: RunSession, name: str, step: Mapping[str, Any]) -> dict[str, Any]:
    """Run one resolved QualityCheck step; return its properties (raises ValueError on failure)."""
    from ..monitor.baseline import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
    from ..monitor.container import run as run_analyzer

    check_type = str(step.get("CheckType"))
    if check_type not in SECTIONS:
        raise ValueError(
            f"step {name}: CheckType {check_type!r} is not DATA_QUALITY or MODEL_QUALITY"
        )
    args = step.get("Arguments") or {}
    skip, register_new, fail_on_violation = check_flags(step)
    output = results_uri(name, step)
    s3_root: Path = session.s3_root
    supplied_stats = step.get("SuppliedBaselineStatistics") or None
    supplied_constraints = step.get("SuppliedBaselineConstraints") or None
    if supplied_stats or supplied_constraints:
        base_stats, base_constraints = supplied_stats, supplied_constraints
    else:
        base_stats, base_constraints = registered_baselines(
            session.registry, step.get("ModelPackageGroupName"), check_type
        )
    if not skip and not base_constraints:
        raise ValueError(
            f"step {name}: no baseline to check against (no supplied baselines and no Approved "
            f"version of {step.get('ModelPackageGroupName')!r} with DriftCheckBaselines); run "
            "it with SkipCheck=True and RegisterNewBaseline=True first"
        )
    sandbox = Path(tempfile.mkdtemp(prefix=f"qc-{name}-", dir=session.execution.log_dir))
    try:
        env = _environment(args, sandbox)
        for item in args.get("ProcessingInputs") or []:
            source = (item.get("S3Input") or {}).get("S3Uri")
            local = (item.get("S3Input") or {}).get("LocalPath")
            if source and local:
                s3.download(s3_root, str(source), sandboxed(str(local), sandbox))
        if not skip:
            for key, uri, default in (
                ("baseline_statistics", base_stats, STATISTICS_FILE),
                ("baseline_constraints", base_constraints, CONSTRAINTS_FILE),
            ):
                if uri:
                    local = sandbox / "baselines" / key
                    s3.download(s3_root, str(uri), local)
                    named = local / str(uri).rstrip("/").rsplit("/", 1)[-1]
                    env[key] = str(named if named.is_file() else local / default)
        outcome = run_analyzer(env)
        out_dir = Path(env["output_path"])
        s3.put_tree(s3_root, output, out_dir)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    calculated_stats = f"{output}/{STATISTICS_FILE}"
    calculated_constraints = f"{output}/{CONSTRAINTS_FILE}"
    if outcome.violation_count and fail_on_violation:
        raise ValueError(
            f"step {name}: {outcome.violation_count} {check_type.lower()} violation(s) against "
            f"the baseline; see {output}/{VIOLATIONS_FILE}"
        )
    if register_new:
        used_stats, used_constraints = calculated_stats, calculated_constraints
    elif base_constraints:
        used_stats, used_constraints = base_stats or calculated_stats, base_constraints
    else:
        raise ValueError(
            f"step {name}: RegisterNewBaseline is false but there is no earlier baseline to "
            "use for drift checks; set RegisterNewBaseline=True"
        )
    return {
        "CheckType": check_type,
        "CalculatedBaselineStatistics": calculated_stats,
        "CalculatedBaselineConstraints": calculated_constraints,
        "BaselineUsedForDriftCheckStatistics": used_stats,
        "BaselineUsedForDriftCheckConstraints": used_constraints,
        "ViolationCount": outcome.violation_count,
        "SkipCheck": skip,
        "RegisterNewBaseline": register_new,
    }


def _environment(args: Mapping[str, Any], sandbox: Path) -> dict[str, str]:
    env = {str(k): str(v) for k, v in (args.get("Environment") or {}).items()}
    for key, value in list(env.items()):
        if value.startswith(PROCESSING):
            env[key] = str(sandboxed(value, sandbox))
    env.setdefault("output_path", str(sandboxed(f"{PROCESSING}/output", sandbox)))
    Path(env["output_path"]).mkdir(parents=True, exist_ok=True)
    return env
