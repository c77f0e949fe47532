"""Keeping AWS credentials out of the logs, botocore's debug logs included.

At DEBUG, botocore logs every request it sends — headers included, and the ``Authorization``
header names the access key id (``Credential=AKIA…/20260101/eu-west-1/autoscaling/…``) —
and the credential providers log where they found keys. podscaler's own messages never carry
credentials, but someone debugging a scale-up turns ``botocore`` to DEBUG sooner or later.

What is redacted, and how, is :mod:`podscaler.observability.redaction`'s: AWS key ids, SigV4
credential scopes and signatures, session-token headers and ``aws_*=`` assignments are among
its credential-shaped patterns, and the secret values this provider was given are matched with
their derived forms (base64, percent-encoded, escaped). This module only attaches it where
botocore's records pass: :class:`CredentialRedactor` is a :class:`logging.Filter` that formats
each record, redacts it, and stores the result back as the record's message (so every handler
and formatter downstream sees only the redacted text).

A filter attached to a *logger* only sees records logged on that very logger, not its
children, so :func:`install_redaction` attaches the one shared filter to every botocore and
aiobotocore logger that exists (they are module-level loggers, created at import) and to the
root logger's handlers (which catches records from loggers created later).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Final

from podscaler.observability.redaction import REDACTED, Redactor

__all__ = ["REDACTED", "CredentialRedactor", "install_redaction", "redact"]

#: Loggers whose children get the filter attached directly.
LOGGER_ROOTS: Final = ("botocore", "aiobotocore", "boto3", "urllib3")

#: Shorter values are not taken as secrets here: they would redact ordinary words.
MIN_SECRET_CHARS: Final = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials (and *secrets*, in every derived form) replaced."""
    return Redactor.for_secrets(s for s in secrets if s).redact(text)


class CredentialRedactor(logging.Filter):
    """Rewrites each record's message with credentials removed; never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._redactor = Redactor()
        self._lock = threading.Lock()

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Values to redact wherever they appear (secret keys, session tokens); values shorter
        than :data:`MIN_SECRET_CHARS` are ignored."""
        with self._lock:
            before = len(self._secrets)
            self._secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_CHARS)
            if len(self._secrets) != before:
                self._redactor = Redactor.for_secrets(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_podscaler_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own report
            return True
        with self._lock:
            redactor = self._redactor
        record.msg = redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.redact(record.exc_text)
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
