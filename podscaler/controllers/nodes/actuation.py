"""Scale-down actuation: removing one node safely (CA's ``core/scaledown/actuation``).

For each node the planner says may go, in a task of its own while the loop goes on:

1. **Taint** ``ToBeDeletedByClusterAutoscaler=<unix time>:NoSchedule`` (and cordon, with
   ``--cordon-node-before-terminating``), under the node's ``resourceVersion`` so a concurrent
   change is not overwritten; the scheduler places nothing new there, and the planner counts
   the node as being deleted.
2. **Wait** ``--node-delete-delay-after-taint``, then **re-check** with the informers' fresh
   view: an empty node that gained a pod is kept; a node to drain runs CA's drain rules again
   (:func:`podscaler.nodes.drain.pods_to_move`) and is kept if anything now blocks.
3. **Evict** every pod to move through the Eviction API — so PodDisruptionBudgets hold: a 429
   is retried every 10 s until ``--max-pod-eviction-time`` — with the grace period capped at
   ``--max-graceful-termination-sec``; DaemonSet pods best-effort. Then wait for the pods to
   be gone (their grace period plus 30 s).
4. **Delete** exactly this node through its group (on AWS
   ``TerminateInstanceInAutoScalingGroup`` of its own instance, never a lower desired
   capacity that lets the ASG pick a victim).

Any failure on the way removes the taint (and the cordon) again, records ``ScaleDownFailed``
on the node and reports the failure to the loop, which holds scale-down for
``--scale-down-delay-after-failure``. Under ``--dry-run`` nothing is touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.api.reasons import Reason
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import Conflict, KubeError, NotFound, TooManyRequests
from podscaler.nodes.drain import DEFAULT_GRACE_SECONDS, PdbTracker, pods_to_move
from podscaler.nodes.nodestate import is_terminal, pod_key
from podscaler.nodes.options import CONSTANTS, NodeAutoscalerOptions
from podscaler.nodes.plans import NodeRemoval
from podscaler.nodes.providers.base import NodeGroupError
from podscaler.nodes.templates import TAINT_TO_BE_DELETED, is_daemonset_pod, is_mirror_pod
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics

__all__ = ["Outcome", "ScaleDownActuator"]

log = logging.getLogger(__name__)

#: How often the pods of a drained node are checked for being gone (CA: 5 s).
POD_GONE_POLL_SECONDS: Final = 5.0

Obj = dict[str, Any]
Pod = Mapping[str, Any]
Emit = Callable[[Mapping[str, Any], Reason, str], None]


@dataclass(frozen=True)
class Outcome:
    """One removal's end, for the loop: ``deleted`` or not, when, and why not."""

    node: str
    group: str
    deleted: bool
    at: float
    reason: str = ""


class _Abort(Exception):
    """A removal that stops: the node is untainted and ``ScaleDownFailed`` recorded."""


@dataclass
class _InFlight:
    removal: NodeRemoval
    step: str = "tainting"
    task: asyncio.Task[None] | None = None


