"""The disruption controller: each PodDisruptionBudget's status follows its pods.

Upstream's disruption controller keeps ``status.currentHealthy``, ``desiredHealthy``,
``expectedPods`` and ``disruptionsAllowed`` current as pods come, go and turn Ready; the
node autoscaler reads ``disruptionsAllowed`` to decide whether a node's pods may be evicted,
and the Eviction API checks the same budget (``podscaler.sim.apiserver.subresources``). Here the
figures come from the same :func:`~podscaler.sim.apiserver.subresources.budget`, recomputed for a
namespace whenever one of its pods or budgets changed, and written only when they moved.
"""

from __future__ import annotations

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.sim.apiserver.subresources import budget, expected_pods
from podscaler.sim.world.context import WorldContext

__all__ = ["DisruptionController"]


class DisruptionController:
    def __init__(self, ctx: WorldContext) -> None:
        self.ctx = ctx
        self.pdbs = ctx.server.table.get("policy", "v1", "poddisruptionbudgets")
        self._dirty: set[str] = set()
        #: namespaces holding at least one budget (pods elsewhere cost nothing)
        self._with_budgets: set[str] = set()

    def budget_changed(self, namespace: str) -> None:
        self._with_budgets.add(namespace)
        self._dirty.add(namespace)

    def pod_changed(self, namespace: str) -> None:
        if namespace in self._with_budgets:
            self._dirty.add(namespace)

    def has_work(self) -> bool:
        return bool(self._dirty)

    def sync(self) -> None:
        if self.pdbs is None:
            self._dirty.clear()
            return
        namespaces, self._dirty = self._dirty, set()
        store = self.ctx.server.store
        pods_rt = self.ctx.kinds.pods
        for namespace in sorted(namespaces):
            entries = list(store.entries(self.pdbs, namespace))
            if not entries:
                self._with_budgets.discard(namespace)
                continue
            pods = [
                e.obj
                for e in store.entries(pods_rt, namespace)
                if (e.obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            ]
            for entry in entries:
                spec = entry.obj.get("spec") or {}
                try:
                    selector = LabelSelector.from_dict(spec.get("selector") or {})
                except SelectorError:
                    continue
                matching = [p for p in pods if selector.matches(p["metadata"].get("labels") or {})]
                status = dict(entry.obj.get("status") or {})
                figures = budget(entry.obj, matching, expected_pods(self.ctx.server, matching))
                generation = entry.obj["metadata"].get("generation", 1)
                if (
                    all(status.get(k) == v for k, v in figures.items())
                    and status.get("observedGeneration") == generation
                ):
                    continue
                status.update(figures)
                status["observedGeneration"] = generation
                self.ctx.writer.replace_status(self.pdbs, entry.obj, status)
