"""How the world writes: in-process, but through the API server's own write path.

The world could write over HTTP like any controller, but at 2,000 pods and a day of simulated
time the JSON round trips would dominate; so it calls the store directly. What it must not do is
take a shortcut the HTTP front does not: every write here runs the same per-kind validation,
the same :class:`~podscaler.sim.apiserver.store.Store` method (new resourceVersion, generation,
watch event to every watcher, including an operator's informers over HTTP) and the same
:meth:`~podscaler.sim.apiserver.server.ApiServer.after_write` side effects as the REST handlers in
``podscaler.sim.apiserver.rest``.

Objects handed to these methods become the stored version; the world builds them as shallow
copies of what it read (stored dicts are never mutated, see ``store.py``).

One step of a REST create is skipped by :meth:`ApiWriter.create`: the mutating admission
webhooks, which are HTTP calls and cannot run inside the world's synchronous steps.
:meth:`ApiWriter.create_admitted` is the whole chain, awaited (``admitting.py`` decides which
one a pod takes: the webhooks only when a MutatingWebhookConfiguration is stored).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podscaler.sim.apiserver import admission, defaulting, validation
from podscaler.sim.apiserver.authentication import User
from podscaler.sim.apiserver.errors import Conflict
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.store import Entry, Obj, rfc3339

if TYPE_CHECKING:
    from podscaler.sim.apiserver.server import ApiServer

__all__ = ["ApiWriter", "Kinds"]


@dataclass(frozen=True)
class Kinds:
    """The resource types the world reads and writes, looked up once."""

    namespaces: ResourceType
    pods: ResourceType
    nodes: ResourceType
    events: ResourceType
    deployments: ResourceType
    replicasets: ResourceType
    statefulsets: ResourceType
    jobs: ResourceType

    @classmethod
    def of(cls, server: ApiServer) -> Kinds:
        def rt(group: str, version: str, resource: str) -> ResourceType:
            found = server.table.get(group, version, resource)
            if found is None:
                raise LookupError(f"the API server does not serve {resource}.{group or 'core'}")
            return found

        return cls(
            namespaces=rt("", "v1", "namespaces"),
            pods=rt("", "v1", "pods"),
            nodes=rt("", "v1", "nodes"),
            events=rt("", "v1", "events"),
            deployments=rt("apps", "v1", "deployments"),
            replicasets=rt("apps", "v1", "replicasets"),
            statefulsets=rt("apps", "v1", "statefulsets"),
            jobs=rt("batch", "v1", "jobs"),
        )


class ApiWriter:
    """Create, replace, update status, delete and bind, as the REST handlers do."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.store = server.store
        self._configurations = server.table.get(
            "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"
        )
        #: Writes made (a figure for benchmarks).
        self.writes = 0
        #: Called after every write: the world drains its watches here, so its caches are
        #: current the moment a write returns (a controller reads what it just wrote).
        self.on_write: list[Callable[[], None]] = []

    def _written(self) -> None:
        self.writes += 1
        for callback in self.on_write:
            callback()

    def create(self, rt: ResourceType, obj: Obj, namespace: str = "") -> Entry:
        """Create without the mutating webhooks (see :meth:`create_admitted`)."""
        spec = obj.get("spec")
        if isinstance(spec, dict) and rt.kind == "Pod" and not rt.group:
            # Priority admission sets spec fields in place; a pod built from a template shares
            # the stored template's spec dict, which must not change under the store.
            obj["spec"] = dict(spec)
        admission.admit(self.store, self.server.table, rt, obj)
        validation.validate(rt, obj)
        entry = self.server.after_write(rt, self.store.create(rt, obj, namespace=namespace))
        self._written()
        return entry

    def webhooks_configured(self) -> bool:
        """Whether any MutatingWebhookConfiguration is stored (one dict length: cheap enough
        to ask before every pod the world creates)."""
        return self._configurations is not None and self.store.count(self._configurations) > 0

    async def create_admitted(
        self, rt: ResourceType, obj: Obj, namespace: str, user: User | None
    ) -> Entry:
        """Create as ``POST`` does (``rest.create``): defaults, built-in admission, the
        mutating webhooks (called over HTTPS as *user*), validation, then the store. The object
        is deep-copied first: defaulting and admission change it in place, and the world's
        pods share their template's nested dicts with the stored workload."""
        obj = copy.deepcopy(obj)
        defaulting.apply_defaults(rt, obj)
        admission.admit(self.store, self.server.table, rt, obj)
        obj = await self.server.webhooks.mutate(rt, obj, namespace=namespace, user=user)
        validation.validate(rt, obj)
        entry = self.server.after_write(rt, self.store.create(rt, obj, namespace=namespace))
        self._written()
        return entry

    def replace(self, rt: ResourceType, obj: Obj) -> Entry:
        """PUT of the main resource (status is kept from the stored object)."""
        validation.validate(rt, obj)
        meta = obj["metadata"]
        entry = self.store.update(
            rt, obj, namespace=str(meta.get("namespace") or ""), name=str(meta["name"])
        )
        entry = self.server.after_write(rt, entry)
        self._written()
        return entry

    def replace_status(self, rt: ResourceType, current: Obj, status: dict[str, Any]) -> Entry:
        """PUT of ``/status``: only ``status`` changes."""
        meta = current["metadata"]
        body: Obj = {
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace", "")},
            "status": status,
        }
        entry = self.store.update(
            rt,
            body,
            namespace=str(meta.get("namespace") or ""),
            name=str(meta["name"]),
            subresource="status",
        )
        entry = self.server.after_write(rt, entry)
        self._written()
        return entry

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        grace_seconds: int | None = None,
        uid: str | None = None,
    ) -> Entry | None:
        """DELETE (background propagation); None when the object was gone already.
        ``grace_seconds``: DeleteOptions' (0: a kubelet's confirmation, a forced deletion);
        ``uid``: the precondition that it is still the same object."""
        if self.store.find(rt, namespace, name) is None:
            return None
        entry, _gone = self.store.delete(
            rt,
            namespace,
            name,
            propagation="Background",
            grace_seconds=grace_seconds,
            precondition_uid=uid,
        )
        self._written()
        return entry

    def bind(self, pods: ResourceType, pod: Obj, node_name: str) -> Entry:
        """``POST pods/{name}/binding``: the semantics of ``subresources.bind`` (assign the
        node, set ``PodScheduled=True``), refusing pods already bound or being deleted."""
        meta = pod["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        current = self.store.get(pods, namespace, name)
        assigned = (current.obj.get("spec") or {}).get("nodeName")
        if assigned:
            raise Conflict(
                f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is already '
                f'assigned to node "{assigned}"'
            )
        if current.obj["metadata"].get("deletionTimestamp"):
            raise Conflict(f"pod {name} is being deleted, cannot be assigned to a host")
        new = current.copy()
        new.setdefault("spec", {})["nodeName"] = node_name
        status = new.setdefault("status", {})
        status.pop("nominatedNodeName", None)
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": rfc3339(self.server.now()),
            }
        )
        status["conditions"] = conditions
        entry = self.store.update(pods, new, namespace=namespace, name=name, whole=True)
        self._written()
        return entry