@dataclass
class ScaleDownActuator:
    """Runs removals (see the module docstring). ``clock`` gives Unix seconds (the taint's
    value); waits use the event loop's clock. ``delete_node(group, node)`` asks the node's
    group to delete it."""

    kube: Kube
    options: NodeAutoscalerOptions
    clock: Callable[[], float]
    node_of: Callable[[str], Obj | None]
    pods_on: Callable[[str], list[Obj]]
    pdbs: Callable[[], Sequence[Obj]]
    delete_node: Callable[[str, str], Awaitable[None]]
    emit: Emit
    metrics: NodeAutoscalerMetrics | None = None
    dry_run: bool = False
    in_flight: dict[str, _InFlight] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)

    # --- what the loop asks

    def deleting_by_group(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for flight in self.in_flight.values():
            counts[flight.removal.group] = counts.get(flight.removal.group, 0) + 1
        return counts

    def steps(self) -> dict[str, str]:
        """Node → what its removal is doing now (for the status ConfigMap and explain)."""
        return {name: flight.step for name, flight in self.in_flight.items()}

    def take_outcomes(self) -> list[Outcome]:
        found, self.outcomes = self.outcomes, []
        return found

    def start(self, removal: NodeRemoval) -> bool:
        """Begin removing ``removal.node`` (False when it is being removed already)."""
        if removal.node in self.in_flight:
            return False
        flight = _InFlight(removal)
        self.in_flight[removal.node] = flight
        flight.task = asyncio.get_running_loop().create_task(
            self._run(flight), name=f"scale-down-{removal.node}"
        )
        if self.metrics is not None:
            self.metrics.pending_node_deletions.set(len(self.in_flight))
        return True

    async def drain(self) -> None:
        """Wait for every removal in flight (tests, shutdown)."""
        tasks = [f.task for f in self.in_flight.values() if f.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        tasks = [f.task for f in self.in_flight.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- one removal

    async def _run(self, flight: _InFlight) -> None:
        removal = flight.removal
        tainted = False
        try:
            if self.dry_run:
                raise _Abort("dry run: the node is not touched")
            flight.step = "tainting"
            await self._taint(removal.node)
            tainted = True
            node = self.node_of(removal.node)
            if node is not None:
                self.emit(node, Reason.ScaleDown, "marked the node as toBeDeleted/unschedulable")
            await asyncio.sleep(self.options.node_delete_delay_after_taint_seconds)
            flight.step = "re-checking"
            to_evict, daemons = self._recheck(removal)
            flight.step = f"evicting {len(to_evict)} pods" if to_evict else "deleting"
            await self._evict_all(to_evict, required=True)
            evict_daemons = (
                self.options.daemonset_eviction_for_occupied_nodes
                if removal.pods_to_move
                else self.options.daemonset_eviction_for_empty_nodes
            )
            if evict_daemons and daemons:
                await self._evict_all(daemons, required=False)
            if to_evict:
                flight.step = "waiting for evicted pods to go"
                await self._wait_gone(removal.node, to_evict)
            flight.step = "deleting"
            await self.delete_node(removal.group, removal.node)
        except asyncio.CancelledError:
            raise
        except (_Abort, KubeError, NodeGroupError) as exc:
            reason = str(exc)
            if tainted:
                await self._untaint(removal.node)
            node = self.node_of(removal.node)
            if node is not None and not self.dry_run:
                self.emit(node, Reason.ScaleDownFailed, f"failed to remove the node: {reason}")
            log.info("scale-down of node %s stopped: %s", removal.node, reason)
            self.outcomes.append(Outcome(removal.node, removal.group, False, self.clock(), reason))
        except Exception as exc:  # a bug must not leave a tainted node behind
            log.exception("scale-down of node %s failed", removal.node)
            if tainted:
                await self._untaint(removal.node)
            self.outcomes.append(
                Outcome(removal.node, removal.group, False, self.clock(), repr(exc))
            )
        else:
            node = self.node_of(removal.node)
            if node is not None:
                self.emit(node, Reason.ScaleDown, "node removed by cluster autoscaler")
            if self.metrics is not None:
                self.metrics.scaled_down(removal.reason)
            self.outcomes.append(Outcome(removal.node, removal.group, True, self.clock()))
        finally:
            self.in_flight.pop(removal.node, None)
            if self.metrics is not None:
                self.metrics.pending_node_deletions.set(len(self.in_flight))

    async def _patch_node(self, name: str, change: Callable[[Obj], Obj | None]) -> None:
        """Merge-patch the node with what ``change`` makes of its spec (None: nothing to do),
        under its resourceVersion; a conflict re-reads the node and tries again."""
        for _ in range(5):
            node = await self.kube.request("GET", f"/api/v1/nodes/{name}")
            spec = change(dict(node.get("spec") or {}))
            if spec is None:
                return
            version = (node.get("metadata") or {}).get("resourceVersion")
            body = {"metadata": {"resourceVersion": version}, "spec": spec}
            try:
                await self.kube.request(
                    "PATCH", f"/api/v1/nodes/{name}", body=body, content_type=MERGE_PATCH
                )
                return
            except Conflict:
                continue
        raise _Abort(f"node {name} kept changing while it was being tainted")

    async def _taint(self, name: str) -> None:
        stamp = str(int(self.clock()))

        def add(spec: Obj) -> Obj:
            taints = [
                t
                for t in spec.get("taints") or []
                if isinstance(t, Mapping) and t.get("key") != TAINT_TO_BE_DELETED
            ]
            taints.append({"key": TAINT_TO_BE_DELETED, "value": stamp, "effect": "NoSchedule"})
            out: Obj = {"taints": taints}
            if self.options.cordon_node_before_terminating:
                out["unschedulable"] = True
            return out

        try:
            await self._patch_node(name, add)
        except NotFound as exc:
            raise _Abort(f"node {name} is gone") from exc

    async def _untaint(self, name: str) -> None:
        def remove(spec: Obj) -> Obj | None:
            taints = [
                t
                for t in spec.get("taints") or []
                if isinstance(t, Mapping) and t.get("key") != TAINT_TO_BE_DELETED
            ]
            if len(taints) == len(spec.get("taints") or []) and not spec.get("unschedulable"):
                return None
            out: Obj = {"taints": taints or None}
            if self.options.cordon_node_before_terminating:
                out["unschedulable"] = None
            return out

        try:
            await self._patch_node(name, remove)
        except NotFound:
            return
        except (KubeError, _Abort) as exc:
            log.warning("could not untaint node %s: %s", name, exc)

    def _recheck(self, removal: NodeRemoval) -> tuple[list[Pod], list[Pod]]:
        """The pods to evict now, and the DaemonSet pods; raises :class:`_Abort` when the
        node must stay after all."""
        if self.node_of(removal.node) is None:
            raise _Abort(f"node {removal.node} is gone")
        pods = [
            p
            for p in self.pods_on(removal.node)
            if not is_terminal(p) and not (p.get("metadata") or {}).get("deletionTimestamp")
        ]
        daemons: list[Pod] = [p for p in pods if is_daemonset_pod(p)]
        others: list[Pod] = [p for p in pods if not is_daemonset_pod(p) and not is_mirror_pod(p)]
        if removal.empty:
            if others:
                raise _Abort(
                    f"node {removal.node} is not empty any more: pod {pod_key(others[0])} "
                    "landed on it"
                )
            return [], daemons
        verdict = pods_to_move(others, self.clock(), self.options, PdbTracker.of(self.pdbs()))
        if verdict.blocking is not None:
            raise _Abort(f"{verdict.blocking.message} ({verdict.blocking.reason.value})")
        return list(verdict.pods), daemons

    def _grace_seconds(self, pod: Mapping[str, Any]) -> int:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        value = grace if isinstance(grace, int) else int(DEFAULT_GRACE_SECONDS)
        return max(0, min(value, self.options.max_graceful_termination_sec))

    async def _evict_all(self, pods: Sequence[Pod], *, required: bool) -> None:
        if not pods:
            return
        results = await asyncio.gather(*(self._evict(p, required) for p in pods))
        failed = [pod_key(p) for p, ok in zip(pods, results, strict=True) if not ok]
        if failed and required:
            raise _Abort(f"failed to evict pods {', '.join(failed)}")

    async def _evict(self, pod: Pod, required: bool) -> bool:
        meta = pod.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
            "deleteOptions": {"gracePeriodSeconds": self._grace_seconds(pod)},
        }
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.options.max_pod_eviction_time_seconds if required else 0)
        retry = float(CONSTANTS["eviction_retry_seconds"])
        last = ""
        while True:
            try:
                await self.kube.request("POST", path, body=body)
            except NotFound:
                return True
            except TooManyRequests as exc:
                last = f"a PodDisruptionBudget refused: {exc}"
            except KubeError as exc:
                last = str(exc)
            else:
                self.emit(pod, Reason.ScaleDown, "deleting pod for node scale down")
                if self.metrics is not None:
                    self.metrics.evicted_pods_total.labels(eviction_result="succeeded").inc()
                return True
            if loop.time() + retry > deadline:
                break
            await asyncio.sleep(retry)
        if self.metrics is not None:
            self.metrics.evicted_pods_total.labels(eviction_result="failed").inc()
        if required:
            self.emit(pod, Reason.ScaleDownFailed, f"failed to delete pod for ScaleDown: {last}")
        return False

    async def _wait_gone(self, node: str, pods: Sequence[Pod]) -> None:
        uids = {(p.get("metadata") or {}).get("uid") for p in pods}
        longest = max((self._grace_seconds(p) for p in pods), default=0)
        headroom = float(CONSTANTS["pod_eviction_headroom_seconds"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest + headroom
        while True:
            left = [
                p
                for p in self.pods_on(node)
                if (p.get("metadata") or {}).get("uid") in uids and not is_terminal(p)
            ]
            if not left:
                return
            if loop.time() >= deadline:
                raise _Abort(
                    f"{len(left)} evicted pods still on the node after "
                    f"{math.ceil(longest + headroom)}s, e.g. {pod_key(left[0])}"
                )
            await asyncio.sleep(min(POD_GONE_POLL_SECONDS, max(0.0, deadline - loop.time())))
