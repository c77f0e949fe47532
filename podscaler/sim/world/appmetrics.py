"""The simulated applications' own metric, in Prometheus text format on a local HTTP port.

Real services expose request rates for Prometheus to scrape, and podscaler's ``prometheus``
trigger scales on queries over them. So that such a ScaledObject can be tried against the
embedded cluster with a *real* Prometheus, the world serves, at ``/metrics``:

* ``sim_app_requests_per_second{namespace, workload}`` — the workload's current demand;
* ``sim_app_pod_requests_per_second{namespace, workload, pod}`` — each Ready pod's share;
* ``sim_app_ready_pods{namespace, workload}``;
* ``sim_queue_messages{queue}`` — messages waiting, per scenario queue.

Values are those of the world's last tick. Prometheus stamps samples with its own (wall) clock,
so scrape in paced mode (``--speed``), where simulated and real time advance together.

The same server also answers Prometheus' query API (``/api/v1/query``, ``/api/v1/query_range``)
over what the world recorded each tick (:meth:`AppMetricsServer.observe`) and any history
pre-filled before the run (:meth:`AppMetricsServer.prefill`), on the run's clock, so the
``prometheus`` and ``predictive`` triggers work in an unpaced run too: point ``serverAddress``
at ``${appMetrics.url}``. See :mod:`podscaler.sim.world.appqueries` for what it understands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from podscaler.sim.world.appqueries import AppSeries, QueryError, parse_step, parse_time

if TYPE_CHECKING:
    from podscaler.sim.world.world import World

__all__ = ["AppMetricsServer", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(world: World) -> str:
    lines = [
        "# HELP sim_app_requests_per_second Demand on a simulated workload, per second.",
        "# TYPE sim_app_requests_per_second gauge",
    ]
    loads = sorted(world.load.by_workload.items())
    for (namespace, name), load in loads:
        lines.append(
            f'sim_app_requests_per_second{{namespace="{_label(namespace)}",'
            f'workload="{_label(name)}"}} {load.demand:.6g}'
        )
    lines += [
        "# HELP sim_app_ready_pods Ready pods serving a simulated workload.",
        "# TYPE sim_app_ready_pods gauge",
    ]
    for (namespace, name), load in loads:
        lines.append(
            f'sim_app_ready_pods{{namespace="{_label(namespace)}",workload="{_label(name)}"}} '
            f"{load.ready}"
        )
    lines += [
        "# HELP sim_app_pod_requests_per_second Demand served by one Ready pod, per second.",
        "# TYPE sim_app_pod_requests_per_second gauge",
    ]
    state = world.ctx.state
    for (namespace, name), load in loads:
        for _ns, pod in sorted(state.ready_by_workload.get((namespace, name), ())):
            lines.append(
                f'sim_app_pod_requests_per_second{{namespace="{_label(namespace)}",'
                f'workload="{_label(name)}",pod="{_label(pod)}"}} {load.demand_per_pod:.6g}'
            )
    lines += [
        "# HELP sim_queue_messages Messages waiting in a simulated queue.",
        "# TYPE sim_queue_messages gauge",
    ]
    for queue, wiring in sorted(world.queues.queues.items()):
        lines.append(f'sim_queue_messages{{queue="{_label(queue)}"}} {wiring.depth}')
    return "\n".join(lines) + "\n"


class AppMetricsServer:
    """``/metrics`` for :func:`exposition`, and the query API over recorded samples, on
    ``host:port`` (0 picks a free port). ``now`` is the run's clock (the query API's default
    ``time`` and the stamp of each recorded tick)."""

    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.url = ""
        #: ``http://host:port``: a Prometheus ``serverAddress``
        self.base_url = ""
        self.series = AppSeries()
        self._now = now
        self._runner: web.AppRunner | None = None

    def _unix_now(self) -> float:
        if self._now is not None:
            return self._now().timestamp()
        return self.world.seconds()

    # ------------------------------------------------------------------ recording

    def observe(self) -> None:
        """Record the world's current app metrics (call once per tick)."""
        t = self._unix_now()
        state = self.world.ctx.state
        for (namespace, name), load in self.world.load.by_workload.items():
            labels = {"namespace": namespace, "workload": name}
            self.series.record(t, "sim_app_requests_per_second", labels, load.demand)
            ready = len(state.ready_by_workload.get((namespace, name), ()))
            self.series.record(t, "sim_app_ready_pods", labels, float(ready))
        for queue, wiring in self.world.queues.queues.items():
            self.series.record(t, "sim_queue_messages", {"queue": queue}, float(wiring.depth))

    def prefill(self, seconds: float, step: float) -> int:
        """Pre-fill ``seconds`` of history before now with each workload's demand curve
        (``sim_app_requests_per_second``) every ``step``; the number of samples written."""
        end = self._unix_now()
        offset = end - self.world.seconds()  # Unix time of world second 0
        load = self.world.load
        written = 0
        for (namespace, name), profile in sorted(self.world.ctx.profiles.by_workload.items()):
            if profile.demand is None:
                continue
            key = (namespace, name)
            written += self.series.prefill(
                "sim_app_requests_per_second",
                {"namespace": namespace, "workload": name},
                lambda t, key=key: load.demand_of(key, t - offset),  # type: ignore[misc]
                end=end,
                seconds=seconds,
                step=step,
            )
        return written

    # ------------------------------------------------------------------ serving

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=exposition(self.world).encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        return params

    async def _query(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        try:
            query = _required(params, "query")
            t = parse_time(params["time"], "time") if params.get("time") else self._unix_now()
            data = self.series.instant(query, t)
        except QueryError as exc:
            return _error(str(exc))
        return _success(data)

    async def _query_range(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        try:
            query = _required(params, "query")
            start = parse_time(_required(params, "start"), "start")
            end = parse_time(_required(params, "end"), "end")
            step = parse_step(_required(params, "step"))
            data = self.series.range(query, start, end, step)
        except QueryError as exc:
            return _error(str(exc))
        return _success(data)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        for path, handler in (
            ("/api/v1/query", self._query),
            ("/api/v1/query_range", self._query_range),
        ):
            app.router.add_get(path, handler)
            app.router.add_post(path, handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self.url = f"{self.base_url}/metrics"

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise QueryError(f'invalid parameter "{name}": missing')
    return value


def _success(data: dict[str, Any]) -> web.Response:
    return web.Response(
        text=json.dumps({"status": "success", "data": data}), content_type="application/json"
    )


def _error(message: str) -> web.Response:
    document = {"status": "error", "errorType": "bad_data", "error": message}
    return web.Response(status=400, text=json.dumps(document), content_type="application/json")
