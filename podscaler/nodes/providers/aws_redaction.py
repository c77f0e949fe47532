"""Keeping AWS credentials out of the logs, botocore's debug logs included.

At DEBUG, botocore logs every request it sends — headers included, and the ``Authorization``
header names the access key id (``Credential=AKIA…/20260101/eu-west-1/autoscaling/…``) —
and the credential providers log where they found keys. podscaler's own messages never carry
credentials, but someone debugging a scale-up turns ``botocore`` to DEBUG sooner or later.

:class:`CredentialRedactor` is a :class:`logging.Filter` that formats each record, replaces
anything that looks like an AWS key id, a SigV4 credential scope or signature, a session token
header, and every secret value it was told about, and stores the result back as the record's
message (so every handler and formatter downstream sees only the redacted text).

A filter attached to a *logger* only sees records logged on that very logger, not its
children, so :func:`install_redaction` attaches the one shared filter to every botocore and
aiobotocore logger that exists (they are module-level loggers, created at import) and to the
root logger's handlers (which catches records from loggers created later).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Final

__all__ = ["CredentialRedactor", "install_redaction", "redact"]

REDACTED: Final = "[redacted]"

_PATTERNS: Final = (
    # access key ids: long-term (AKIA), temporary (ASIA), and role/user ids
    re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA|ANPA|ANVA|AGPA|APKA)[A-Z0-9]{12,}\b"),
    # SigV4: Credential=<key id>/<scope>, Signature=<hex>
    re.compile(r"(?<=Credential=)[^,\s'\"&]+"),
    re.compile(r"(?<=Signature=)[0-9a-fA-F]+"),
    # session tokens in headers or query strings
    re.compile(r"(?i)(?<=x-amz-security-token['\"]: b['\"])[^'\"]+"),
    re.compile(r"(?i)(?<=x-amz-security-token['\"]: ['\"])[^'\"]+"),
    re.compile(r"(?i)(?<=x-amz-security-token=)[^&\s'\"]+"),
    re.compile(r"(?i)(?<=x-amz-security-token: )\S+"),
    # key=value spellings the SDKs and shells use
    re.compile(r"(?i)(?<=aws_secret_access_key=)\S+"),
    re.compile(r"(?i)(?<=aws_session_token=)\S+"),
    re.compile(r"(?i)(?<=['\"]SecretAccessKey['\"]: ['\"])[^'\"]+"),
    re.compile(r"(?i)(?<=['\"]SessionToken['\"]: ['\"])[^'\"]+"),
)

#: Loggers whose children get the filter attached directly.
LOGGER_ROOTS: Final = ("botocore", "aiobotocore", "boto3", "urllib3")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class CredentialRedactor(logging.Filter):
    """Rewrites each record's message with credentials removed; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values to redact wherever they appear (secret keys, session tokens); values shorter
        than 8 characters are ignored (they would redact ordinary words)."""
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_podscaler_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own report
            return True
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        record.msg = redact(message, secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        record.__dict__["_podscaler_redacted"] = True
        return True


_REDACTOR: Final = CredentialRedactor()


def install_redaction(secrets: Iterable[str] = ()) -> CredentialRedactor:
    """Attach the process's one :class:`CredentialRedactor` (idempotent) and teach it
    ``secrets``; returns it."""
    _REDACTOR.add_secrets(secrets)
    manager = logging.Logger.manager
    names = [
        name
        for name in list(manager.loggerDict)
        if any(name == root or name.startswith(root + ".") for root in LOGGER_ROOTS)
    ]
    for name in {*LOGGER_ROOTS, *names}:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
    for handler in logging.getLogger().handlers:
        if _REDACTOR not in handler.filters:
            handler.addFilter(_REDACTOR)
    return _REDACTOR
