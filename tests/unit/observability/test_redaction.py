"""Redaction: secrets in every derived form, and credential-shaped text."""

from __future__ import annotations

import base64
import json
import string
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.observability.redaction import (
    MAX_ERROR_CHARS,
    REDACTED,
    Redactor,
    excerpt,
    redact_patterns,
)

PASSWORD = "PASSW0RD_QQ77"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


def test_the_echoed_basic_header_is_redacted_in_every_spelling() -> None:
    redactor = Redactor.for_secrets([PASSWORD], [("alice", PASSWORD)])
    for text in (
        f"401 unauthorized: Authorization: Basic {BASIC}",
        f'{{"headers": {{"Authorization": ["Basic {BASIC}"]}}}}',
        f"bare {BASIC.rstrip('=')} in a body",
        f"http://alice:{quote(PASSWORD, safe='')}@prometheus:9090/api",
        f"?password={quote_plus(PASSWORD)}&x=1",
    ):
        out = redactor.redact(text)
        assert PASSWORD not in out, out
        assert BASIC.rstrip("=") not in out, out
        assert REDACTED in out


def test_credential_shaped_text_is_redacted_without_knowing_the_secret() -> None:
    cases = {
        "Authorization: Bearer eyJhbGciOi.J9abc": "Authorization: Bearer [redacted]",
        "{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAQX7EXAMPLEKEYID9/2026/eu/sqs"
        "/aws4_request, SignedHeaders=host, Signature=0af3'}": "{'Authorization': "
        "b'AWS4-HMAC-SHA256 [redacted]'}",
        "key AKIAQX7EXAMPLEKEYID9 used": "key [redacted] used",
        "https://user:pw@host/x?token=abc&y=2": "https://[redacted]@host/x?token=[redacted]&y=2",
        "X-Api-Key: 12345678": "X-Api-Key: [redacted]",
    }
    for text, expected in cases.items():
        assert redact_patterns(text) == expected


def test_ordinary_words_survive() -> None:
    text = "Basic authentication is required; bearer token missing; the token was refused"
    assert Redactor.for_secrets(["abc"]).redact(text) == text


def test_an_excerpt_is_one_short_line() -> None:
    text = "line one\nline two " + "x" * 1000
    out = excerpt(text)
    assert "\n" not in out
    assert len(out) == MAX_ERROR_CHARS
    assert out.endswith("…")


secrets = st.text(string.printable.strip(), min_size=4, max_size=40)


@settings(deadline=None, max_examples=200)
@given(secret=secrets, before=st.text(max_size=30), after=st.text(max_size=30))
def test_no_derived_form_survives(secret: str, before: str, after: str) -> None:
    redactor = Redactor.for_secrets([secret], [("user", secret)])
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"user:{secret}".encode()).decode(),
        json.dumps(secret)[1:-1],
    }
    for form in forms:
        out = redactor.redact(f"{before}{form}{after}")
        assert form not in out or form in before or form in after or form in REDACTED
