"""Logging for the operator process: ``text`` for people, ``json`` (one object per line) for
log pipelines, as ``--log-format`` chooses.

Log records carry messages built by the code, never trigger metadata or authentication
parameters: the controllers log names of objects, triggers and metrics and the scalers'
error messages (which the scalers keep free of secrets), nothing else.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from podscaler.api.flags import flag

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "JsonFormatter", "LoggingOptions", "configure_logging"]

LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class LoggingOptions:
    """``--log-format`` and ``--log-level`` of the commands that run the operator."""

    format: str = flag("text", name="log-format", choices=LOG_FORMATS, help="text or json.")
    level: str = flag("info", name="log-level", choices=LOG_LEVELS, help="The least to log.")

    def configure(self) -> None:
        configure_logging(self.format, self.level)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg`` (+ ``exc``)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def configure_logging(log_format: str = "text", level: str = "info") -> None:
    """Configure the root logger once for the process (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would log every scrape and probe.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
