"""One place that makes boto3 clients: region, retries, and the endpoint override.

``AWS_ENDPOINT_URL`` (honoured by boto3 itself) points every client at another server,
which is how the tests talk to moto on loopback. Clients are made on first use, never
at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

_SESSIONS: dict[str, Any] = {}


def _boto3_session(region: str) -> Any:
    # One boto3 session per region and process: it caches the service models it loads,
    # which is most of the cost of making a client.
    if region not in _SESSIONS:
        import boto3

        _SESSIONS[region] = boto3.session.Session(region_name=region)
    return _SESSIONS[region]


@dataclass
class AwsSession:
    """Lazily created boto3 clients for one region."""

    region: str
    max_attempts: int = 0  # 0: AWS_MAX_ATTEMPTS, else 8 (standard mode backs off)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """The boto3 client for ``service`` (``s3``, ``sagemaker``, ``sagemaker-runtime``)."""
        if service not in self._clients:
            from botocore.config import Config

            attempts = self.max_attempts or int(os.environ.get("AWS_MAX_ATTEMPTS") or 8)
            config = Config(
                region_name=self.region,
                retries={"mode": "standard", "max_attempts": attempts},
                connect_timeout=10,
                read_timeout=70,
            )
            self._clients[service] = _boto3_session(self.region).client(service, config=config)
        return self._clients[service]

    @property
    def s3(self) -> Any:
        """The S3 client."""
        return self.client("s3")

    @property
    def sagemaker(self) -> Any:
        """The SageMaker control-plane client."""
        return self.client("sagemaker")

    @property
    def runtime(self) -> Any:
        """The SageMaker runtime client (``invoke_endpoint``)."""
        return self.client("sagemaker-runtime")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; one-line error otherwise."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} has no bucket; use s3://bucket/key")
    return bucket, key
