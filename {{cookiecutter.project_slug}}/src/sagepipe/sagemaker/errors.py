"""Turn AWS failures into one line: the resource, what AWS said, the likely fix."""

from __future__ import annotations

from typing import Any


class AwsError(RuntimeError):
    """A failed AWS call, already phrased as one line for the user."""


# error code -> the likely fix. Codes are the ones botocore puts in
# ``error.response["Error"]["Code"]`` (S3 and SageMaker spellings).
_FIXES = {
    "AccessDenied": "the caller lacks an IAM permission for this call; check the policy",
    "AccessDeniedException": "the caller lacks an IAM permission for this call; check the policy",
    "UnauthorizedOperation": "the caller lacks an IAM permission for this call; check the policy",
    "NoSuchBucket": "create the bucket (infra/ CloudFormation) or set MLOPS_BUCKET",
    "404": "the object or bucket does not exist; create it or check the name",
    "NotFound": "the object or bucket does not exist; create it or check the name",
    "301": "the bucket is in another region; set MLOPS_REGION to the bucket's region or use "
    "a bucket in this one",
    "PermanentRedirect": "the bucket is in another region; set MLOPS_REGION to the bucket's "
    "region or use a bucket in this one",
    "AuthorizationHeaderMalformed": "the bucket is in another region; set MLOPS_REGION to the "
    "bucket's region",
    "IllegalLocationConstraintException": "the bucket is in another region; set MLOPS_REGION",
    "ResourceLimitExceeded": "an account quota is reached; request an increase in Service "
    "Quotas or use a smaller instance type/count",
    "ThrottlingException": "AWS is throttling this account; wait a minute and retry "
    "(or raise AWS_MAX_ATTEMPTS)",
    "Throttling": "AWS is throttling this account; wait a minute and retry "
    "(or raise AWS_MAX_ATTEMPTS)",
    "SlowDown": "S3 is throttling this prefix; wait a minute and retry",
    "ResourceNotFound": "it does not exist (yet); check the name, or create it first",
    "ResourceInUse": "it is busy with another change; wait until it settles and retry",
    "ExpiredToken": "the credentials expired; refresh them (aws sso login / new session)",
    "ExpiredTokenException": "the credentials expired; refresh them",
    "InvalidClientTokenId": "the access key is not valid; check AWS_PROFILE or the keys",
    "UnrecognizedClientException": "the access key is not valid; check AWS_PROFILE or the keys",
}


def _fix_for(code: str, message: str) -> str:
    lowered = message.lower()
    role_words = ("assume", "not authorized", "arn")
    if "role" in lowered and any(word in lowered for word in role_words):
        return (
            "the execution role is missing or SageMaker may not assume it; create it "
            "(infra/ CloudFormation) and set MLOPS_ROLE_ARN to its ARN"
        )
    if code == "ValidationException" and "does not exist" in lowered:
        return "it does not exist (yet); check the name, or create it first"
    return _FIXES.get(code, "see the message; rerun with AWS_DEBUG=1 for the full response")


def describe_failure(action: str, error: BaseException) -> str:
    """One line for a failed ``action`` (e.g. "creating endpoint churn-staging")."""
    response: dict[str, Any] = getattr(error, "response", None) or {}
    if response:
        err = response.get("Error") or {}
        code = str(err.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        message = " ".join(str(err.get("Message") or code).split())
        return f"{action} failed: AWS said {code}: {message}; {_fix_for(code, message)}"
    name = type(error).__name__
    text = " ".join(str(error).split())
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        fix = "configure credentials (AWS_PROFILE, aws configure or an instance role)"
    elif name in ("NoRegionError",):
        fix = "set MLOPS_REGION or AWS_REGION"
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        fix = "check the network, the region name and AWS_ENDPOINT_URL"
    else:
        fix = "rerun with AWS_DEBUG=1 for the full response"
    return f"{action} failed: {text}; {fix}"


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, else None."""
    response = getattr(error, "response", None) or {}
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


class calling:  # a context manager, named for how it reads: ``with calling("x"):``
    """Say what is about to happen, and turn any AWS failure inside into :class:`AwsError`."""

    def __init__(self, action: str, echo: Any = None) -> None:
        self.action = action
        if echo is not None:
            echo(f"{action} ...")

    def __enter__(self) -> calling:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        if error is None or isinstance(error, AwsError):
            return
        module = type(error).__module__ or ""
        if module.startswith(("botocore", "boto3", "s3transfer")):
            raise AwsError(describe_failure(self.action, error)) from None
