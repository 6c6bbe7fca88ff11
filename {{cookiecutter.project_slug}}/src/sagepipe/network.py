"""Private operation: the VPC, network isolation and KMS keys a compiled job runs with.

These are settings, not steps: the same pipeline compiles with or without them. When given,
every Processing job gets ``NetworkConfig`` (its VPC, ``EnableNetworkIsolation``, encrypted
traffic between its instances) and every Training job ``VpcConfig`` and encrypted traffic;
both get the KMS key for their volumes and outputs. Training jobs are not network-isolated:
script-mode containers download their own code (``sagemaker_submit_directory``) from S3,
which an isolated container cannot do; their VPC (private subnets, VPC endpoints) keeps them
off the internet instead. Standard library only; the local executor ignores all of this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import GraphError

_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_KMS_KEY = re.compile(
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|alias/[A-Za-z0-9/_-]+)$"
)


@dataclass(frozen=True)
class Network:
    """Where jobs run: private subnets and security groups, and the KMS key for their data."""

    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    kms_key_id: str = ""
    isolate_processing: bool = True

    def __post_init__(self) -> None:
        for subnet in self.subnets:
            if not _SUBNET.match(subnet):
                raise GraphError(f"subnet {subnet!r} is not a subnet id; use e.g. subnet-0abc1234")
        for group in self.security_group_ids:
            if not _SECURITY_GROUP.match(group):
                raise GraphError(
                    f"security group {group!r} is not a security group id; use e.g. sg-0abc1234"
                )
        if bool(self.subnets) != bool(self.security_group_ids):
            raise GraphError("a VPC needs both subnets and security groups; set both or neither")
        if self.kms_key_id and not _KMS_KEY.match(self.kms_key_id):
            raise GraphError(
                f"KMS key {self.kms_key_id!r} is not a key id, key ARN or alias; "
                "use the project stack's DataKeyArn"
            )

    @property
    def vpc(self) -> dict[str, list[str]] | None:
        """The VpcConfig SageMaker takes, or None without subnets."""
        if not self.subnets:
            return None
        return {"SecurityGroupIds": list(self.security_group_ids), "Subnets": list(self.subnets)}


def network_from_text(subnets: str, security_groups: str, kms_key_id: str) -> Network | None:
    """A Network from comma-separated settings values, or None when all are empty."""
    subnet_ids = _split(subnets)
    group_ids = _split(security_groups)
    if not (subnet_ids or group_ids or kms_key_id.strip()):
        return None
    return Network(subnet_ids, group_ids, kms_key_id.strip())


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def secure_processing(arguments: dict[str, Any], network: Network | None) -> None:
    """Add the network and key settings to a Processing job's arguments, in place."""
    if network is None:
        return
    if network.vpc:
        arguments["NetworkConfig"] = {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": network.isolate_processing,
            "VpcConfig": network.vpc,
        }
    if network.kms_key_id:
        arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = network.kms_key_id
        if "ProcessingOutputConfig" in arguments:
            arguments["ProcessingOutputConfig"]["KmsKeyId"] = network.kms_key_id


def secure_training(arguments: dict[str, Any], network: Network | None) -> None:
    """Add the network and key settings to a Training job's arguments, in place."""
    if network is None:
        return
    if network.vpc:
        arguments["VpcConfig"] = network.vpc
        arguments["EnableInterContainerTrafficEncryption"] = True
    if network.kms_key_id:
        arguments["ResourceConfig"]["VolumeKmsKeyId"] = network.kms_key_id
        arguments["OutputDataConfig"]["KmsKeyId"] = network.kms_key_id


__all__: Sequence[str] = ["Network", "network_from_text", "secure_processing", "secure_training"]
