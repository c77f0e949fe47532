"""Typed errors of the AWS provider, each chained to the botocore/aiobotocore exception it
came from (``raise classify(...) from exc``).

The node autoscaler's loop treats every one of them as a :class:`NodeGroupError`: the loop
reports it (Event, status ConfigMap, metrics) and tries again on its next pass — it never
lets one escape as a crash. The subclasses tell it *what kind* of failure it was, which
decides what it does next::

    NodeGroupError                  (podscaler.nodes.providers.base)
     └── AwsError                   an AWS call failed; .operation, .code, .retryable
          ├── AwsThrottled          rate limited: retry on the next pass, nothing is wrong
          ├── AwsAccessDenied       the IAM policy (or the credentials) forbid it: an
          │                         operator must act; manifests/nodes/iam-policy.json
          ├── NodeGroupVanished     the ASG does not exist any more
          ├── AwsUnavailable        endpoint unreachable, timeout, 5xx, unreadable answer
          └── AwsRequestRefused     any other refusal (validation, scaling in progress, ...)

Messages are safe for Events and logs: they name the operation, AWS's error code and AWS's
message (cut to a bounded length, with anything that looks like an access key removed);
never request parameters or credentials.
"""

from __future__ import annotations

import re
from typing import Final

from podscaler.nodes.providers.base import NodeGroupError

__all__ = [
    "AwsAccessDenied",
    "AwsError",
    "AwsRequestRefused",
    "AwsThrottled",
    "AwsUnavailable",
    "NodeGroupVanished",
    "classify",
]

#: Error codes AWS uses for rate limiting (botocore's retry handler knows the same set).
THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "BandwidthLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
#: Error codes meaning the caller may not do this (policy, or the credentials themselves).
ACCESS_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "MissingAuthenticationToken",
        "OptInRequired",
    }
)
#: Refusals that go away by themselves (another change of the group is still running).
BUSY_CODES: Final = frozenset({"ScalingActivityInProgress", "ResourceContention"})

_MESSAGE_LIMIT: Final = 300
_KEY_ID: Final = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")


def _safe(text: str) -> str:
    text = _KEY_ID.sub("[redacted]", " ".join(text.split()))
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


class AwsError(NodeGroupError):
    """An AWS API call failed. ``operation`` is the API action (``SetDesiredCapacity``),
    ``code`` AWS's error code (or the exception's type for failures without one),
    ``retryable`` whether trying again later may succeed without anyone acting."""

    retryable: bool = False

    def __init__(self, operation: str, code: str, message: str, *, group: str = "") -> None:
        self.operation = operation
        self.code = code
        self.aws_message = _safe(message)
        self.group = group
        where = f" (node group {group})" if group else ""
        super().__init__(f"{operation}{where}: {code}: {self.aws_message}".rstrip(": "))


class AwsThrottled(AwsError):
    retryable = True


class AwsAccessDenied(AwsError):
    """Fix the IAM policy or the credentials; retrying will not help."""


class NodeGroupVanished(AwsError):
    """The Auto Scaling group is gone (deleted, renamed, or out of this account/region)."""


class AwsUnavailable(AwsError):
    retryable = True


class AwsRequestRefused(AwsError):
    def __init__(
        self, operation: str, code: str, message: str, *, group: str = "", retryable: bool = False
    ) -> None:
        super().__init__(operation, code, message, group=group)
        self.retryable = retryable


def _client_error_parts(exc: BaseException) -> tuple[str, str, int] | None:
    """(code, message, HTTP status) of a botocore ``ClientError``, read by shape rather than
    by class so this module needs no botocore import."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    if not isinstance(error, dict):
        return None
    meta = response.get("ResponseMetadata")
    status = meta.get("HTTPStatusCode", 0) if isinstance(meta, dict) else 0
    return str(error.get("Code") or ""), str(error.get("Message") or ""), int(status or 0)


def _looks_not_found(code: str, message: str) -> bool:
    lowered = message.lower()
    return code in {"ValidationError", "ResourceNotFound", "ResourceNotFoundException"} and (
        "not found" in lowered or "does not exist" in lowered
    )


def classify(operation: str, exc: BaseException, *, group: str = "") -> AwsError:
    """The typed error for ``exc`` raised by ``operation``; the caller chains it
    (``raise classify(op, exc) from exc``)."""
    parts = _client_error_parts(exc)
    if parts is not None:
        code, message, status = parts
        if code in THROTTLING_CODES or status == 429:
            return AwsThrottled(operation, code or "Throttling", message, group=group)
        if code in ACCESS_CODES or status == 403:
            return AwsAccessDenied(operation, code or "AccessDenied", message, group=group)
        if _looks_not_found(code, message):
            return NodeGroupVanished(operation, code, message, group=group)
        if status >= 500:
            return AwsUnavailable(operation, code or f"HTTP{status}", message, group=group)
        return AwsRequestRefused(
            operation, code or "Unknown", message, group=group, retryable=code in BUSY_CODES
        )
    kind = type(exc).__name__
    if kind in {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return AwsAccessDenied(operation, kind, "no usable AWS credentials", group=group)
    if kind in {"NoRegionError", "ParamValidationError"}:
        return AwsRequestRefused(operation, kind, str(exc), group=group)
    if kind == "ResponseParserError":
        # moto answers an HTML 500 page for some unknown names; AWS itself never should.
        return AwsUnavailable(
            operation, kind, "the endpoint's answer could not be read", group=group
        )
    return AwsUnavailable(operation, kind, str(exc) or kind, group=group)
