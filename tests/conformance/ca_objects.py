"""Kubernetes objects and options from ca.json's compact descriptions, for the CA adapters.

The vectors describe nodes and pods the way CA's test builders do (``BuildTestNode(name,
cpu_m, mem)``, ``BuildTestPod(name, cpu_m, mem)``) with units in the field names; these
helpers turn them (and PodDisruptionBudgets, and CA's options by their vector names) into the
API dicts and option values podscaler's planner reads. Unknown fields fail loudly: a held-out
vector using a field this file does not map must not pass by ignoring it (:func:`read` checks
both halves of a vector before an adapter looks at them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from podscaler.nodes.options import NodeAutoscalerOptions

NOW_ISO = "2020-12-18T17:00:00Z"


def known(raw: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    extra = set(raw) - set(allowed)
    assert not extra, f"adapter does not know {what} fields {sorted(extra)}"


def unknown_expected(expected: Mapping[str, Any], allowed: Iterable[str]) -> None:
    extra = set(expected) - set(allowed)
    assert not extra, f"adapter does not know expected keys {sorted(extra)}"


def read(
    vector: Mapping[str, Any], inputs: Iterable[str], expected: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The vector's ``input`` and ``expected``, once every field of each is one the adapter
    knows (*inputs*, *expected*)."""
    data, wanted = vector["input"], vector["expected"]
    known(data, inputs, "input")
    unknown_expected(wanted, expected)
    return data, wanted


