"""The project's side of ``--target sagemaker``: where its pipeline lives on AWS.

Everything comes from the stage's settings (``MLOPS_BUCKET``, ``MLOPS_ROLE_ARN``,
``MLOPS_REGION``, ``MLOPS_TAGS``, ``MLOPS_TARGET``), read on call. Importing this module
imports no AWS SDK: ``sagepipe.sagemaker`` loads boto3 only when a call is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import settings as project_settings

if TYPE_CHECKING:
    from sagepipe.sagemaker.runner import AwsTarget, Prepared

TARGETS = ("local", "sagemaker")


def target_default() -> str:
    """The stage's default target (``MLOPS_TARGET``; ``local`` unless set)."""
    try:
        target = project_settings.load().target
    except ValueError:
        return "local"  # bad settings: the command itself reports them in one line
    if target not in TARGETS:
        import click

        click.echo(
            f"error: MLOPS_TARGET={target!r} is not one of {', '.join(TARGETS)}; "
            "set it to local or sagemaker (or pass --target)",
            err=True,
        )
        raise click.exceptions.Exit(2)
    return target


def tags(settings: project_settings.Settings) -> dict[str, str]:
    """``project`` and ``stage`` tags plus ``MLOPS_TAGS`` (``key=value,key=value``)."""
    result = {"project": project_settings.PROJECT, "stage": settings.stage}
    for item in filter(None, (part.strip() for part in settings.tags.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"MLOPS_TAGS entry {item!r} is not key=value; write e.g. 'team=ml,cost=churn'"
            )
        result[key.strip()] = value.strip()
    return result


def target(settings: project_settings.Settings | None = None) -> AwsTarget:
    """Bucket, role, region, pipeline name and tags of the current stage."""
    from sagepipe.sagemaker.runner import AwsTarget

    settings = settings or project_settings.load()
    return AwsTarget(
        region=settings.region,
        bucket=settings.bucket,
        prefix=settings.prefix,
        role_arn=settings.role_arn,
        pipeline_name=settings.pipeline_name,
        input_data_url=settings.input_data_url,
        tags=tags(settings),
    )


def pipeline_names(pipeline: str | None = None) -> list[str]:
    """The project's pipelines on SageMaker: ``pipeline``'s name there, or the project
    pipeline's and every migrated one's (each has its own, as ``run --pipeline NAME
    --target sagemaker`` creates it)."""
    from sagepipe.prepare import remote_name

    from .adapter import project

    settings = project_settings.load()
    chosen = [project.pipeline(pipeline, settings)] if pipeline else project.pipelines().values()
    return [remote_name(entry, settings) for entry in chosen]


def prepare(workspace: Path, data: Path | None = None, pipeline: str | None = None) -> Prepared:
    """Exactly what ``compile`` writes, with its code objects, ready for upload.

    The definition comes from the workspace's compile cache when no source or setting
    changed (as for local runs), so a re-run does not import the step modules again.
    ``pipeline`` (or the ``default_pipeline`` setting) picks a migrated pipeline instead.
    ``data`` is uploaded to the input prefix by the runner, not staged locally.
    """
    from sagepipe.compile import Compiled
    from sagepipe.prepare import prepare_run
    from sagepipe.sagemaker.runner import Prepared, code_objects_in

    from .adapter import project

    settings = project_settings.load()
    definition = prepare_run(
        project, Path(workspace), pipeline=pipeline, data=data, settings=settings, stage=False
    ).definition
    where = target(settings)
    data_files: tuple[tuple[Path, str], ...] = ()
    entry = project.pipeline(pipeline, settings)
    if entry.migrated:  # its own SageMaker pipeline, reading the notebook's data from S3
        from dataclasses import replace

        from sagepipe.prepare import migrated_on_aws

        on_aws = migrated_on_aws(entry, project.root(), settings)
        where = replace(where, pipeline_name=on_aws.pipeline_name)
        data_files = tuple(on_aws.data)
    return Prepared(
        definition=Compiled(definition).to_json(),
        artifacts=code_objects_in(definition, Path(workspace) / "s3"),
        target=where,
        data=data,
        source_root=project_settings.project_root(),
        data_files=data_files,
    )
