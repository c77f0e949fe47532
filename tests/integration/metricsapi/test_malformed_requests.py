"""Malformed requests before authentication log one short line, not a traceback each
(issue 17 §9).

An unauthenticated client sending over-long request lines made aiohttp log an ERROR with a
traceback per request — whose text quoted the start of the request line, a token in its
query string included. Against the real metrics API over TLS: every such request is still
answered 400, the log says so once per interval in one line naming the peer and the error
type, and no byte of the request reaches the log.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest

from podscaler.metricsapi.server import MetricsApiServer
from podscaler.observability.logging import MalformedRequests

TOKEN = "tok_LEAKME_7781"


async def _over_long_request(api: MetricsApiServer) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port, ssl=context)
    try:
        path = f"/apis?token={TOKEN}&pad=" + "a" * 20_000
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read(64)
    finally:
        writer.close()


async def test_over_long_request_lines_log_one_line_and_nothing_of_the_request(
    api: MetricsApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The server installed the process-wide filter; start its interval here, whatever ran
    # before.
    installed = [
        f for f in logging.getLogger("aiohttp.server").filters if isinstance(f, MalformedRequests)
    ]
    assert installed, "the metrics API did not quiet malformed requests"
    installed[0].reset()
    with caplog.at_level(logging.DEBUG):
        answers = [await _over_long_request(api) for _ in range(5)]
    assert all(answer.startswith(b"HTTP/1.") and b" 400 " in answer for answer in answers)
    malformed = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(malformed) == 1, [r.getMessage() for r in caplog.records]
    assert malformed[0].levelno == logging.INFO
    assert "LineTooLong" in malformed[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]
    assert TOKEN not in caplog.text
    assert "aaaaaaaa" not in caplog.text
