"""The Deployment controller: one ReplicaSet per pod template, rolled from old to new.

A replica change only resizes the current ReplicaSet (that is what an autoscaler's ``/scale``
write does). A template change creates a new ReplicaSet and rolls: the new one grows while the
total stays within ``replicas + maxSurge``, old ones shrink (oldest first) while at least
``replicas - maxUnavailable`` pods stay Ready; ``Recreate`` empties the old ones first.

Simplifications: no ``minReadySeconds``, no ``progressDeadlineSeconds`` (Progressing is always
True), no proportional scaling of old ReplicaSets during a rollout, no revision history limit
(old ReplicaSets at zero are kept).
"""

from __future__ import annotations

import math
from typing import Any

from podscaler.sim.apiserver.store import Obj, rfc3339
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.podtemplates import owner_reference, template_hash
from podscaler.sim.world.state import Key, is_terminating

__all__ = ["reconcile_deployment"]

COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"


def _resolve(value: Any, total: int, *, round_up: bool, default: str) -> int:
    raw = default if value is None else value
    if isinstance(raw, str) and raw.endswith("%"):
        scaled = int(raw[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(raw)


def _replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _scale(ctx: WorldContext, deployment: Obj, rs: Obj, replicas: int) -> None:
    old = _replicas(rs)
    if old == replicas:
        return
    new = dict(rs)
    new["metadata"] = dict(rs["metadata"])
    new["spec"] = {**(rs.get("spec") or {}), "replicas": replicas}
    ctx.writer.replace(ctx.kinds.replicasets, new)
    direction = "up" if replicas > old else "down"
    ctx.events.record(
        deployment,
        "Normal",
        "ScalingReplicaSet",
        f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {replicas}",
        COMPONENT,
    )


def _create_replicaset(ctx: WorldContext, deployment: Obj, pod_hash: str, replicas: int) -> Obj:
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = spec.get("template") or {}
    tmeta = dict(template.get("metadata") or {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: pod_hash}
    selector = dict(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": dict(tmeta["labels"]),
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": str(_replicas(deployment))
            },
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "replicas": replicas,
            "selector": selector,
            "template": {"metadata": tmeta, "spec": template.get("spec") or {}},
        },
    }
    entry = ctx.writer.create(ctx.kinds.replicasets, rs, str(meta["namespace"]))
    if replicas:
        ctx.events.record(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {entry.name} from 0 to {replicas}",
            COMPONENT,
        )
    return entry.obj


def reconcile_deployment(ctx: WorldContext, key: Key) -> None:
    deployment = ctx.state.deployments.get(key)
    if deployment is None or is_terminating(deployment):
        return
    spec = deployment.get("spec") or {}
    replicas = _replicas(deployment)
    pod_hash = template_hash(spec.get("template") or {})
    owned = ctx.state.replicasets_owned_by(str(deployment["metadata"]["uid"]))
    current = next(
        (rs for rs in owned if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash),
        None,
    )
    old = [rs for rs in owned if rs is not current]
    strategy = spec.get("strategy") or {}
    live_old = [rs for rs in old if _replicas(rs) > 0 or (rs.get("status") or {}).get("replicas")]
    if current is None:
        if strategy.get("type") == "Recreate" or live_old:
            first = 0 if (strategy.get("type") == "Recreate" and live_old) else None
            if first is None:
                rolling = strategy.get("rollingUpdate") or {}
                surge = _resolve(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
                total = sum(_replicas(rs) for rs in live_old)
                first = max(0, min(replicas, replicas + surge - total))
        else:
            first = replicas
        current = _create_replicaset(ctx, deployment, pod_hash, first)
    elif not live_old:
        _scale(ctx, deployment, current, replicas)
    else:
        _roll(ctx, deployment, current, live_old, replicas, strategy)
    _write_status(ctx, key)


def _roll(
    ctx: WorldContext,
    deployment: Obj,
    current: Obj,
    old: list[Obj],
    replicas: int,
    strategy: dict[str, Any],
) -> None:
    if strategy.get("type") == "Recreate":
        for rs in old:
            _scale(ctx, deployment, rs, 0)
        if not any((rs.get("status") or {}).get("replicas") for rs in old):
            _scale(ctx, deployment, current, replicas)
        return
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge"), replicas, round_up=True, default="25%")
    unavailable = _resolve(rolling.get("maxUnavailable"), replicas, round_up=False, default="25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    total = _replicas(current) + sum(_replicas(rs) for rs in old)
    if _replicas(current) < replicas:
        room = replicas + surge - total
        if room > 0:
            _scale(ctx, deployment, current, min(replicas, _replicas(current) + room))
    available = sum(
        int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [current, *old]
    )
    removable = available - (replicas - unavailable)
    for rs in sorted(old, key=lambda r: str(r["metadata"].get("creationTimestamp"))):
        have = _replicas(rs)
        unready = have - int((rs.get("status") or {}).get("availableReplicas", 0))
        cut = min(have, max(0, removable) + max(0, unready))
        if cut > 0:
            _scale(ctx, deployment, rs, have - cut)
            removable -= max(0, cut - max(0, unready))


def _write_status(ctx: WorldContext, key: Key) -> None:
    deployment = ctx.state.deployments.get(key)
    if deployment is None:
        return
    replicas = _replicas(deployment)
    pod_hash = template_hash((deployment.get("spec") or {}).get("template") or {})
    owned = ctx.state.replicasets_owned_by(str(deployment["metadata"]["uid"]))
    total = ready = updated = 0
    for rs in owned:
        figures = rs.get("status") or {}
        total += int(figures.get("replicas", 0))
        ready += int(figures.get("readyReplicas", 0))
        if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash:
            updated = int(figures.get("replicas", 0))
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    unavailable_allowed = _resolve(
        (strategy.get("rollingUpdate") or {}).get("maxUnavailable"),
        replicas,
        round_up=False,
        default="25%",
    )
    previous = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}
    stamp = rfc3339(ctx.server.now())

    def condition(type_: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        value = "True" if ok else "False"
        before = previous.get(type_) or {}
        changed = before.get("status") != value
        return {
            "type": type_,
            "status": value,
            "reason": reason,
            "message": message,
            "lastUpdateTime": stamp if changed else before.get("lastUpdateTime"),
            "lastTransitionTime": stamp if changed else before.get("lastTransitionTime"),
        }

    available_ok = ready >= replicas - unavailable_allowed
    status: dict[str, Any] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [
            condition(
                "Available",
                available_ok,
                "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available_ok
                else "Deployment does not have minimum availability.",
            ),
            condition(
                "Progressing",
                True,
                "NewReplicaSetAvailable",
                f'ReplicaSet "{deployment["metadata"]["name"]}-{pod_hash}" has successfully '
                "progressed.",
            ),
        ],
    }
    if max(replicas - ready, 0):
        status["unavailableReplicas"] = max(replicas - ready, 0)
    if not ready:
        status.pop("readyReplicas")
        status.pop("availableReplicas")
    if deployment.get("status") != status:
        ctx.writer.replace_status(ctx.kinds.deployments, deployment, status)
