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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

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
    """``/metrics`` for :func:`exposition` on ``host:port`` (0 picks a free port)."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=exposition(self.world).encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.url = f"http://{self.host}:{self.port}/metrics"

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
