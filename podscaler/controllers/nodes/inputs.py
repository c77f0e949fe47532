"""What the node autoscaler reads from the cluster: informer caches, and the planner's
snapshot built from them once per loop.

Watched (list + watch, :mod:`podscaler.kube.informers`): Nodes, Pods, PodDisruptionBudgets,
DaemonSets, PriorityClasses and, in the operator's namespace, the priority expander's
ConfigMap (``cluster-autoscaler-priority-expander``). The loop waits for Nodes, Pods, PDBs and
DaemonSets to be listed before its first pass — planning on a half-listed cluster would see
empty nodes everywhere. PriorityClasses and the ConfigMap are optional: a cluster that does not
serve one (or RBAC that hides it) costs a retrying informer, not the loop.

PriorityClasses fill in ``spec.priority`` for pods that name a class but carry no priority
(the Priority admission plugin normally does that at creation); the ConfigMap is re-parsed
only when its ``resourceVersion`` changes, and a malformed one keeps the last good
configuration (:class:`PriorityTracker`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podscaler.controllers.triggers.headroom import HeadroomBoard, placeholder_pods
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError
from podscaler.kube.informers import Informer, compact
from podscaler.kube.kinds import CONFIGMAPS, DAEMONSETS, NODES, PDBS, PODS, PRIORITY_CLASSES
from podscaler.kube.resources import Discovery
from podscaler.nodes.priority import (
    CONFIGMAP_NAME,
    PriorityConfig,
    PriorityConfigError,
    priorities_from_configmap,
)
from podscaler.nodes.snapshot import ClusterSnapshot

__all__ = [
    "CONFIGMAPS",
    "DAEMONSETS",
    "NODES",
    "PDBS",
    "PODS",
    "PRIORITY_CLASSES",
    "ClusterInputs",
    "PriorityTracker",
    "PriorityUpdate",
]


Obj = dict[str, Any]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriorityUpdate:
    """What changed in the priority configuration at this read: ``error`` is set when the
    ConfigMap just turned unreadable (the last good configuration stays)."""

    config: PriorityConfig | None
    error: PriorityConfigError | None = None
    changed: bool = False


class PriorityTracker:
    """The priority expander's configuration: the last good one, re-read on change."""

    def __init__(self) -> None:
        self.config: PriorityConfig | None = None
        self.error: PriorityConfigError | None = None
        self._version: str | None = None

    def read(self, configmap: Mapping[str, Any] | None) -> PriorityUpdate:
        if configmap is None:
            # CA: no ConfigMap, no priorities (and no Event); a later one is read afresh.
            changed = self._version is not None
            self._version, self.config, self.error = None, None, None
            return PriorityUpdate(None, changed=changed)
        version = str((configmap.get("metadata") or {}).get("resourceVersion") or "")
        if version == self._version:
            return PriorityUpdate(self.config)
        self._version = version
        parsed = priorities_from_configmap(configmap)
        if isinstance(parsed, PriorityConfigError):
            self.error = parsed
            return PriorityUpdate(self.config, error=parsed, changed=True)
        self.config, self.error = parsed, None
        return PriorityUpdate(parsed, changed=True)


def _with_priority(pod: Obj, classes: Mapping[str, int]) -> Obj:
    spec = pod.get("spec") or {}
    if "priority" in spec:
        return pod
    value = classes.get(str(spec.get("priorityClassName") or ""))
    if value is None:
        return pod
    return {**pod, "spec": {**spec, "priority": value}}


class ClusterInputs:
    """The informers of one node autoscaler, and the snapshot of the cluster they hold."""

    def __init__(self, kube: Kube, *, namespace: str) -> None:
        self._kube = kube
        self.namespace = namespace
        self.nodes = Informer(kube, NODES, transform=compact)
        self.pods = Informer(kube, PODS, transform=compact)
        self.pdbs = Informer(kube, PDBS, transform=compact)
        self.daemonsets = Informer(kube, DAEMONSETS, transform=compact)
        self.priority_classes = Informer(kube, PRIORITY_CLASSES, transform=compact)
        self.priority_configmap = Informer(
            kube,
            CONFIGMAPS,
            namespace=namespace,
            field_selector=f"metadata.name={CONFIGMAP_NAME}",
            transform=compact,
        )
        self._required = (self.nodes, self.pods, self.pdbs, self.daemonsets)
        self._optional: tuple[Informer, ...] = (self.priority_classes, self.priority_configmap)
        self._previous: ClusterSnapshot | None = None
        #: Placeholders for a decided scale-up's missing pods (``--scale-up-from-decisions``).
        self.decisions = True

    async def start(self) -> None:
        """Start watching. PriorityClasses only when the API serves them (asked once)."""
        for informer in self._required:
            informer.start()
        self.priority_configmap.start()
        try:
            await Discovery(self._kube).resolve("scheduling.k8s.io/v1", "PriorityClass")
        except KubeError as exc:
            log.info("PriorityClasses are not read (%s): pods keep the priority they carry", exc)
            self._optional = (self.priority_configmap,)
        else:
            self.priority_classes.start()

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        """Until the required informers listed once (then briefly for the optional ones)."""
        async with asyncio.timeout(timeout_seconds):
            for informer in self._required:
                await informer.wait_synced()
        for informer in self._optional:
            try:
                await informer.wait_synced(2.0)
            except TimeoutError:
                continue

    @property
    def synced(self) -> bool:
        return all(i.has_synced for i in self._required)

    async def aclose(self) -> None:
        for informer in (*self._required, *self._optional):
            await informer.aclose()

    def priority_configmap_object(self) -> Obj | None:
        return self.priority_configmap.get(self.namespace, CONFIGMAP_NAME)

    def node_list(self) -> list[Obj]:
        return self.nodes.items()

    def pods_on(self, node: str) -> list[Obj]:
        return [p for p in self.pods.items() if (p.get("spec") or {}).get("nodeName") == node]

    def snapshot(self) -> ClusterSnapshot:
        """The planner's view now (parsed pods reused from the last snapshot)."""
        classes: dict[str, int] = {}
        for pc in self.priority_classes.items():
            value = pc.get("value")
            if isinstance(value, int) and not isinstance(value, bool):
                classes[str((pc.get("metadata") or {}).get("name"))] = value
        pods = self.pods.items()
        # Predictive node headroom: the pods a forecast expects, planned for before they exist.
        offers = HeadroomBoard.for_running_loop().current(asyncio.get_running_loop().time())
        if offers:
            pods = [*pods, *placeholder_pods(offers, pods, decisions=self.decisions)]
        if classes:
            pods = [_with_priority(p, classes) for p in pods]
        snapshot = ClusterSnapshot.build(
            self.nodes.items(),
            pods,
            pdbs=self.pdbs.items(),
            daemonsets=self.daemonsets.items(),
            previous=self._previous,
        )
        self._previous = snapshot
        return snapshot
