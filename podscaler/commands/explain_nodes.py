"""``podscaler explain node/NAME`` and ``explain pod/NAMESPACE/NAME``: the node autoscaler's
why, for a person.

* **node/NAME** — why the node stays or goes: its group and what its pods request of it,
  what the node autoscaler's last pass found (unneeded since when; or kept, by which rule and,
  when a pod keeps it, which pod and drain rule; or being removed), its taints, and the
  autoscaler's recent Events about it;
* **pod/NAMESPACE/NAME** — why a Pending pod did or did not get a node: the scheduler's
  message, the last pass's outcome (``TriggeredScaleUp`` naming the group and its change,
  or ``NotTriggerScaleUp`` with each node group's reasons, or why it was not considered),
  and the recent Events.

Everything comes from the cluster with a kubeconfig: the objects, their Events, and the
``nodes``/``pods`` keys of the ``cluster-autoscaler-status`` ConfigMap, which the node
autoscaler rewrites every pass in the operator's namespace (``--operator-namespace``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import yaml

from podscaler.api.quantities import parse_quantity
from podscaler.commands.connection import describe_api_error, open_kube
from podscaler.commands.failures import CommandFailure
from podscaler.kube.clients import ConnectOptions, Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.nodes.nodestate import NodeState, PodSpecError, is_terminal

__all__ = ["NODE_REASONS", "explain_node", "explain_pod", "status_entries"]

#: The node autoscaler's Event reasons shown under a node or pod.
NODE_REASONS: Final = frozenset(
    {
        "TriggeredScaleUp",
        "NotTriggerScaleUp",
        "ScaleDown",
        "ScaleDownFailed",
        "ScaleDownBlocked",
        "FailedScheduling",
        "Preempted",
    }
)
STATUS_CONFIGMAP: Final = "cluster-autoscaler-status"
_RECENT_EVENTS: Final = 8


async def status_entries(kube: Kube, namespace: str, key: str) -> dict[str, Any] | None:
    """The ``key`` (``nodes`` or ``pods``) of the status ConfigMap, or None when there is no
    ConfigMap (no node autoscaler in that namespace)."""
    try:
        configmap = await kube.request(
            "GET", f"/api/v1/namespaces/{namespace}/configmaps/{STATUS_CONFIGMAP}"
        )
    except NotFound:
        return None
    text = (configmap.get("data") or {}).get(key) or "{}"
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


async def _events(kube: Kube, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    answer = await kube.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/events",
        params={"fieldSelector": f"involvedObject.kind={kind},involvedObject.name={name}"},
    )
    found = [e for e in answer.get("items") or () if e.get("reason") in NODE_REASONS]
    found.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    return found[-_RECENT_EVENTS:]


def _event_lines(events: list[dict[str, Any]]) -> list[str]:
    if not events:
        return ["  (no recent Events of the node autoscaler or the scheduler)"]
    lines = []
    for event in events:
        when = str(event.get("lastTimestamp") or event.get("eventTime") or "")[:19]
        count = event.get("count") or 1
        times = f" (x{count})" if count > 1 else ""
        lines.append(f"  {when} {event.get('reason')}{times}: {event.get('message')}")
    return lines


def _percent(used: int, total: int) -> str:
    return f"{100.0 * used / total:.0f}%" if total else "-"


def _node_usage(node: Mapping[str, Any], pods: list[dict[str, Any]]) -> str:
    try:
        state = NodeState.build(node, [p for p in pods if not is_terminal(p)])
    except PodSpecError as exc:
        return f"requests cannot be read: {exc}"
    cpu, alloc_cpu = state.requested.cpu_millicores, state.allocatable.cpu_millicores
    mem, alloc_mem = state.requested.memory_bytes, state.allocatable.memory_bytes
    return (
        f"requests cpu {cpu}m of {alloc_cpu}m ({_percent(cpu, alloc_cpu)}), "
        f"memory {mem / 2**20:.0f}Mi of {alloc_mem / 2**20:.0f}Mi ({_percent(mem, alloc_mem)}), "
        f"{len(state.pods)} of {state.allowed_pods} pods"
    )


def _node_state_lines(entry: Mapping[str, Any] | None) -> list[str]:
    if entry is None:
        return ["node autoscaler: this node is not in its last pass (is it new?)"]
    state = entry.get("state")
    if entry.get("group") is None:
        return ["node autoscaler: the node belongs to no node group it manages: never removed"]
    if state == "removing":
        return [f"node autoscaler: being removed — {entry.get('detail', '')}"]
    if state == "unneeded":
        util = entry.get("utilization") or {}
        kind = "empty" if entry.get("empty") else "its pods fit elsewhere"
        lines = [
            f"node autoscaler: unneeded since {entry.get('unneededSince')} ({kind}; "
            f"cpu {util.get('cpu', 0):.0%}, memory {util.get('memory', 0):.0%} requested): "
            "removed once it has been unneeded for --scale-down-unneeded-time"
        ]
        if entry.get("detail"):
            lines.append(f"  {entry['detail']}")
        return lines
    reason = entry.get("reason", "?")
    line = f"node autoscaler: kept — {reason}"
    if entry.get("detail"):
        line += f": {entry['detail']}"
    lines = [line]
    if entry.get("blockingPod"):
        lines.append(
            f"  blocked by pod {entry['blockingPod']} (drain rule {entry.get('blockingRule')})"
        )
    return lines


async def explain_node(access: ConnectOptions, name: str, namespace: str, output: str) -> str:
    """Why node ``name`` stays or goes (see the module docstring)."""
    async with await open_kube(access) as kube:
        try:
            node = await kube.request("GET", f"/api/v1/nodes/{name}")
            pods = (
                await kube.request(
                    "GET", "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={name}"}
                )
            ).get("items") or []
            entries = await status_entries(kube, namespace, "nodes")
            events = await _events(kube, "default", "Node", name)
        except KubeError as exc:
            raise CommandFailure(
                describe_api_error(
                    exc,
                    kube.host,
                    subject=f"Node {name}",
                    listing="kubectl get nodes",
                    kind_plural="nodes",
                )
            ) from exc
    entry = (entries or {}).get(name)
    if output == "json":
        return json.dumps({"node": name, "autoscaler": entry, "events": events}, indent=2)
    labels = (node.get("metadata") or {}).get("labels") or {}
    group = (entry or {}).get("group") or "-"
    lines = [
        f"Node {name}: group {group}, {labels.get('node.kubernetes.io/instance-type', '?')}"
        f" in {labels.get('topology.kubernetes.io/zone', '?')}",
        f"  {_node_usage(node, pods)}",
    ]
    if entries is None:
        lines.append(
            f"node autoscaler: no {STATUS_CONFIGMAP} ConfigMap in namespace {namespace} "
            "(is podscaler run's node autoscaler running there? --operator-namespace)"
        )
    else:
        lines += _node_state_lines(entry)
    for taint in (node.get("spec") or {}).get("taints") or ():
        lines.append(f"taint {taint.get('key')}={taint.get('value', '')}:{taint.get('effect')}")
    lines.append("events:")
    lines += _event_lines(events)
    return "\n".join(lines)


def _scheduled_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodScheduled":
            return condition  # type: ignore[no-any-return]
    return None


async def explain_pod(
    access: ConnectOptions, pod_namespace: str, name: str, namespace: str, output: str
) -> str:
    """Why pod ``pod_namespace/name`` did or did not get a node (see the module docstring)."""
    async with await open_kube(access) as kube:
        try:
            pod = await kube.request("GET", f"/api/v1/namespaces/{pod_namespace}/pods/{name}")
            entries = await status_entries(kube, namespace, "pods")
            events = await _events(kube, pod_namespace, "Pod", name)
        except KubeError as exc:
            raise CommandFailure(
                describe_api_error(
                    exc,
                    kube.host,
                    subject=f"Pod {pod_namespace}/{name}",
                    listing=f"kubectl get pods -n {pod_namespace}",
                    kind_plural="pods",
                )
            ) from exc
    key = f"{pod_namespace}/{name}"
    entry = (entries or {}).get(key)
    if output == "json":
        return json.dumps({"pod": key, "autoscaler": entry, "events": events}, indent=2)
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    requests = _pod_requests(pod)
    lines = [f"Pod {key}: {status.get('phase', '?')}, priority {spec.get('priority', 0)}{requests}"]
    if spec.get("nodeName"):
        lines.append(f"scheduled on node {spec['nodeName']}: it needs no new node")
    else:
        condition = _scheduled_condition(pod)
        if condition is not None and condition.get("status") == "False":
            lines.append(f"scheduler: {condition.get('reason')}: {condition.get('message')}")
        if status.get("nominatedNodeName"):
            lines.append(
                f"nominated to node {status['nominatedNodeName']}: lower-priority pods are "
                "making room for it (preemption), no new node is needed"
            )
        if entries is None:
            lines.append(
                f"node autoscaler: no {STATUS_CONFIGMAP} ConfigMap in namespace {namespace} "
                "(--operator-namespace)"
            )
        elif entry is None:
            lines.append("node autoscaler: not pending in its last pass")
        else:
            lines.append(f"node autoscaler: {entry.get('outcome')}: {entry.get('message')}")
            for group, reasons in sorted((entry.get("groups") or {}).items()):
                lines.append(f"  node group {group}: {'; '.join(reasons)}")
    lines.append("events:")
    lines += _event_lines(events)
    return "\n".join(lines)


def _pod_requests(pod: Mapping[str, Any]) -> str:
    cpu = memory = 0.0
    for container in (pod.get("spec") or {}).get("containers") or ():
        requests = (container.get("resources") or {}).get("requests") or {}
        try:
            cpu += float(parse_quantity(requests.get("cpu", 0)).value)
            memory += float(parse_quantity(requests.get("memory", 0)).value)
        except (ValueError, TypeError):
            return ""
    return f", requests cpu {cpu * 1000:.0f}m, memory {memory / 2**20:.0f}Mi"
