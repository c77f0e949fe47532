"""``podscaler cluster serve``: the embedded Kubernetes-compatible API server alone, for kubectl
and an operator in another process; with ``--world``, the simulated world runs behind it in
real time (scheduler, kubelet, workload controllers, nodes).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import replace
from pathlib import Path

import click

from podscaler.clock import WallClock
from podscaler.commands.failures import CommandFailure, check_listenable, check_writable
from podscaler.commands.simulating import keep_serving
from podscaler.sim.clock import SimulatedEventLoop, run_simulated
from podscaler.sim.scenarios.runs import RunResult, run_scenario
from podscaler.sim.scenarios.scenario import ScenarioError, load_scenario, parse_scenario
from podscaler.sim.world.world import World

__all__ = ["cluster", "serve_world"]


@click.group()
def cluster() -> None:
    """The embedded Kubernetes-compatible API server."""


@cluster.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=6443, show_default=True, help="Port (0 picks a free one).")
@click.option("--tls/--no-tls", default=False, show_default=True, help="Serve HTTPS.")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path),
    default=Path("podscaler.kubeconfig"),
    show_default=True,
    help="Where to write a kubeconfig for the server.",
)
@click.option(
    "--world",
    is_flag=False,
    flag_value="default",
    default=None,
    help="Run the simulated world behind the server (scheduler, kubelet, controllers, nodes); "
    "optionally a scenario file or built-in name to set it up.",
)
def cluster_serve(host: str, port: int, tls: bool, kubeconfig: Path, world: str | None) -> None:
    """Serve an in-memory Kubernetes API (with podscaler's CRDs) until interrupted.

    With --tls, requests need the token written into the kubeconfig; without it the server
    authenticates nobody, so it only listens on a loopback address."""
    from podscaler.sim.apiserver.server import ApiServer, is_loopback, serve_forever

    if not tls and not is_loopback(host):
        raise CommandFailure(
            f"--host {host} without --tls would serve an unauthenticated API (Secrets "
            "included) to the network; add --tls (clients then need the kubeconfig's token) "
            "or listen on 127.0.0.1",
            2,
        )
    check_listenable(host, port, "--port or --host")
    kubeconfig_path = check_writable(kubeconfig, "--kubeconfig")
    if world is not None:
        with contextlib.suppress(KeyboardInterrupt):
            sys.exit(serve_world(host, port, tls, kubeconfig_path, world))

    def ready(server: ApiServer) -> None:
        click.echo(server.security_note, err=not tls)
        click.echo(f"API server at {server.url}")
        click.echo(f"kubeconfig written to {kubeconfig_path}")
        click.echo(f"try: kubectl --kubeconfig {kubeconfig_path} get namespaces")

    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve_forever(host, port, tls, kubeconfig_path, ready))
        except OSError as exc:  # lost a race for the port, or the kubeconfig's directory
            raise CommandFailure(f"podscaler cluster serve: {exc}") from exc


_DEFAULT_WORLD = {
    "name": "cluster",
    "description": "Three m5.large nodes and whatever you apply.",
    "duration": 1,
    "nodeGroups": [{"name": "general", "min": 1, "max": 10, "initial": 3, "pricePerHour": 0.096}],
}


def serve_world(host: str, port: int, tls: bool, kubeconfig_path: Path, scenario_name: str) -> int:
    """``podscaler cluster serve --world [SCENARIO]``: the API server with a world behind it,
    in real time, until Ctrl-C. Without a scenario: three nodes and nothing else."""
    try:
        scenario = (
            parse_scenario(_DEFAULT_WORLD)
            if scenario_name == "default"
            else load_scenario(scenario_name)
        )
    except ScenarioError as exc:
        print(f"podscaler cluster serve: {exc}", file=sys.stderr)
        return 2
    start = WallClock().now()
    scenario = replace(scenario, start=start, duration_seconds=scenario.tick_seconds)

    async def keep(world: World, result: RunResult) -> None:
        await keep_serving(world, kubeconfig_path, sys.stdout, operator_note=False)

    async def main(clock: object) -> RunResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        return await run_scenario(
            scenario,
            clock=loop.clock,
            keep=keep,
            host=host,
            port=port,
            tls=tls,
            kubeconfig_path=kubeconfig_path,
        )

    try:
        run_simulated(main, start=start, speed=1.0)
    except ScenarioError as exc:
        print(f"podscaler cluster serve: {exc}", file=sys.stderr)
        return 2
    return 0
