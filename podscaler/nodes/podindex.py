"""The pods placed in a simulation, findable by namespace and label: the topology half of the
predicate index.

Inter-pod rules (affinity, anti-affinity, topology spread) select pods by label. Answering
"which placed pods does this selector pick" by walking every pod of a 30,000-pod cluster, for
every pending pod shape and after every placement, is what makes those rules expensive. Here
each pod is filed under every (namespace, label key, value) it carries, so a selector with an
equality requirement (``matchLabels``, or ``In`` with one value) only looks at the pods in
that bucket, in the namespaces the rule covers; any other selector scans everything.

Forks share what was filed before them: every fork starts a new layer for its own additions,
and the layers above the first are merged when they pile up. A pod belongs to its node for as
long as the node is not replaced or removed (the node's *epoch*), so taking a node out never
needs to find its pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, Operator
from podscaler.nodes.nodestate import is_terminal

__all__ = ["PlacedPods"]

_MAX_LAYERS: Final = 8

_Entry = tuple[Mapping[str, Any], int, int]  # pod, node index, node epoch when placed


class _Layer:
    """Entries in placement order; the label index over them is built on first use, so a
    pass that never asks an inter-pod question never pays for it."""

    __slots__ = ("_by_label", "entries")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self._by_label: dict[tuple[str, str, str], list[int]] | None = None

    def add(self, pod: Mapping[str, Any], index: int, epoch: int) -> None:
        self.entries.append((pod, index, epoch))
        if self._by_label is not None:
            self._file(len(self.entries) - 1, pod)

    def _file(self, position: int, pod: Mapping[str, Any]) -> None:
        assert self._by_label is not None
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        for key, value in (meta.get("labels") or {}).items():
            self._by_label.setdefault((namespace, key, str(value)), []).append(position)

    def by_label(self) -> dict[tuple[str, str, str], list[int]]:
        if self._by_label is None:
            self._by_label = {}
            for position, (pod, _, _) in enumerate(self.entries):
                self._file(position, pod)
        return self._by_label


def _equality(selector: LabelSelector) -> tuple[str, str] | None:
    """A (key, value) every selected pod must carry, when the selector has one."""
    for requirement in selector.requirements:
        if requirement.operator in (Operator.IN, Operator.EQUALS) and len(requirement.values) == 1:
            return requirement.key, requirement.values[0]
    return None


class PlacedPods:
    def __init__(self) -> None:
        self._layers: list[_Layer] = [_Layer()]
        self._epochs: list[int] = []

    def fork(self) -> PlacedPods:
        """A copy that shares what is filed now; both continue in fresh layers."""
        if len(self._layers) >= _MAX_LAYERS:
            self._compact()
        shared = self._layers
        other = PlacedPods.__new__(PlacedPods)
        other._layers = [*shared, _Layer()]
        other._epochs = list(self._epochs)
        self._layers = [*shared, _Layer()]
        return other

    def _compact(self) -> None:
        """Merge the layers above the first (the cluster as it was: by far the largest, and
        never rewritten, since a node's epoch says which of its entries still hold)."""
        merged = _Layer()
        epochs = self._epochs
        merged.entries = [
            entry
            for layer in self._layers[1:]
            for entry in layer.entries
            if entry[2] == epochs[entry[1]]
        ]
        self._layers = [self._layers[0], merged]

    # --- changes

    def add_node(self, pods: Iterable[Mapping[str, Any]]) -> None:
        index = len(self._epochs)
        self._epochs.append(0)
        for pod in pods:
            self._layers[-1].add(pod, index, 0)

    def add_pod(self, pod: Mapping[str, Any], index: int, count: int = 1) -> None:
        epoch = self._epochs[index]
        for _ in range(count):
            self._layers[-1].add(pod, index, epoch)

    def reset_node(self, index: int, pods: Iterable[Mapping[str, Any]] = ()) -> None:
        """The node's pods are replaced by ``pods`` (none: the node is gone)."""
        self._epochs[index] += 1
        epoch = self._epochs[index]
        for pod in pods:
            self._layers[-1].add(pod, index, epoch)

    # --- queries

    def selected(
        self, selector: LabelSelector | None, namespaces: Iterable[str] | None
    ) -> Iterator[tuple[Mapping[str, Any], int]]:
        """Candidate (pod, node index) pairs for ``selector`` in ``namespaces`` (None: every
        namespace). A superset: the caller still applies the rule's own match."""
        if selector is None:
            return
        wanted = _equality(selector)
        spaces = None if namespaces is None else list(namespaces)
        epochs = self._epochs
        for layer in self._layers:
            if wanted is None or spaces is None:
                positions: Iterable[int] = range(len(layer.entries))
            else:
                filed = layer.by_label()
                positions = (p for ns in spaces for p in filed.get((ns, wanted[0], wanted[1]), ()))
            for position in positions:
                pod, index, epoch = layer.entries[position]
                if epoch == epochs[index] and not is_terminal(pod):
                    yield pod, index
