"""``run --target sagemaker``: upload, upsert, start and (optionally) watch.

The project gives a :class:`Prepared` run (the definition bytes exactly as ``compile``
writes them, the code objects they point at, and where it all goes); this module does
the AWS side and reports each call before making it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.digests import manifest_sha256
from . import pipelines, upload
from .session import AwsSession, split_s3_uri


@dataclass(frozen=True)
class AwsTarget:
    """Where a project's pipeline lives on AWS (from the stage's settings)."""

    region: str
    bucket: str
    prefix: str
    role_arn: str
    pipeline_name: str
    input_data_url: str
    tags: dict[str, str] = field(default_factory=dict)

    def session(self) -> AwsSession:
        """A session for this target's region."""
        return AwsSession(self.region)


@dataclass(frozen=True)
class Prepared:
    """A compiled pipeline ready to publish."""

    definition: bytes
    artifacts: Mapping[str, bytes]
    target: AwsTarget
    data: Path | None = None
    source_root: Path | None = None  # where `git rev-parse HEAD` names the code's commit
    # A migrated pipeline's notebook data: (file, S3 prefix its parameter's default names).
    data_files: tuple[tuple[Path, str], ...] = ()


@dataclass(frozen=True)
class Started:
    """What ``publish_and_start`` did."""

    pipeline_arn: str
    created: bool
    execution_arn: str
    code: upload.UploadReport
    data: upload.UploadReport | None


def check_target(target: AwsTarget) -> None:
    """Refuse settings that cannot work on AWS before any call is made."""
    if ":000000000000:" in target.role_arn:
        raise ValueError(
            f"role {target.role_arn} is the local placeholder; create the SageMaker execution "
            "role (infra/ CloudFormation) and set MLOPS_ROLE_ARN to its ARN"
        )
    split_s3_uri(target.input_data_url)


def publish_and_start(
    prepared: Prepared,
    parameters: Mapping[str, Any],
    *,
    echo: Callable[[str], None],
    session: AwsSession | None = None,
) -> Started:
    """Check the bucket, upload code (and data), upsert the pipeline, start it."""
    target = prepared.target
    check_target(target)
    aws = session or target.session()
    upload.check_bucket(aws.s3, target.bucket)
    code = upload.upload_code(aws.s3, prepared.artifacts, echo=echo)
    echo(code.summary("code objects"))
    data = None
    if prepared.data is not None:
        data = upload.upload_data(aws.s3, prepared.data, target.input_data_url, echo=echo)
        echo(data.summary("data files") + f" (data sha256 {data.digest[:12]})")
    elif prepared.data_files:
        data = upload_declared(aws.s3, prepared.data_files, echo=echo)
        echo(data.summary("notebook data files") + f" (data sha256 {data.digest[:12]})")
    digest = hashlib.sha256(prepared.definition).hexdigest()
    key = "/".join(p for p in (target.prefix, "definitions", f"{digest}.json") if p)
    arn, created = pipelines.upsert(
        aws.sagemaker,
        name=target.pipeline_name,
        definition=prepared.definition,
        role_arn=target.role_arn,
        tags=target.tags,
        s3=aws.s3,
        definition_uri=f"s3://{target.bucket}/{key}",
        echo=echo,
    )
    from .lineage import git_commit, run_description

    # The data and the commit are not inputs of the definition: the execution keeps them.
    description = run_description(
        data.digest if data is not None else None, git_commit(prepared.source_root or Path.cwd())
    )
    execution = pipelines.start(
        aws.sagemaker, target.pipeline_name, parameters, echo=echo, description=description
    )
    return Started(arn, created, execution, code, data)


def upload_declared(
    s3: Any, files: tuple[tuple[Path, str], ...], *, echo: Callable[[str], None]
) -> upload.UploadReport:
    """Upload each ``(file, prefix)``; the digest covers every file's name and content."""
    reports = [upload.upload_data(s3, file, prefix, echo=echo) for file, prefix in files]
    digest = manifest_sha256(
        (f"{prefix}/{file.name}", report.digest)
        for (file, prefix), report in zip(files, reports, strict=True)
    )
    return upload.UploadReport(
        sum(r.uploaded for r in reports), sum(r.skipped for r in reports), digest
    )


# Also inside JSON-quoted hyperparameters ("\"s3://.../sourcedir.tar.gz\"").
_CODE_PREFIX = re.compile(r"s3://[^/\"\s]+/(?:[^\"\s]+/)?code/[0-9a-f]{64}(?=/)")


def code_objects_in(definition: Any, s3_root: Path) -> dict[str, bytes]:
    """The code objects ``definition`` points at, read back from a local S3 folder.

    What ``Compiled.write_artifacts(s3_root)`` wrote for it: so a run whose definition
    came from the compile cache uploads exactly what compiling would have produced.
    Code folders are content-addressed (``.../code/<sha256>/``), so nothing else is in them.
    """
    prefixes: set[str] = set()
    stack = [definition]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            prefixes.update(_CODE_PREFIX.findall(value))
    artifacts: dict[str, bytes] = {}
    for prefix in sorted(prefixes):
        folder = Path(s3_root) / prefix.removeprefix("s3://")
        if not folder.is_dir():
            raise ValueError(
                f"code objects of {prefix}/ are missing from {folder}; run `compile` again"
            )
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                relative = path.relative_to(folder).as_posix()
                artifacts[f"{prefix}/{relative}"] = path.read_bytes()
    return artifacts
