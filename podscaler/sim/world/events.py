"""Events the world's components write (core/v1), the way kubectl describe shows them.

Reasons and messages follow the upstream components that would write them (scheduler:
``Scheduled``/``FailedScheduling``; kubelet: ``Started``/``Killing``/``OOMKilling``/
``BackOff``/``NodeReady``; replica set and deployment controllers: ``SuccessfulCreate``/
``SuccessfulDelete``/``ScalingReplicaSet``; job controller: ``SuccessfulCreate``/``Completed``/
``BackoffLimitExceeded``), so scripts and eyes trained on a real cluster find them.

A repeat of the same (object, reason, message) bumps ``count`` and ``lastTimestamp`` of the
existing Event, as client-go's correlator does, but at most once per
:data:`REPEAT_UPDATE_SECONDS` of simulated time so that a pod retried on every scheduling pass
does not turn into a write per pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podscaler.sim.apiserver.store import Obj, rfc3339
from podscaler.sim.world.writing import ApiWriter, Kinds

__all__ = ["EventWriter"]

REPEAT_UPDATE_SECONDS = 60.0


class EventWriter:
    def __init__(self, writer: ApiWriter, kinds: Kinds, monotonic: Callable[[], float]) -> None:
        self._writer = writer
        self._kinds = kinds
        self._monotonic = monotonic
        self._serial = 0
        #: (uid, reason, message) → (event namespace, name, count, last update seconds)
        self._series: dict[tuple[str, str, str], tuple[str, str, int, float]] = {}
        #: Called for each occurrence: (involved object, type, reason, message).
        self.listeners: list[Callable[[Obj, str, str, str], None]] = []

    def record(self, involved: Obj, type_: str, reason: str, message: str, component: str) -> None:
        for listener in self.listeners:
            listener(involved, type_, reason, message)
        meta = involved["metadata"]
        uid = str(meta.get("uid", ""))
        namespace = str(meta.get("namespace") or "default")
        now_seconds = self._monotonic()
        stamp = rfc3339(self._writer.server.now())
        key = (uid, reason, message)
        known = self._series.get(key)
        store = self._writer.store
        if known is not None:
            ns, name, count, last = known
            current = store.find(self._kinds.events, ns, name)
            if current is not None:
                self._series[key] = (ns, name, count + 1, last)
                if now_seconds - last < REPEAT_UPDATE_SECONDS:
                    return
                new = dict(current.obj)
                new["metadata"] = dict(current.obj["metadata"])
                new["count"] = count + 1
                new["lastTimestamp"] = stamp
                self._series[key] = (ns, name, count + 1, now_seconds)
                self._writer.replace(self._kinds.events, new)
                return
        if len(self._series) > 20_000:
            self._series.clear()
        self._serial += 1
        name = f"{meta['name']}.{self._serial:016x}"
        event: dict[str, Any] = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "kind": involved.get("kind"),
                "apiVersion": involved.get("apiVersion"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": uid,
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        if not meta.get("namespace"):
            event["involvedObject"].pop("namespace")
        self._writer.create(self._kinds.events, event, namespace)
        self._series[key] = (namespace, name, 1, now_seconds)
