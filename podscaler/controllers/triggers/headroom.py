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

An offer lasts a few polling intervals (:data:`OFFER_POLLS`), so a ScaledObject that is
deleted, or a trigger whose forecast has fallen, stops asking on its own. Workloads without a
pod yet (scaled to zero) have no template and get no headroom.

The board is kept per event loop (one operator, its controllers in one loop); the functions
that make placeholders are pure.
"""

from __future__ import annotations

import asyncio
import copy
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from podscaler.api.selectors import SelectorError, parse_label_selector

__all__ = [
    "HEADROOM_LABEL",
    "OFFER_POLLS",
    "HeadroomBoard",
    "HeadroomOffer",
    "extra_replicas",
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
        if offer.count <= 0:
            self._offers.pop(key, None)
        else:
            self._offers[key] = offer

    def current(self, now: float) -> list[HeadroomOffer]:
        """The offers still valid at ``now`` (expired ones are dropped)."""
        for key in [k for k, o in self._offers.items() if o.until < now]:
            del self._offers[key]
        return [self._offers[k] for k in sorted(self._offers)]


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    labels = (pod.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _template(offer: HeadroomOffer, pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """One of the workload's pods (a scheduled one first: it is known to fit somewhere)."""
    if not offer.selector:
        return None  # an empty selector would select every pod of the namespace
    try:
        selector = parse_label_selector(offer.selector)
    except SelectorError:
        return None
    mine = [
        p
        for p in pods
        if (p.get("metadata") or {}).get("namespace") == offer.namespace
        and not (p.get("metadata") or {}).get("deletionTimestamp")
        and not _labels(p).get(HEADROOM_LABEL)
        and selector.matches(_labels(p))
    ]
    mine.sort(key=lambda p: (not (p.get("spec") or {}).get("nodeName"), _name(p)))
    return mine[0] if mine else None


def _name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def placeholder_pods(
    offers: Iterable[HeadroomOffer], pods: Sequence[Mapping[str, Any]]
) -> list[Obj]:
    """The placeholder pods for ``offers``: for each, ``count`` copies of one of its
    workload's ``pods``, unscheduled and marked Unschedulable, as a planner reads a pod the
    scheduler found no node for. Pure."""
    out: list[Obj] = []
    for offer in offers:
        template = _template(offer, pods)
        if template is None:
            continue
        meta = template.get("metadata") or {}
        for index in range(offer.count):
            name = f"{offer.owner}-forecast-headroom-{index}"
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
                                "message": "forecast headroom: replicas the predictive "
                                "trigger expects within its nodeHorizon",
                            }
                        ],
                    },
                }
            )
    return out
