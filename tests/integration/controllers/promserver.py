"""A Prometheus-API-compatible server for tests: ``/api/v1/query`` answering a set value.

A real HTTP server on 127.0.0.1 (aiohttp), never a patched client: the prometheus trigger talks
to it over its real protocol. Tests set :attr:`PromServer.value` (``None`` answers an empty
result), make it fail (:attr:`PromServer.status`), or stop it to simulate an outage.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


class PromServer:
    def __init__(self, value: float | None = 0.0) -> None:
        self.value = value
        self.values: dict[str, float | None] = {}
        """Per-query values; a query not listed answers :attr:`value`."""
        self.status = 200
        self.queries = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _query(self, request: web.Request) -> web.Response:
        self.queries += 1
        if self.status != 200:
            return web.json_response({"status": "error", "error": "boom"}, status=self.status)
        query = request.query.get("query", "")
        value = self.values.get(query, self.value)
        result: list[dict[str, Any]] = []
        if value is not None:
            result = [{"metric": {}, "value": [0, repr(float(value))]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def start(self, port: int = 0) -> PromServer:
        app = web.Application()
        app.router.add_get("/api/v1/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
