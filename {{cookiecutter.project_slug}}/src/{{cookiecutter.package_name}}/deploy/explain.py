"""``explain VERSION``: Clarify-style bias and SHAP analysis of a registered model version.

Runs the same job as the pipeline's ClarifyCheck steps (:mod:`sagepipe.clarify`) on the
version's own data split (the ``Preprocess`` output of the execution that trained it, or
``--data``), serving the registered ``model.tar.gz`` in-process through the project's
handler as Clarify would through an endpoint. Writes ``analysis.json`` (Clarify's layout:
pre-training bias of the labels, post-training bias of the predictions, SHAP feature
attributions) and ``report.html`` to ``<workspace>/explain/v<VERSION>/`` or ``-o DIR``.
The facet (the sensitive column) is ``--facet``/``--facet-value``; the defaults are the
project's ``BIAS_FACET``/``BIAS_FACET_VALUE`` in ``columns.py``, which the pipeline's bias
checks use too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..columns import (
    BIAS_FACET,
    BIAS_FACET_VALUE,
    POSITIVE_LABEL,
    PREDICTED_LABEL_INDEX,
    SCORE_INDEX,
    TARGET,
)
from . import operations

EXIT_USAGE = 2
# The pipeline's bias checks use the same facet and label (columns.py, one source).
DEFAULT_FACET = BIAS_FACET
DEFAULT_FACET_VALUE = BIAS_FACET_VALUE
DEFAULT_LABEL_VALUE = str(POSITIVE_LABEL)


def _typed(text: str) -> int | float | str:
    """``1`` -> 1, ``0.5`` -> 0.5, anything else stays text (as the config would hold it)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def analysis_config(
    facet: str, facet_value: str | None, label_value: str, num_samples: int | None
) -> dict[str, Any]:
    """Clarify's ``analysis_config.json`` for all three analyses of the project's data."""
    shap: dict[str, Any] = {"use_logit": False, "save_local_shap_values": True, "seed": 0}
    if num_samples is not None:
        shap["num_samples"] = num_samples
    return {
        "dataset_type": "text/csv",
        "label": TARGET,
        "label_values_or_threshold": [_typed(label_value)],
        "facet": [
            {
                "name_or_index": facet,
                **({"value_or_threshold": [_typed(facet_value)]} if facet_value else {}),
            }
        ],
        "methods": {
            "pre_training_bias": {"methods": "all"},
            "post_training_bias": {"methods": "all"},
            "shap": shap,
            "report": {"name": "report", "title": "Analysis Report"},
        },
        "predictor": {"label": PREDICTED_LABEL_INDEX, "probability": SCORE_INDEX},
    }


def version_data(workspace: Path, execution_id: str | None, split: str) -> Path:
    """The ``split`` folder the version's pipeline execution wrote (Preprocess's output)."""
    if not execution_id:
        raise ValueError("the version records no pipeline execution; pass --data FILE")
    found = sorted(workspace.glob(f"s3/**/{execution_id}/Preprocess/output/{split}"))
    if not found:
        raise ValueError(
            f"no {split} data of execution {execution_id} under {workspace}/s3 (cleaned up?); "
            "pass --data FILE"
        )
    return found[0]


def run_explain(
    workspace: Path | None,
    version: str,
    *,
    facet: str,
    facet_value: str | None,
    label_value: str,
    data: Path | None,
    split: str,
    num_samples: int | None,
    max_rows: int,
    output: Path | None,
) -> Path:
    """Analyse ``version``; return the ``analysis.json`` written (ValueError on bad input)."""
    from sagepipe.clarify import analysis
    from sagepipe.clarify.endpoint import LocalEndpoint
    from sagepipe.registry import parse_version
    from sagepipe.serving import load_handler, unpack_model

    if max_rows <= 0:
        raise ValueError(f"--max-rows {max_rows} must be a positive number of rows")
    ctx = operations.context(workspace)
    package = ctx.registry.describe(ctx.group, parse_version(version))
    if package.model_data_path is None:
        raise ValueError(f"version {package.version} has no local model archive to serve")
    config = analysis_config(facet, facet_value, label_value, num_samples)
    analysis.check_config(config)
    source = data or version_data(ctx.workspace, package.lineage.execution_id, split)
    dataset = analysis.read_dataset(source, config)
    if len(dataset.frame) > max_rows:
        # Kernel SHAP costs one model call per row: a seeded sample keeps it bounded.
        dataset = analysis.Dataset(
            dataset.frame.sample(max_rows, random_state=0).reset_index(drop=True),
            dataset.label,
            dataset.features,
        )
    model_dir = unpack_model(
        package.model_data_path, package.model_data_sha256, ctx.workspace / "models-unpacked"
    )
    endpoint = LocalEndpoint(load_handler(model_dir))
    result = analysis.analyse(config, dataset, endpoint)
    out_dir = output or ctx.workspace / "explain" / f"v{package.version}"
    return analysis.write(result, out_dir, config)


@click.command(name="explain")
@click.argument("version")
@click.option("--facet", default=DEFAULT_FACET, show_default=True, help="Sensitive column.")
@click.option(
    "--facet-value",
    default=DEFAULT_FACET_VALUE,
    show_default=True,
    help="The facet's sensitive value (empty: every value in turn).",
)
@click.option(
    "--label-value", default=DEFAULT_LABEL_VALUE, show_default=True, help="Positive label."
)
@click.option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="CSV file or folder to analyse (default: the version's own split).",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Which of the version's Preprocess splits to analyse when --data is not given.",
)
@click.option(
    "--num-samples",
    type=int,
    default=None,
    help="Kernel SHAP coalitions per row (default: all of them, the exact Shapley values).",
)
@click.option(
    "--max-rows",
    type=int,
    default=1000,
    show_default=True,
    help="Analyse a seeded sample of at most this many rows (SHAP costs a model call per row).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for analysis.json and report.html (default: <workspace>/explain/v<VERSION>).",
)
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    default=None,
    help="Workspace folder (default: $SAGEPIPE_WORKSPACE or .mlops).",
)
def explain(
    version: str,
    facet: str,
    facet_value: str,
    label_value: str,
    data: Path | None,
    split: str,
    num_samples: int | None,
    max_rows: int,
    output: Path | None,
    workspace: Path | None,
) -> None:
    """Bias (pre- and post-training) and SHAP attributions of a registered version."""
    from sagepipe.registry import RegistryError
    from sagepipe.serving import ModelLoadError

    try:
        path = run_explain(
            workspace,
            version,
            facet=facet,
            facet_value=facet_value or None,
            label_value=label_value,
            data=data,
            split=split,
            num_samples=num_samples,
            max_rows=max_rows,
            output=output,
        )
    except (ValueError, RegistryError, ModelLoadError, OSError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"wrote {path} and {path.parent / 'report.html'}")


COMMANDS: list[click.Command] = [explain]
