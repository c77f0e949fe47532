"""Kubernetes ``Status`` errors, raised anywhere in the embedded API server and rendered once.

The store and the HTTP front raise :class:`ApiError` subclasses named after the Kubernetes
``StatusReason`` they carry; the front's middleware turns them into ``Status`` JSON with the
matching HTTP code, which is what clients (kubectl, client-go, kubernetes-asyncio) branch on.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error with the HTTP code, reason and details of a Kubernetes ``Status``."""

    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        group: str = "",
        kind: str = "",
        causes: list[dict[str, str]] | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []
        self.retry_after_seconds = retry_after_seconds

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del out["reason"]  # upstream's StatusReasonUnknown is "", omitted from the JSON
        if details:
            out["details"] = details
        return out


class UnknownError(ApiError):
    """A 500 without a reason: what kube-apiserver answers for an error that is not an API
    status (its storage layer's, passed through as ``StatusReasonUnknown``)."""

    reason = ""


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class NotFound(ApiError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptable(ApiError):
    code = 406
    reason = "NotAcceptable"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    code = 410
    reason = "Expired"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class Timeout(ApiError):
    code = 504
    reason = "Timeout"


def too_large_resource_version(wanted: int, current: int, retry_after_seconds: int) -> Timeout:
    """A read from a resourceVersion the server has not reached, as kube-apiserver's storage
    words it (``storage.NewTooLargeResourceVersionError``): a 504 Timeout whose cause
    ``ResourceVersionTooLarge`` clients look for (client-go then lists from scratch)."""
    return Timeout(
        f"Timeout: Too large resource version: {wanted}, current: {current}",
        causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        retry_after_seconds=retry_after_seconds or None,
    )


def not_found(group_resource: str, name: str, *, group: str = "", kind: str = "") -> NotFound:
    """``deployments.apps "web" not found`` — the message shape kubectl prints."""
    return NotFound(f'{group_resource} "{name}" not found', name=name, group=group, kind=kind)


def invalid(
    kind: str, name: str, causes: list[tuple[str, str, str]], *, group: str = ""
) -> Invalid:
    """An Invalid (422) error from ``(field, reason, message)`` causes, as upstream words it."""
    text = ", ".join(f"{f}: {m}" for f, _r, m in causes)
    return Invalid(
        f'{kind}.{group} "{name}" is invalid: {text}'
        if group
        else f'{kind} "{name}" is invalid: {text}',
        name=name,
        group=group,
        kind=kind,
        causes=[{"field": f, "reason": r, "message": m} for f, r, m in causes],
    )
