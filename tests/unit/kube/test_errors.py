"""HTTP statuses map to the error classes callers branch on."""

from __future__ import annotations

import pytest

from podscaler.kube import errors


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (409, "Conflict", errors.Conflict),
        (409, "AlreadyExists", errors.AlreadyExists),
        (410, "Expired", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.ServerError),
        (503, "ServiceUnavailable", errors.ServerError),
        (418, "Teapot", errors.ApiError),
    ],
)
def test_status_to_class(status: int, reason: str, cls: type[errors.ApiError]) -> None:
    body = {"kind": "Status", "code": status, "reason": reason, "message": "it said so"}
    error = errors.error_for_status(status, "HTTP phrase", body)
    assert type(error) is cls
    assert (error.status, error.reason, error.message, error.body) == (
        status,
        reason,
        "it said so",
        body,
    )


def test_already_exists_is_a_conflict() -> None:
    assert issubclass(errors.AlreadyExists, errors.Conflict)


def test_non_status_body_keeps_the_http_phrase() -> None:
    error = errors.error_for_status(502, "Bad Gateway", "upstream died")
    assert isinstance(error, errors.ServerError)
    assert error.reason == "Bad Gateway"
    assert error.message == "upstream died"
