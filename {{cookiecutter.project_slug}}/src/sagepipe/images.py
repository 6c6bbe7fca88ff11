"""Offline URIs of SageMaker's scikit-learn framework images (no AWS call).

The registry accounts are public facts of SageMaker's image catalogue; the same account
serves training, processing and inference images of ``sagemaker-scikit-learn``.
"""

from __future__ import annotations

from .errors import GraphError

SKLEARN_VERSIONS = ("0.23-1", "1.0-1", "1.2-1")
DEFAULT_SKLEARN_VERSION = "1.2-1"

_SKLEARN_ACCOUNTS = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}


def sklearn_image_uri(region: str, version: str = DEFAULT_SKLEARN_VERSION) -> str:
    """Return the scikit-learn framework image URI for ``region`` and ``version``."""
    account = _SKLEARN_ACCOUNTS.get(region)
    if account is None:
        raise GraphError(
            f"region {region!r} has no known scikit-learn image; use one of "
            f"{', '.join(sorted(_SKLEARN_ACCOUNTS))} or pass image_uri= explicitly"
        )
    if version not in SKLEARN_VERSIONS:
        raise GraphError(
            f"scikit-learn image version {version!r} is unknown; use one of "
            f"{', '.join(SKLEARN_VERSIONS)}"
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}/sagemaker-scikit-learn:{version}-cpu-py3"
