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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from aiohttp.http_exceptions import HttpProcessingError

from podscaler.api.flags import flag
from podscaler.observability.redaction import PROCESS_SECRETS

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "JsonFormatter",
    "LoggingOptions",
    "MalformedRequests",
    "TextFormatter",
    "configure_logging",
    "quiet_malformed_requests",
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


class MalformedRequests(logging.Filter):
    """One short line for a client's malformed request, at most one per interval.

    aiohttp logs a request it cannot parse (an over-long request line or header, a bad method)
    as an ERROR with a traceback — before any authentication, so every unauthenticated caller
    could write a traceback per request, and the exception's text quotes the start of the
    request line (a token in a query string included). This filter, on the ``aiohttp.server``
    logger, rewrites such a record to one INFO line naming the peer, the error type and the
    status — never the request's bytes — and drops further ones for ``interval_seconds``,
    counting them into the next line. Errors of our own handlers pass unchanged.
    """

    def __init__(
        self, interval_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._suppressed = 0

    def reset(self) -> None:
        """Start a new interval: the next malformed request is logged."""
        with self._lock:
            self._next = float("-inf")
            self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        now = self._clock()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return False
            self._next = now + self.interval_seconds
            suppressed, self._suppressed = self._suppressed, 0
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        more = f" ({suppressed} more since the last such line)" if suppressed else ""
        record.msg = "refused a malformed request from %s: %s (%s)%s"
        record.args = (peer, type(exc).__name__, exc.code, more)
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_malformed_requests() -> MalformedRequests:
    """Attach the process's one :class:`MalformedRequests` to ``aiohttp.server`` (idempotent)."""
    logger = logging.getLogger("aiohttp.server")
    for existing in logger.filters:
        if isinstance(existing, MalformedRequests):
            return existing
    installed = MalformedRequests()
    logger.addFilter(installed)
    return installed


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
    quiet_malformed_requests()
