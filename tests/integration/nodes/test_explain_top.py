"""``podscaler explain node/NAME``, ``explain pod/NAMESPACE/NAME`` and ``podscaler top nodes``
against the embedded API server while the node autoscaler runs: what a person reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from podscaler.cli import main
from podscaler.commands.explain import parse_target
from podscaler.commands.explain_nodes import explain_node, explain_pod
from podscaler.commands.failures import CommandFailure
from podscaler.commands.top import _top_nodes
from podscaler.kube.clients import ConnectOptions
from podscaler.nodes import NodeAutoscalerOptions
from tests.integration.nodes.harness import Cluster, run_cluster, small_group

FAST = NodeAutoscalerOptions().with_changes(
    scale_down_unneeded_time_seconds=120.0, scale_down_delay_after_add_seconds=60.0
)


def _pod(cluster: Cluster, prefix: str) -> dict[str, Any]:
    return next(
        p for p in cluster.world.ctx.state.pods.values() if p["metadata"]["name"].startswith(prefix)
    )


SAFE_TO_EVICT = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
NODE = "ip-10-0-1-2.eu-west-1.compute.internal"


def test_explain_says_why_a_pod_waits_and_why_a_node_stays() -> None:
    async def body(cluster: Cluster) -> str:
        access = ConnectOptions(server=cluster.server.url)
        cluster.deploy("pinned", 1, cpu="100m", annotations=SAFE_TO_EVICT)
        cluster.deploy("gpu", 1, cpu="100m", nodeSelector={"accelerator": "a100"})
        cluster.deploy("web", 3, cpu="1500m")
        await cluster.run(until_seconds=45)
        gpu = _pod(cluster, "gpu-")
        text = await explain_pod(
            access, "default", str(gpu["metadata"]["name"]), "podscaler", "text"
        )  # type: ignore[index]
        assert "scheduler: Unschedulable: 0/" in text
        assert "node autoscaler: NotTriggerScaleUp: pod didn't trigger scale-up" in text
        assert "node group general: node(s) didn't match Pod's node affinity/selector" in text
        web = _pod(cluster, "web-")
        text = await explain_pod(
            access, "default", str(web["metadata"]["name"]), "podscaler", "text"
        )  # type: ignore[index]
        assert "TriggeredScaleUp" in text or "scheduled on node" in text
        cluster.scale("web", 0)
        await cluster.run(until_seconds=200)
        node = _pod(cluster, "pinned-")["spec"]["nodeName"]
        text = await explain_node(access, node, "podscaler", "text")
        assert f"Node {node}: group general" in text
        assert "requests cpu 100m of 2000m (5%)" in text
        assert "NotSafeToEvictAnnotation" in text
        assert "blocked by pod default/pinned-" in text
        document = json.loads(await explain_node(access, node, "podscaler", "json"))
        assert document["autoscaler"]["blockingRule"] == "NotSafeToEvictAnnotation"
        with pytest.raises(CommandFailure, match="Node nope not found"):
            await explain_node(access, "nope", "podscaler", "text")
        return await _top_nodes(access, "podscaler", "text")

    table = run_cluster(body, groups=[small_group(max_size=6)], options=FAST)
    lines = table.splitlines()
    assert lines[0].startswith("group general")
    assert lines[-1].startswith("cluster")
    assert "$" in lines[0]
    assert any("m5.large" in line and "%" in line for line in lines[1:-1])


def test_top_nodes_rows_add_up() -> None:
    async def body(cluster: Cluster) -> list[dict[str, Any]]:
        cluster.deploy("web", 2, cpu="500m", memory="1Gi")
        await cluster.run(until_seconds=30)
        rows: list[dict[str, Any]] = json.loads(
            await _top_nodes(ConnectOptions(server=cluster.server.url), "podscaler", "json")
        )
        return rows

    rows = run_cluster(body, groups=[small_group()], options=FAST)
    assert len(rows) == 2
    assert sum(r["cpu_millicores"] for r in rows) == 1000
    assert sum(r["memory_bytes"] for r in rows) == 2 * 2**30
    assert {r["group"] for r in rows} == {"general"}
    assert all(r["price_per_hour"] for r in rows)


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        (
            "node/ip-10-0-1-2.eu-west-1.compute.internal",
            ("node", "", "ip-10-0-1-2.eu-west-1.compute.internal"),
        ),
        ("pod/shop/web-abc", ("pod", "shop", "web-abc")),
        ("po/shop/web-abc", ("pod", "shop", "web-abc")),
        ("shop/web", ("scaledobject", "shop", "web")),
    ],
)
def test_explain_targets(target: str, parsed: tuple[str, str, str]) -> None:
    assert parse_target(target) == parsed


def test_explain_refuses_a_node_name_with_a_namespace() -> None:
    result = CliRunner().invoke(main, ["explain", "node/a/b", "--server", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "expected node/NAME" in result.output
