"""Errors as kube-apiserver answers them: a ``metav1.Status`` document with the HTTP code.

Every server behind kube-apiserver answers its failures this way, because client-go shows
``Status.message`` to the user (``kubectl describe hpa``, an admission denial) and branches on
``code``. Pure: no aiohttp here, so request parsers can raise :class:`StatusError` and stay
testable without a server.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["StatusError", "status_body"]

_REASONS: Final = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "Timeout",
    413: "RequestEntityTooLarge",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class StatusError(Exception):
    """An error answered as a ``metav1.Status`` with HTTP ``code``.

    The message goes to the client verbatim: it names what was wrong with the request, never a
    credential.
    """

    def __init__(self, code: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.message, reason=self.reason)


def status_body(code: int, message: str, *, reason: str | None = None) -> dict[str, Any]:
    """A ``metav1.Status`` failure document, as kube-apiserver writes them."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }
