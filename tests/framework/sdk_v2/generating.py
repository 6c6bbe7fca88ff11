"""What every ``generate*.py`` here does around its pipeline: the SDK's session under moto,
and the definition kept with the objects the SDK uploaded.

moto's ``mock_aws()`` with a pre-created bucket catches the SDK's uploads; each build's
are kept under ``<folder>/s3/`` next to its ``definition.json``, so a test replays exactly
what the SDK wrote. Needs the real SDK (``sagemaker<3``) and moto: see ``generate.py``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

HERE = Path(__file__).resolve().parent
REGION = "eu-west-1"
BUCKET = "sdk-v2-bucket"
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


def pipeline_session() -> Any:
    """A ``PipelineSession`` in REGION whose default bucket is BUCKET (call it under moto)."""
    # Imported here, as the generators import the SDK: only a generator run needs it.
    from sagemaker.workflow.pipeline_context import PipelineSession

    return PipelineSession(boto_session=boto3.Session(region_name=REGION), default_bucket=BUCKET)


def generate(builds: Mapping[str, Callable[[], dict]]) -> None:
    """Run each build under moto and keep what it made in ``HERE/<folder>``.

    ``builds`` maps a folder name to a function returning a pipeline's definition; they run
    in order, each seeing an empty bucket, so a folder holds only its own build's uploads.
    """
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        for folder, build in builds.items():
            _keep(client, build(), HERE / folder)


def _keep(client: Any, definition: dict, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)  # no stale code objects from an older run
    (out / "s3").mkdir(parents=True, exist_ok=True)
    (out / "definition.json").write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        target = out / "s3" / BUCKET / item["Key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
        print("kept", item["Key"])
