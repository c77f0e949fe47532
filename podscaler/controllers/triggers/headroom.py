"""Predictive node headroom: nodes ready when the forecast's pods arrive.

A predictive trigger brings replicas forward by its ``horizon`` (pod start-up). When those
pods also need a node, they wait for its boot, which no replica forecast can hide unless the
nodes are asked for earlier still. A trigger with ``nodeHorizon`` (node boot plus pod
start-up) also says how many replicas the forecast over that longer window needs
(``nodeForecastReplicas`` in its details). The ScaledObject controller offers the difference
to the current replicas here (:meth:`HeadroomBoard.offer`), and the node autoscaler, in the
same process, plans for that many **placeholder pods**: copies of one of the workload's pods,
Pending and unschedulable, that exist only in the planner's snapshot — the pods the workload
will have, counted as overprovisioning's placeholder pods are, but never written to the
cluster. Nodes come up for them; when the replicas are created they land on those nodes.

The same board carries the hand-over of a decided scale-up (``decided``): when a ScaledObject
raises its target, placeholders stand for the decided replicas whose pods do not exist yet,
and the node autoscaler is woken (:meth:`HeadroomBoard.listen`), so nodes are planned for
them before the pods are created and found unschedulable. As the pods appear the
placeholders give way to them, so nothing is counted twice.

An offer lasts a few polling intervals (:data:`OFFER_POLLS`), so a ScaledObject that is
deleted, or a trigger whose forecast has fallen, stops asking on its own. Workloads without a
pod yet (scaled to zero) have no template and get no headroom.

The board is kept per event loop (one operator, its controllers in one loop); the functions
that make placeholders are pure. Under ``--shard`` the owner of a ScaledObject may be another
replica than the node autoscaler's: the board then also reads the offers published in the
ScaledObjects' statuses (:mod:`podscaler.controllers.triggers.published`).
"""

from __future__ import annotations

import asyncio
import copy
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from podscaler.api.selectors import SelectorError, parse_label_selector

__all__ = [
    "HEADROOM_LABEL",
    "OFFER_POLLS",
    "HeadroomBoard",
    "HeadroomOffer",
    "extra_replicas",
    "placeholder_owner",
    "placeholder_pods",
]

#: Label on the placeholder pods (for the planner's explanations; they are never written).
HEADROOM_LABEL: Final = "podscaler.io/forecast-headroom"
#: An offer expires after this many polling intervals without being renewed.
OFFER_POLLS: Final = 3

Obj = dict[str, Any]


@dataclass(frozen=True)
class HeadroomOffer:
    """Placeholders for ``count`` more pods like the workload's, until ``until`` (loop time)."""

    namespace: str
    owner: str
    selector: str
    count: int
    until: float
    #: The replicas a decision set: placeholders stand for those whose pods do not exist yet.
    decided: int = 0


def extra_replicas(details: Mapping[str, Any] | None, current: int, most: int) -> int:
    """The replicas a predictive trigger's ``nodeForecastReplicas`` needs beyond ``current``,
    within the ScaledObject's ``maxReplicaCount``; 0 without that detail."""
    if not details:
        return 0
    wanted = details.get("nodeForecastReplicas")
    if isinstance(wanted, bool) or not isinstance(wanted, int):
        return 0
    return max(0, min(wanted, most) - max(current, 0))


