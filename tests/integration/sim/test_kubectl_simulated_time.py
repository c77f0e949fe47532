"""kubectl's ages in a simulated world come from the simulated clock, whoever asks.

The server runs in a simulated loop that starts in 2030 (far from the wall clock) with no
clock injected: its timestamps and the ages in its Tables must follow the loop's clock, so a
day that passed in the simulation reads as a day in ``kubectl get``, and nothing stamped on
the wall clock shows up as a year-long gap or a negative age.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from podscaler.clock import now as loop_now
from podscaler.sim.apiserver.server import ApiServer
from podscaler.sim.apiserver.store import rfc3339
from podscaler.sim.clock import SimulatedClock, SimulatedEventLoop, run_simulated
from tests.integration.sim.conftest import Kubectl

pytestmark = pytest.mark.kubectl

START = datetime(2030, 1, 1, tzinfo=UTC)


def _row(table: str, name: str) -> list[str]:
    return next(line.split() for line in table.splitlines() if name in line.split())


def test_ages_and_timestamps_follow_the_simulated_clock(kubectl_bin: str, tmp_path: Path) -> None:
    async def main(clock: SimulatedClock) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimulatedEventLoop)
        async with ApiServer(install_crds=False) as server:
            kubectl = Kubectl(kubectl_bin, server.write_kubeconfig(tmp_path / "kubeconfig"))
            await kubectl("create", "deployment", "web", "--image=nginx")
            involved = {"kind": "Deployment", "name": "web", "namespace": "default"}
            stamp = rfc3339(server.now())
            event = {
                "metadata": {"name": "web.1"},
                "involvedObject": involved,
                "reason": "ScalingReplicaSet",
                "message": "Scaled up",
                "source": {"component": "deployment-controller"},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
            }
            await kubectl(
                "create",
                "-f",
                "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "Event", **event}),
            )
            loop.advance(26 * 3600)  # a simulated day and two hours go by
            await kubectl("create", "namespace", "late")
            return {
                "now": rfc3339(server.now()),
                "loop_now": rfc3339(loop_now()),
                "deploy": await kubectl("get", "deployments"),
                "ns": await kubectl("get", "namespaces"),
                "events": await kubectl("get", "events"),
                "web": await kubectl(
                    "get", "deploy", "web", "-o", "jsonpath={.metadata.creationTimestamp}"
                ),
            }

    seen = run_simulated(main, start=START, speed=1.0)
    # The server's now is the loop's (26 h and a few real seconds in), not the wall clock.
    now = datetime.fromisoformat(seen["now"].replace("Z", "+00:00"))
    assert START + timedelta(hours=26) <= now < START + timedelta(hours=26, minutes=2)
    assert seen["loop_now"] == seen["now"]
    created = datetime.fromisoformat(seen["web"].replace("Z", "+00:00"))
    assert START <= created < START + timedelta(minutes=1)
    assert _row(seen["deploy"], "web")[-1] == "26h"
    # Seeded namespaces were stamped by the same clock as everything else.
    assert _row(seen["ns"], "kube-system")[-1] == "26h"
    late_age = _row(seen["ns"], "late")[-1]
    assert late_age.endswith("s")
    assert int(late_age[:-1]) < 60
    assert _row(seen["events"], "ScalingReplicaSet")[0] == "26h"


def test_outside_a_simulated_loop_the_server_uses_the_wall_clock() -> None:
    async def main() -> datetime:
        async with ApiServer(install_crds=False) as server:
            return server.now()

    before = datetime.now(UTC)
    got = asyncio.run(main())
    assert before - timedelta(seconds=1) <= got <= datetime.now(UTC) + timedelta(seconds=1)
