"""Put the compiled code objects and the input data into the project bucket.

Code objects are content-addressed (``.../code/<sha256>/...``): a key that exists already
holds these bytes, so it is skipped without reading it back (one listing per code folder
tells which exist). Data files carry their
sha256 in the object's metadata, so an unchanged file is not uploaded twice either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..storage.digests import file_sha256, manifest_sha256
from .errors import calling, error_code
from .session import split_s3_uri

DIGEST_METADATA = "sha256"


@dataclass(frozen=True)
class UploadReport:
    """How many objects were sent and how many were already there."""

    uploaded: int
    skipped: int
    digest: str = ""

    def summary(self, what: str) -> str:
        """``"3 code objects uploaded, 5 already in the bucket"``."""
        return f"{self.uploaded} {what} uploaded, {self.skipped} already in the bucket"


def _exists(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except Exception as error:  # botocore.exceptions.ClientError, imported lazily
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head


def check_bucket(s3: Any, bucket: str) -> None:
    """Fail early, with the fix, when the bucket is missing or not ours to write."""
    with calling(f"checking bucket s3://{bucket}"):
        s3.head_bucket(Bucket=bucket)


def _existing_keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def _folder_of(key: str) -> str:
    # Content-addressed code lives in ".../code/<sha256>/...": one listing per folder
    # answers for all its files (one request instead of one HEAD per object).
    parts = key.split("/")
    for index in range(len(parts) - 2):
        if parts[index] == "code" and len(parts[index + 1]) == 64:
            return "/".join(parts[: index + 2]) + "/"
    return key


def upload_code(
    s3: Any, artifacts: Mapping[str, bytes], echo: Callable[[str], None] | None = None
) -> UploadReport:
    """Upload each ``s3://b/k -> bytes`` unless the key exists already."""
    uploaded = skipped = 0
    listed: dict[tuple[str, str], set[str]] = {}
    for uri, data in sorted(artifacts.items()):
        bucket, key = split_s3_uri(uri)
        folder = _folder_of(key)
        with calling(f"uploading {uri}"):
            if (bucket, folder) not in listed:
                listed[bucket, folder] = _existing_keys(s3, bucket, folder)
            if key in listed[bucket, folder]:
                skipped += 1
                continue
            if echo is not None:
                echo(f"uploading {uri} ({len(data)} bytes) ...")
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            uploaded += 1
    return UploadReport(uploaded, skipped)


def upload_data(
    s3: Any, source: Path, prefix_uri: str, echo: Callable[[str], None] | None = None
) -> UploadReport:
    """Upload the CSV file(s) at ``source`` under ``prefix_uri``; unchanged files are kept.

    ``digest`` of the report is the sha256 over the files' names and digests: the data
    digest recorded in the lineage.
    """
    source = Path(source)
    files = [source] if source.is_file() else sorted(source.glob("*.csv"))
    if not files:
        raise ValueError(f"{source}: no CSV data found; pass --data FILE.csv or a folder of them")
    bucket, key_prefix = split_s3_uri(prefix_uri.rstrip("/"))
    uploaded = skipped = 0
    digests = {file: file_sha256(file) for file in files}
    for file, digest in digests.items():
        key = f"{key_prefix}/{file.name}" if key_prefix else file.name
        with calling(f"uploading {file} to s3://{bucket}/{key}"):
            head = _exists(s3, bucket, key)
            if head is not None and (head.get("Metadata") or {}).get(DIGEST_METADATA) == digest:
                skipped += 1
                continue
            if echo is not None:
                echo(f"uploading {file} to s3://{bucket}/{key} ...")
            s3.upload_file(
                str(file), bucket, key, ExtraArgs={"Metadata": {DIGEST_METADATA: digest}}
            )
            uploaded += 1
    overall = manifest_sha256((file.name, digest) for file, digest in digests.items())
    return UploadReport(uploaded, skipped, overall)


def upload_files(
    s3: Any, files: list[Path], prefix_uri: str, echo: Callable[[str], None] | None = None
) -> str:
    """Upload ``files`` under ``<prefix_uri>/<sha256 of them all>/``; return that prefix.

    The same input always lands under the same prefix, so it is never uploaded twice.
    """
    if not files:
        raise ValueError(f"nothing to upload to {prefix_uri}: the source has no files")
    overall = manifest_sha256((file.name, file_sha256(file)) for file in files)
    target = f"{prefix_uri.rstrip('/')}/{overall[:16]}"
    bucket, key_prefix = split_s3_uri(target)
    for file in files:
        key = f"{key_prefix}/{file.name}"
        with calling(f"uploading {file} to s3://{bucket}/{key}"):
            if _exists(s3, bucket, key) is not None:
                continue
            if echo is not None:
                echo(f"uploading {file} to s3://{bucket}/{key} ...")
            s3.upload_file(str(file), bucket, key)
    return target


def download_prefix(
    s3: Any, prefix_uri: str, folder: Path, echo: Callable[[str], None] | None = None
) -> list[str]:
    """Download every object under ``prefix_uri`` into ``folder``; return the local paths.

    Object keys are checked to stay inside ``folder`` (no ``..`` escapes).
    """
    bucket, key_prefix = split_s3_uri(prefix_uri.rstrip("/"))
    folder = Path(folder)
    written: list[str] = []
    with calling(f"listing {prefix_uri}"):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix + "/")
        keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    root = folder.resolve()
    for key in keys:
        relative = key[len(key_prefix) + 1 :]
        destination = (folder / relative).resolve()
        if root not in destination.parents:
            raise ValueError(f"object s3://{bucket}/{key} would be written outside {folder}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        with calling(f"downloading s3://{bucket}/{key}", echo):
            s3.download_file(bucket, key, str(destination))
        written.append(str(destination))
    return written