class HeadroomBoard:
    """Offers by ScaledObject, read by the node autoscaler's snapshot."""

    _per_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeadroomBoard]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self._offers: dict[tuple[str, str], HeadroomOffer] = {}
        self._listeners: list[Callable[[], None]] = []
        #: other places offers come from (under ``--shard``: the ScaledObjects' statuses,
        #: :mod:`podscaler.controllers.triggers.published`), each called with the loop time
        self._sources: list[Callable[[float], list[HeadroomOffer]]] = []

    def add_source(self, source: Callable[[float], list[HeadroomOffer]]) -> None:
        """Also read offers from ``source`` (this process's offer for an object wins)."""
        self._sources.append(source)

    def remove_source(self, source: Callable[[float], list[HeadroomOffer]]) -> None:
        if source in self._sources:
            self._sources.remove(source)

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when an offer asks for more than before (a node pass is due)."""
        self._listeners.append(callback)

    @classmethod
    def for_running_loop(cls) -> HeadroomBoard:
        loop = asyncio.get_running_loop()
        board = cls._per_loop.get(loop)
        if board is None:
            board = cls._per_loop[loop] = HeadroomBoard()
        return board

    def offer(self, offer: HeadroomOffer) -> None:
        """Replace the ScaledObject's offer (a count of 0 withdraws it)."""
        key = (offer.namespace, offer.owner)
        before = self._offers.get(key)
        if offer.count <= 0 and offer.decided <= 0:
            self._offers.pop(key, None)
            return
        self._offers[key] = offer
        if before is None or offer.count > before.count or offer.decided > before.decided:
            for callback in self._listeners:
                callback()

    def current(self, now: float) -> list[HeadroomOffer]:
        """The offers still valid at ``now`` (expired ones are dropped)."""
        for key in [k for k, o in self._offers.items() if o.until < now]:
            del self._offers[key]
        if not self._sources:
            return [self._offers[k] for k in sorted(self._offers)]
        offers = dict(self._offers)
        for source in self._sources:
            for offer in source(now):
                key = (offer.namespace, offer.owner)
                if key not in offers and offer.until >= now:
                    offers[key] = offer
        return [offers[k] for k in sorted(offers)]


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (pod.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _workload_pods(
    offer: HeadroomOffer, pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The workload's live pods, a scheduled one first (it is known to fit somewhere)."""
    if not offer.selector:
        return []  # an empty selector would select every pod of the namespace
    try:
        selector = parse_label_selector(offer.selector)
    except SelectorError:
        return []
    mine = [
        p
        for p in pods
        if (p.get("metadata") or {}).get("namespace") == offer.namespace
        and not (p.get("metadata") or {}).get("deletionTimestamp")
        and not _labels(p).get(HEADROOM_LABEL)
        and selector.matches(_labels(p))
    ]
    mine.sort(key=lambda p: (not (p.get("spec") or {}).get("nodeName"), _name(p)))
    return mine


_PLACEHOLDER_INFIX: Final = "-forecast-headroom-"


def placeholder_owner(name: str) -> str | None:
    """The ScaledObject a placeholder pod's name stands for, or None for a real pod's."""
    owner, found, index = name.rpartition(_PLACEHOLDER_INFIX)
    return owner if found and owner and index.isdigit() else None


def _name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def placeholder_pods(
    offers: Iterable[HeadroomOffer], pods: Sequence[Mapping[str, Any]], *, decisions: bool = True
) -> list[Obj]:
    """The placeholder pods for ``offers``: for each, copies of one of its workload's
    ``pods``, unscheduled and marked Unschedulable, as a planner reads a pod the scheduler
    found no node for: ``count`` of them (the forecast's), or, with ``decisions``, as many as
    the decided replicas outnumber the workload's live pods, whichever is more. Pure."""
    out: list[Obj] = []
    for offer in offers:
        mine = _workload_pods(offer, pods)
        if not mine:
            continue
        template = mine[0]
        missing = max(0, offer.decided - len(mine)) if decisions else 0
        meta = template.get("metadata") or {}
        for index in range(max(offer.count, missing)):
            name = f"{offer.owner}{_PLACEHOLDER_INFIX}{index}"
            spec = copy.deepcopy(dict(template.get("spec") or {}))
            spec.pop("nodeName", None)
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": offer.namespace,
                        "uid": f"forecast-headroom/{offer.namespace}/{name}",
                        "labels": {**_labels(template), HEADROOM_LABEL: offer.owner},
                        "ownerReferences": copy.deepcopy(meta.get("ownerReferences") or []),
                    },
                    "spec": spec,
                    "status": {
                        "phase": "Pending",
                        "conditions": [
                            {
                                "type": "PodScheduled",
                                "status": "False",
                                "reason": "Unschedulable",
                                "message": "headroom: replicas a scale-up decided or the "
                                "predictive trigger expects, whose pods do not exist yet",
                            }
                        ],
                    },
                }
            )
    return out
