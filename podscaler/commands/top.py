"""``podscaler top nodes``: what each node and node group holds and costs, as eks-node-viewer
shows it.

Per node: its group, instance type, the cpu and memory its pods request against what it can
allocate (with a bar), how many pods of how many, and its hourly price; per group and for the
cluster: the same summed, and what the nodes cost per hour. Requests, not usage: what the
scheduler and the node autoscaler reason with.

The group is the one the node autoscaler's last pass put the node in (the ``nodes`` key of
its ``cluster-autoscaler-status`` ConfigMap, ``--operator-namespace``), else a node group
label (EKS, eksctl, Karpenter, the embedded cluster). The price is the instance type's
on-demand list price from the node planner's table (``podscaler.nodes.instancetypes``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import click

from podscaler.commands.connection import CLUSTER, describe_api_error, open_kube
from podscaler.commands.explain_nodes import status_entries
from podscaler.commands.failures import CommandFailure
from podscaler.commands.options import options
from podscaler.kube.clients import ConnectOptions
from podscaler.kube.errors import KubeError
from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.nodestate import NodeState, PodSpecError, is_terminal
from podscaler.nodes.snapshot import is_ready

__all__ = ["NodeRow", "node_rows", "render_rows", "top"]

#: Labels that name a node's group, in the order they are trusted.
GROUP_LABELS: Final = (
    "podscaler.io/node-group",
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "karpenter.sh/nodepool",
)
_BAR: Final = 10


@dataclass(frozen=True)
class NodeRow:
    name: str
    group: str
    instance_type: str
    ready: bool
    cpu_millicores: int
    cpu_allocatable_millicores: int
    memory_bytes: int
    memory_allocatable_bytes: int
    pods: int
    pods_allowed: int
    price_per_hour: float | None


def _group(node: Mapping[str, Any], entries: Mapping[str, Any]) -> str:
    name = str((node.get("metadata") or {}).get("name"))
    entry = entries.get(name)
    if isinstance(entry, Mapping) and entry.get("group"):
        return str(entry["group"])
    labels = (node.get("metadata") or {}).get("labels") or {}
    return next((str(labels[k]) for k in GROUP_LABELS if labels.get(k)), "-")


def node_rows(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], entries: Mapping[str, Any]
) -> list[NodeRow]:
    """One row per node, from the API objects (pure)."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        where = (pod.get("spec") or {}).get("nodeName")
        if where and not is_terminal(pod):
            by_node.setdefault(str(where), []).append(pod)
    rows = []
    for node in sorted(nodes, key=lambda n: str((n.get("metadata") or {}).get("name"))):
        name = str((node.get("metadata") or {}).get("name"))
        labels = (node.get("metadata") or {}).get("labels") or {}
        kind = str(labels.get("node.kubernetes.io/instance-type") or "-")
        try:
            state = NodeState.build(node, by_node.get(name, ()))
        except PodSpecError:
            continue
        shape = INSTANCE_TYPES.get(kind)
        rows.append(
            NodeRow(
                name=name,
                group=_group(node, entries),
                instance_type=kind,
                ready=is_ready(node),
                cpu_millicores=state.requested.cpu_millicores,
                cpu_allocatable_millicores=state.allocatable.cpu_millicores,
                memory_bytes=state.requested.memory_bytes,
                memory_allocatable_bytes=state.allocatable.memory_bytes,
                pods=len(state.pods),
                pods_allowed=state.allowed_pods,
                price_per_hour=shape.price_per_hour if shape else None,
            )
        )
    return rows


def _bar(used: int, total: int) -> str:
    share = min(1.0, used / total) if total else 0.0
    filled = round(share * _BAR)
    return "█" * filled + "░" * (_BAR - filled) + f" {share:4.0%}"


def _line(label: str, rows: list[NodeRow], *, width: int, detail: str) -> str:
    cpu = sum(r.cpu_millicores for r in rows)
    cpu_total = sum(r.cpu_allocatable_millicores for r in rows)
    mem = sum(r.memory_bytes for r in rows)
    mem_total = sum(r.memory_allocatable_bytes for r in rows)
    pods = sum(r.pods for r in rows)
    allowed = sum(r.pods_allowed for r in rows)
    prices = [r.price_per_hour for r in rows if r.price_per_hour is not None]
    cost = f"${sum(prices):.3f}/h" if prices else "-"
    return (
        f"{label:<{width}} {detail:<22} cpu {_bar(cpu, cpu_total)}  "
        f"mem {_bar(mem, mem_total)}  pods {pods:>3}/{allowed:<3}  {cost}"
    )


def render_rows(rows: list[NodeRow]) -> str:
    """The table: a line per group, its nodes under it, then the cluster."""
    if not rows:
        return "no nodes"
    width = max(len(r.name) for r in rows) + 2
    lines = []
    groups: dict[str, list[NodeRow]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    for group, members in sorted(groups.items()):
        types = ", ".join(sorted({r.instance_type for r in members}))
        lines.append(
            _line(f"group {group}", members, width=width, detail=f"{len(members)} x {types}")
        )
        for row in members:
            state = "" if row.ready else " NotReady"
            lines.append(
                _line(f"  {row.name}", [row], width=width, detail=f"{row.instance_type}{state}")
            )
    lines.append(_line("cluster", rows, width=width, detail=f"{len(rows)} nodes"))
    return "\n".join(lines)


async def _top_nodes(access: ConnectOptions, namespace: str, output: str) -> str:
    async with await open_kube(access) as kube:
        try:
            nodes = (await kube.request("GET", "/api/v1/nodes")).get("items") or []
            pods = (
                await kube.request(
                    "GET",
                    "/api/v1/pods",
                    params={"fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"},
                )
            ).get("items") or []
            entries = await status_entries(kube, namespace, "nodes") or {}
        except KubeError as exc:
            raise CommandFailure(
                describe_api_error(
                    exc,
                    kube.host,
                    subject="the nodes",
                    listing="kubectl get nodes",
                    kind_plural="nodes",
                )
            ) from exc
    rows = node_rows(nodes, pods, entries)
    if output == "json":
        return json.dumps([asdict(r) for r in rows], indent=2)
    return render_rows(rows)


@click.group()
def top() -> None:
    """Resource views of the cluster."""


@top.command("nodes")
@options(CLUSTER)
@click.option(
    "--operator-namespace",
    default="podscaler",
    show_default=True,
    help="Where the node autoscaler's status ConfigMap says which group each node is in.",
)
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def top_nodes(operator_namespace: str, output: str, **values: Any) -> None:
    """Per node and node group: cpu and memory requested of what is allocatable, pods, the
    instance type and its hourly price (as eks-node-viewer shows them).

    Exit status: 0 shown, 1 the cluster could not be read (the message says why).
    """
    click.echo(asyncio.run(_top_nodes(CLUSTER.build(values), operator_namespace, output)))
