"""The one image table: image URI -> the environment it stands for (DESIGN section 8).

A runtime is an image plus what it really contains: the Python minor version and the
packages (with versions) a job can import. Entries for AWS's framework images are read
from the containers' own Dockerfiles and requirement files; ``source`` says where. The
same table gives the offline image URIs the compiler writes (no AWS call), so the URI a
definition names and the environment the local job runs in can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Accounts of SageMaker's first-party framework registries per region (the same
# registries serve sagemaker-scikit-learn and sagemaker-xgboost, training, processing and
# inference alike; public facts of the SageMaker SDK's image_uri_config).
FRAMEWORK_ACCOUNTS = {
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

_SKLEARN_REPO = "https://github.com/aws/sagemaker-scikit-learn-container"
_XGBOOST_REPO = "https://github.com/aws/sagemaker-xgboost-container"


@dataclass(frozen=True)
class Runtime:
    """What one image stands for: its Python minor and the packages a job imports.

    ``packages`` are exact pins (``name==version``) installed into the local environment;
    ``key_packages`` are the names the run history records per job. ``repository`` and
    ``version`` identify the image (``<registry>/<repository>:<version>[-suffix]``).
    """

    name: str
    repository: str
    version: str
    python: str  # "3.9"
    packages: tuple[str, ...]
    key_packages: tuple[str, ...]
    source: str
    tag_suffix: str = ""
    # A runtime that stands for "the project's lock" rather than a fixed pin list.
    lock_file: str | None = None

    @property
    def tag(self) -> str:
        """The image tag the compiler writes for this runtime."""
        return self.version + self.tag_suffix

    def pinned(self, name: str) -> str | None:
        """The pinned version of package ``name`` (case- and ``-``/``_``-insensitive)."""
        wanted = normalise(name)
        for pin in self.packages:
            package, _, version = pin.partition("==")
            if normalise(package) == wanted:
                return version
        return None


def normalise(name: str) -> str:
    """PEP 503 name normalisation: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


# Each entry: the pins of the packages jobs import, exactly as the image's files state
# them. Serving stacks (multi-model-server, sagemaker-inference, Flask, gunicorn) are left
# out: locally, sagepipe's own server speaks the hosting contract.
AWS_RUNTIMES: tuple[Runtime, ...] = (
    Runtime(
        name="sklearn-1.2-1",
        repository="sagemaker-scikit-learn",
        version="1.2-1",
        tag_suffix="-cpu-py3",
        python="3.9",
        packages=(
            "scikit-learn==1.2.1",
            "numpy==1.24.1",
            "pandas==1.1.3",
            "scipy==1.8.0",
            "boto3==1.28.57",
            "python-dateutil==2.8.1",
            "six==1.15.0",
            "PyYAML==6.0.1",
        ),
        key_packages=("scikit-learn", "numpy", "pandas", "scipy", "boto3"),
        source=(
            f"{_SKLEARN_REPO} branch 1.2-1 @ b440c40d318284336acb57b2dd554f7fa1e39fe0: "
            "docker/1.2-1/base/Dockerfile.cpu (ARG PYTHON_VERSION=3.9), requirements.txt"
        ),
    ),
    Runtime(
        name="sklearn-1.4-2",
        repository="sagemaker-scikit-learn",
        version="1.4-2",
        tag_suffix="-cpu-py3",
        python="3.12",
        packages=(
            "scikit-learn==1.4.2",
            "numpy==2.1.0",
            "pandas==2.3.2",
            "pyarrow==17.0.0",
            "scipy==1.14.1",
            "boto3==1.28.57",
            "six==1.16.0",
            "PyYAML==6.0.1",
        ),
        key_packages=("scikit-learn", "numpy", "pandas", "scipy", "boto3"),
        source=(
            f"{_SKLEARN_REPO} tag v1.4-2-py312 @ 85e9fb98dd8ca73af7deecaf1ee1da2d0860dbb0: "
            "docker/1.4-2-py312/base/Dockerfile.cpu (PYTHON_VERSION=3.12, numpy 2.1.0, "
            "scikit-learn 1.4.2, pyarrow 17.0.0), requirements.txt (pandas 2.3.2; it leaves "
            "scipy unpinned, >=1.9.0: 1.14.1, built for numpy 2.x, is pinned here)"
        ),
    ),
    Runtime(
        name="xgboost-1.7-1",
        repository="sagemaker-xgboost",
        version="1.7-1",
        python="3.8",
        packages=(
            "xgboost==1.7.4",
            "numpy==1.19.2",
            "pandas==1.2.4",
            "scipy==1.6.2",
            "scikit-learn==0.24.1",
            "boto3==1.17.52",
            "python-dateutil==2.8.1",
            "PyYAML==5.4.1",
        ),
        key_packages=("xgboost", "numpy", "pandas", "scipy", "scikit-learn", "boto3"),
        source=(
            f"{_XGBOOST_REPO} tag v1.7-1 @ 6dcd442d6af7a67abc0ea5139e0e9c4326edd62b: "
            "docker/1.7-1/base/Dockerfile.cpu (ARG PYTHON_VERSION=3.8.13, "
            "XGBOOST_VERSION=1.7.4), requirements.txt"
        ),
    ),
    Runtime(
        name="xgboost-3.0-5",
        repository="sagemaker-xgboost",
        version="3.0-5",
        python="3.10",
        packages=(
            "xgboost==3.0.5",
            "numpy==2.1.0",
            "pandas==2.2.3",
            "pyarrow==22.0.0",
            "scipy==1.15.0",
            "scikit-learn==1.5.2",
            "boto3==1.17.52",
            "python-dateutil==2.8.2",
            "PyYAML==6.0.1",
        ),
        key_packages=("xgboost", "numpy", "pandas", "scipy", "scikit-learn", "boto3"),
        source=(
            f"{_XGBOOST_REPO} tag v3.0-5 @ c988a0e56fa392ed34fa401812d29830e7049cce: "
            "docker/3.0-5/base/Dockerfile.cpu (ARG PYTHON_VERSION=3.10, "
            "XGBOOST_VERSION=3.0.5, numpy 2.1.0, pyarrow 22.0.0, pandas 2.2.3), "
            "requirements.txt"
        ),
    ),
)

