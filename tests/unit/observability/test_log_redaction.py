"""The log formatters redact the whole line: message, exception and traceback, stack.

They are the last step before a line is written. The JSON formatter used to format
exceptions afresh from ``exc_info``, bypassing both the redaction filters had applied to the
record and any redaction at all: a traceback quoting an upstream's answer went out verbatim.
"""

from __future__ import annotations

import base64
import json
import logging
import sys

from podscaler.observability.logging import JsonFormatter, TextFormatter
from podscaler.observability.redaction import PROCESS_SECRETS, REDACTED

PASSWORD = "PASSW0RD_QQ77"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


def _record(message: str, exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    return logging.LogRecord("scalers.prometheus", logging.ERROR, __file__, 1, message, (), info)


def test_both_formatters_redact_message_exception_and_traceback() -> None:
    PROCESS_SECRETS.remember(("Secret", "test", "creds"), [PASSWORD], [("alice", PASSWORD)])
    try:
        record = _record(
            f"poll failed with password {PASSWORD}",
            ValueError(f"upstream said: Authorization: Basic {BASIC}"),
        )
        record.stack_info = f"stack with {PASSWORD}"
        for formatter in (JsonFormatter(), TextFormatter()):
            line = formatter.format(record)
            assert PASSWORD not in line, line
            assert BASIC not in line, line
            assert "ValueError" in line
            assert REDACTED in line
        document = json.loads(JsonFormatter().format(record))
        assert set(document) >= {"msg", "exc", "stack"}
    finally:
        PROCESS_SECRETS.forget(("Secret", "test", "creds"))


def test_the_json_formatter_keeps_a_filters_redacted_exception_text() -> None:
    record = _record("failed", ValueError(f"secret {PASSWORD}"))
    record.exc_text = "ValueError: secret [redacted]"
    assert PASSWORD not in JsonFormatter().format(record)
