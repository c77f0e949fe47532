"""``--frequent-loops-enabled``: pods that turn unschedulable between two scans get their
scale-up two seconds later (the planner's buffer), not at the next scan; without it they wait
for the scan, as Cluster Autoscaler's default does."""

from __future__ import annotations

from podscaler.nodes import NodeAutoscalerOptions
from tests.integration.nodes.harness import Cluster, run_cluster, small_group


def _scale_up_at(frequent: bool) -> tuple[float, int]:
    """When (simulated seconds) the first TriggeredScaleUp came for pods deployed at 3 s,
    and how many passes ran early."""
    seen: list[float] = []

    async def body(cluster: Cluster) -> None:
        await cluster.run(until_seconds=3)
        cluster.deploy("web", 8, cpu="700m")  # two nodes hold four; four more are needed
        while not cluster.events("TriggeredScaleUp") and cluster.world.seconds() < 30:
            await cluster.run(until_seconds=cluster.world.seconds() + 0.5)
        seen.append(cluster.world.seconds())
        seen.append(float(cluster.autoscaler.early_passes))

    options = NodeAutoscalerOptions().with_changes(frequent_loops_enabled=frequent)
    run_cluster(body, groups=[small_group(max_size=8)], options=options)
    return seen[0], int(seen[1])


def test_unschedulable_pods_wake_the_loop_before_the_scan_interval() -> None:
    early, early_passes = _scale_up_at(True)
    late, late_passes = _scale_up_at(False)
    # deployed at 3 s: scheduled and found unschedulable at once, the pass 2 s later
    assert 5.0 <= early <= 6.5
    assert early_passes >= 1
    # without frequent loops the next scan, at 10 s
    assert 10.0 <= late <= 11.0
    assert late_passes == 0