SKLEARN_VERSIONS = ("0.23-1", "1.0-1", "1.2-1", "1.4-2")
DEFAULT_SKLEARN_VERSION = "1.2-1"
XGBOOST_VERSIONS = ("1.7-1", "3.0-5")

_IMAGE = re.compile(
    r"^(?:(?P<registry>[^/]+\.[^/]+)/)?(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """The parts of an image URI: ``[registry/]repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str
    digest: str = ""


def parse_image(uri: str) -> ImageRef | None:
    """Split an image URI into its parts; None when it is not an image URI at all."""
    match = _IMAGE.match(uri.strip())
    if match is None:
        return None
    return ImageRef(
        registry=match.group("registry") or "",
        repository=match.group("repository"),
        tag=match.group("tag") or "latest",
        digest=match.group("digest") or "",
    )


def framework_runtime(uri: str) -> Runtime | None:
    """The AWS framework runtime ``uri`` names (any region, any tag suffix), or None."""
    ref = parse_image(uri)
    if ref is None:
        return None
    for runtime in AWS_RUNTIMES:
        if ref.repository == runtime.repository and (
            ref.tag == runtime.version or ref.tag.startswith(runtime.version + "-")
        ):
            return runtime
    return None


def ecr_registry(account: str, region: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com`` (``.com.cn`` in China regions)."""
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def framework_image_uri(framework: str, region: str, version: str) -> str:
    """The URI of SageMaker's ``framework`` image (``sklearn`` or ``xgboost``) in ``region``.

    Raises ``ValueError`` with a one-line message for an unknown region or version.
    """
    versions = {"sklearn": SKLEARN_VERSIONS, "xgboost": XGBOOST_VERSIONS}.get(framework)
    if versions is None:
        raise ValueError(f"framework {framework!r} is unknown; use 'sklearn' or 'xgboost'")
    label = {"sklearn": "scikit-learn", "xgboost": "XGBoost"}[framework]
    account = FRAMEWORK_ACCOUNTS.get(region)
    if account is None:
        raise ValueError(
            f"region {region!r} has no known {label} image; use one of "
            f"{', '.join(sorted(FRAMEWORK_ACCOUNTS))} or pass image_uri= explicitly"
        )
    if version not in versions:
        raise ValueError(
            f"{label} image version {version!r} is unknown; use one of {', '.join(versions)}"
        )
    if framework == "sklearn":
        return f"{ecr_registry(account, region)}/sagemaker-scikit-learn:{version}-cpu-py3"
    return f"{ecr_registry(account, region)}/sagemaker-xgboost:{version}"


def lock_tag(lock_bytes: bytes) -> str:
    """The project image's tag: the first 12 hex chars of sha256(requirements.lock)."""
    import hashlib

    return hashlib.sha256(lock_bytes).hexdigest()[:12]


def project_image_uri(repository: str, region: str, account: str, lock_bytes: bytes) -> str:
    """The project's own image on ECR, tagged by its lock file's content."""
    return f"{ecr_registry(account, region)}/{repository}:{lock_tag(lock_bytes)}"