def options(
    raw: Mapping[str, Any] | None, fields: Mapping[str, str | None]
) -> NodeAutoscalerOptions:
    """CA's defaults changed by a vector's ``options`` (*fields* maps each vector name to the
    option's field, ``None`` for one with no planning effect). The total limits take the
    vector's maximum: CA's tests set ``--max-cores-total``, never the minimum."""
    changes: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        assert key in fields, f"adapter does not know option {key}"
        field = fields[key]
        if field in ("cores_total", "memory_total_bytes"):
            changes[field] = (0, value)
        elif field is not None:
            changes[field] = value
    return NodeAutoscalerOptions().with_changes(**changes)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def resources(raw: Mapping[str, Any]) -> dict[str, str]:
    """``{cpu_m, mem_bytes|mem, pods, gpu, <extended>}`` → a ResourceList (None = absent)."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key == "cpu_m":
            out["cpu"] = f"{value}m"
        elif key in ("mem_bytes", "mem"):
            out["memory"] = str(value)
        elif key == "pods":
            out["pods"] = str(value)
        elif key == "gpu":
            out["nvidia.com/gpu"] = str(value)
        elif key in ("gpu_label", "ready"):
            continue
        else:
            out[key] = str(value)
    return out


NODE_FIELDS = (
    "name",
    "cpu_m",
    "mem_bytes",
    "mem",
    "pods",
    "gpu",
    "labels",
    "taints",
    "ready",
    "annotations",
    "group",
    "pods_running",
    "unschedulable",
    "allocatable",
    "capacity",
    "gpu_label",
)


def node(raw: Mapping[str, Any], *, name: str | None = None) -> dict[str, Any]:
    known(raw, NODE_FIELDS, "node")
    node_name = name or raw["name"]
    amounts = {k: raw[k] for k in ("cpu_m", "mem_bytes", "mem", "pods", "gpu") if k in raw}
    capacity = resources(raw.get("capacity") or amounts)
    allocatable = resources(raw.get("allocatable") or amounts)
    capacity.setdefault("pods", "110")
    allocatable.setdefault("pods", capacity["pods"])
    labels = {"kubernetes.io/hostname": node_name, **(raw.get("labels") or {})}
    ready = raw.get("ready", True)
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node_name,
            "labels": labels,
            "annotations": dict(raw.get("annotations") or {}),
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    if raw.get("taints"):
        obj["spec"]["taints"] = [
            {"effect": "NoSchedule", "value": "", **t} for t in raw.get("taints") or ()
        ]
    if raw.get("unschedulable"):
        obj["spec"]["unschedulable"] = True
    return obj


POD_FIELDS = (
    "name",
    "namespace",
    "cpu_m",
    "mem_bytes",
    "mem",
    "gpu",
    "labels",
    "annotations",
    "node",
    "owner_kind",
    "owner_name",
    "phase",
    "priority",
    "preemption_policy",
    "nominatedNodeName",
    "deletion_timestamp",
    "deletion_s_ago",
    "terminationGracePeriodSeconds",
    "restartPolicy",
    "volumes",
    "host_ports",
    "topology_spread",
    "affinity",
    "anti_affinity",
    "node_selector",
    "tolerations",
    "creation_s_ago",
    "created_s_ago",
    "age_s",
    "creation_timestamp",
    "creationTimestamp",
    "deletionTimestamp",
    "restart_policy",
    "init_containers",
)


def _init_container(raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    """An init container from ``{cpu_m, mem_bytes, restart_policy}`` (``Always`` = a sidecar)."""
    known(raw, ("name", "cpu_m", "mem_bytes", "mem", "restart_policy", "restartPolicy"), "init")
    requests = resources(
        {k: raw[k] for k in ("cpu_m", "mem_bytes", "mem") if raw.get(k) is not None}
    )
    container: dict[str, Any] = {"name": raw.get("name") or f"init-{index}", "image": "init"}
    if requests:
        container["resources"] = {"requests": requests}
    policy = raw.get("restart_policy") or raw.get("restartPolicy")
    if policy:
        container["restartPolicy"] = policy
    return container


def pod(raw: Mapping[str, Any], *, now: float | None = None, index: int = 0) -> dict[str, Any]:
    """A pod dict; ``now`` (Unix seconds) anchors the relative times (``deletion_s_ago``…)."""
    known(raw, POD_FIELDS, "pod")
    name = raw.get("name") or f"pod-{index}"
    requests = resources(
        {k: raw[k] for k in ("cpu_m", "mem_bytes", "mem", "gpu") if raw.get(k) is not None}
    )
    container: dict[str, Any] = {"name": "c", "image": "app"}
    if requests:
        container["resources"] = {"requests": requests}
    if raw.get("host_ports"):
        container["ports"] = [
            {"containerPort": p, "hostPort": p} if isinstance(p, int) else dict(p)
            for p in raw["host_ports"]
        ]
    meta: dict[str, Any] = {
        "name": name,
        "namespace": raw.get("namespace") or "default",
        "uid": f"uid-{name}-{index}",
        "labels": dict(raw.get("labels") or {}),
        "annotations": dict(raw.get("annotations") or {}),
    }
    if raw.get("owner_kind"):
        owner = raw.get("owner_name") or f"{raw['owner_kind'].lower()}-owner"
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": raw["owner_kind"],
                "name": owner,
                "uid": f"uid-{owner}",
                "controller": True,
            }
        ]
    base = now if now is not None else unix(NOW_ISO)
    for key in ("creation_s_ago", "created_s_ago", "age_s"):
        if key in raw:
            meta["creationTimestamp"] = iso(base - float(raw[key]))
    for key in ("creation_timestamp", "creationTimestamp"):
        if key in raw:
            meta["creationTimestamp"] = raw[key]
    if raw.get("deletionTimestamp"):
        meta["deletionTimestamp"] = raw["deletionTimestamp"]
    if raw.get("deletion_timestamp"):
        meta["deletionTimestamp"] = raw["deletion_timestamp"]
    if raw.get("deletion_s_ago") is not None:
        meta["deletionTimestamp"] = iso(base - float(raw["deletion_s_ago"]))
    spec: dict[str, Any] = {"containers": [container]}
    if raw.get("init_containers"):
        spec["initContainers"] = [
            _init_container(c, i) for i, c in enumerate(raw["init_containers"])
        ]
    if raw.get("node"):
        spec["nodeName"] = raw["node"]
    if raw.get("priority") is not None:
        spec["priority"] = raw["priority"]
    if raw.get("preemption_policy") is not None:
        spec["preemptionPolicy"] = raw["preemption_policy"]
    if raw.get("terminationGracePeriodSeconds") is not None:
        spec["terminationGracePeriodSeconds"] = raw["terminationGracePeriodSeconds"]
    if raw.get("restartPolicy") or raw.get("restart_policy"):
        spec["restartPolicy"] = raw.get("restartPolicy") or raw["restart_policy"]
    if raw.get("volumes"):
        spec["volumes"] = list(raw["volumes"])
    if raw.get("topology_spread"):
        spec["topologySpreadConstraints"] = list(raw["topology_spread"])
    if raw.get("node_selector"):
        spec["nodeSelector"] = dict(raw["node_selector"])
    if raw.get("tolerations"):
        spec["tolerations"] = list(raw["tolerations"])
    affinity: dict[str, Any] = {}
    if raw.get("affinity"):
        affinity.update(raw["affinity"])
    if raw.get("anti_affinity"):
        affinity["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": list(raw["anti_affinity"])
        }
    if affinity:
        spec["affinity"] = affinity
    status: dict[str, Any] = {
        "phase": raw.get("phase") or ("Running" if raw.get("node") else "Pending")
    }
    if raw.get("nominatedNodeName"):
        status["nominatedNodeName"] = raw["nominatedNodeName"]
    if not raw.get("node"):
        status["conditions"] = [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def pdb(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A PodDisruptionBudget from ``{name, namespace, selector, minAvailable, maxUnavailable,
    disruptionsAllowed}``."""
    known(
        raw,
        ("name", "namespace", "selector", "minAvailable", "maxUnavailable", "disruptionsAllowed"),
        "pdb",
    )
    spec: dict[str, Any] = {}
    if raw.get("selector") is not None:
        spec["selector"] = {"matchLabels": dict(raw["selector"])}
    for key in ("minAvailable", "maxUnavailable"):
        if key in raw:
            spec[key] = raw[key]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": raw["name"], "namespace": raw.get("namespace") or "default"},
        "spec": spec,
        "status": {"disruptionsAllowed": raw.get("disruptionsAllowed", 0)},
    }
