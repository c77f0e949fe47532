"""Errors of Kubernetes I/O, one class per HTTP status that callers act on.

Callers branch on *what happened* (the object is gone, someone else wrote first, the watch is
too old), not on numbers, so each status that changes a caller's next step has its own class.
Every error is raised ``from`` the transport error that caused it, so the original stays
visible in tracebacks.

::

    KubeError
    ├── TransportError          the request did not get an HTTP answer (connect, reset, timeout)
    ├── ApiError                the server answered with a non-2xx status (.status, .reason, .body)
    │   ├── BadRequest          400
    │   ├── Unauthorized        401
    │   ├── Forbidden           403
    │   ├── NotFound            404
    │   ├── MethodNotAllowed    405
    │   ├── Conflict            409 (optimistic-concurrency conflict)
    │   │   └── AlreadyExists   409 with reason AlreadyExists (create of an existing name)
    │   ├── Gone                410 (resourceVersion too old: relist)
    │   ├── Invalid             422 (validation failed)
    │   ├── TooManyRequests     429
    │   └── ServerError         5xx
    └── NoScaleSubresource      the kind has no /scale (a configuration error, not an API one)
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Base of every error raised by ``podscaler.kube``."""


class TransportError(KubeError):
    """No HTTP answer: connection refused or reset, TLS failure, or a client-side timeout."""


class ApiError(KubeError):
    """The API server answered with a non-2xx status.

    ``reason`` is the machine-readable ``Status.reason`` (``NotFound``, ``AlreadyExists``,
    ``Expired`` …) when the server sent a Status, else the HTTP reason phrase; ``body`` is the
    decoded JSON answer (a dict) or the raw text when it was not JSON.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


class BadRequest(ApiError):
    """400: the request was malformed (bad selector, bad patch)."""


class Unauthorized(ApiError):
    """401: the credentials were not accepted (an expired token, for one)."""


class Forbidden(ApiError):
    """403: RBAC does not allow the request."""


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class MethodNotAllowed(ApiError):
    """405: the verb is not served for this path."""


class Conflict(ApiError):
    """409: the write lost an optimistic-concurrency race; re-read and try again."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: a create named an object that exists."""


class Gone(ApiError):
    """410: the requested resourceVersion is too old (compacted); list again."""


class Invalid(ApiError):
    """422: the object failed validation."""


class TooManyRequests(ApiError):
    """429: the server throttled us; back off."""


class ServerError(ApiError):
    """5xx: the server failed; usually worth a retry with backoff."""


def is_too_large_resource_version(error: BaseException) -> bool:
    """Whether ``error`` is kube-apiserver's "Too large resource version" (a 504 Timeout with
    the cause ``ResourceVersionTooLarge``): the server has not reached the version asked for —
    it restarted with an empty store, or it is behind. client-go lists from scratch then."""
    if not isinstance(error, ApiError) or error.status != 504 or not isinstance(error.body, dict):
        return False
    causes = (error.body.get("details") or {}).get("causes") or []
    return any(isinstance(c, dict) and c.get("reason") == "ResourceVersionTooLarge" for c in causes)


class NoScaleSubresource(KubeError):
    """The target kind does not declare a ``/scale`` subresource, so it cannot be scaled."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def error_for_status(status: int, http_reason: str, body: dict[str, Any] | str | None) -> ApiError:
    """Build the most specific ApiError for an answer (or a watch ERROR event's Status)."""
    reason = http_reason
    message = ""
    if isinstance(body, dict):
        reason = str(body.get("reason") or http_reason)
        message = str(body.get("message") or "")
    elif isinstance(body, str):
        message = body[:500]
    cls: type[ApiError]
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ApiError)
    return cls(status, reason, message, body)
