"""Logging for the operator process: ``text`` for people, ``json`` (one object per line) for
log pipelines, as ``--log-format`` chooses.

Log records carry messages built by the code, never trigger metadata or authentication
parameters: the controllers log names of objects, triggers and metrics and the scalers'
error messages (which the scalers keep free of secrets), nothing else. Libraries log what they
like at debug level (an HTTP client's headers, botocore's signed requests), and an exception's
message or traceback may quote an upstream's answer, so both formatters pass the *whole*
formatted record — message, exception and traceback, stack — through the process's
:data:`~podscaler.observability.redaction.PROCESS_SECRETS` (every Secret value read, with its
derived forms, and credential-shaped text) as the last step before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from podscaler.api.flags import flag
from podscaler.observability.redaction import PROCESS_SECRETS

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "JsonFormatter",
    "LoggingOptions",
    "TextFormatter",
    "configure_logging",
]

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class LoggingOptions:
    """``--log-format`` and ``--log-level`` of the commands that run the operator."""

    format: str = flag("text", name="log-format", choices=LOG_FORMATS, help="text or json.")
    level: str = flag("info", name="log-level", choices=LOG_LEVELS, help="The least to log.")

    def configure(self) -> None:
        configure_logging(self.format, self.level)


class TextFormatter(logging.Formatter):
    """``time level logger: message`` (+ traceback), redacted as a whole."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return PROCESS_SECRETS.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg`` (+ ``exc``,
    ``stack``), each value redacted before it is encoded (a secret's JSON-escaped spelling
    never has to be matched)."""

    def format(self, record: logging.LogRecord) -> str:
        redact = PROCESS_SECRETS.redactor().redact
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if record.exc_info or record.exc_text:
            # exc_text may hold a filter's redacted rendering; formatting exc_info afresh
            # would bypass it, and the exception's text is no safer than the message.
            text = record.exc_text
            if not text and record.exc_info:
                text = self.formatException(record.exc_info)
            out["exc"] = redact(text or "")
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, separators=(",", ":"))


def configure_logging(log_format: str = "text", level: str = "info") -> None:
    """Configure the root logger once for the process (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would log every scrape and probe.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
