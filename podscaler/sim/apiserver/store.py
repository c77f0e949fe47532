"""The versioned, in-memory object store behind the embedded API server.

It plays the part etcd and the apiserver's registry play together: one global, monotonically
increasing resourceVersion (a string of an integer, as etcd's revision), objects kept as plain
dicts in buckets per resource and namespace, optimistic concurrency, finalizers, owner garbage
collection and watch fan-out with a bounded history.

Why it is shaped like this:

* **Stored dicts are never mutated.** Every write builds a new dict and replaces the entry, so
  one object version can be serialized once (:meth:`Entry.raw`) and the same bytes shared by
  LIST responses and every watcher. That is what keeps a LIST of 30,000 pods and 500 writes/s
  of watch traffic cheap in Python.
* **Single-threaded.** The store is driven from one asyncio loop; every method is synchronous,
  so a write and its fan-out are atomic with respect to watchers being added.

Deliberate simplifications versus a real kube-apiserver (documented so nobody relies on them):

* The history is a bounded window per resource (``history_size`` events, and whatever
  :meth:`Store.compact_to` forgot); reads at an older version are 410. Reads at a version
  inside it rebuild the state from the history (:meth:`Store.changes_since`, used by
  ``versions.py`` for exact reads and pagination).
* A bound pod's graceful deletion waits for a kubelet's DELETE of grace 0 (``sim/world``'s
  kubelet sends it; without a world such a pod stays Terminating, as on a cluster whose node
  is gone until the pod garbage collector runs).
* Garbage collection is synchronous: deleting an owner removes its dependents (whose every
  owner is gone) in the same call. ``Foreground`` and ``Orphan`` first leave their finalizer
  (``foregroundDeletion``/``orphan``) on the owner, as upstream, then delete (or release) the
  dependents and remove it in the same call.
* Deleting a namespace deletes its contents at once; the namespace stays ``Terminating`` only
  while objects with finalizers, or bound pods in their grace period, remain in it.
* Built-in defaulting (``defaulting.py``) runs on every create here, whoever the writer; the
  REST layer also runs it on request bodies of updates and patches, as upstream decoding does.
* ``generation`` is kept for every kind that has one upstream (not ConfigMaps, Pods, ...: see
  ``defaulting.WITHOUT_GENERATION``) and bumps when anything outside ``metadata`` and
  ``status`` changes.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from podscaler import clock
from podscaler.api.timestamps import format_time, parse_time
from podscaler.sim.apiserver import defaulting
from podscaler.sim.apiserver.entries import Entry, Key, Now, Obj, Predicate, dumps
from podscaler.sim.apiserver.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    invalid,
    not_found,
)
from podscaler.sim.apiserver.fanout import Event, FanOut, Watcher
from podscaler.sim.apiserver.lifecycle import deletion_grace, finalized, is_pod, qos_class
from podscaler.sim.apiserver.names import name_problems
from podscaler.sim.apiserver.nodeports import NodePorts
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.typedlists import set_type

#: generateName suffix alphabet: upstream avoids vowels and look-alike digits.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: The finalizer a propagation policy leaves on the object until the collector is done.
_PROPAGATION_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}
#: Namespaces every cluster starts with.
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


#: Kubernetes timestamps as the embedded cluster writes them (the one writer is in ``api``).
rfc3339 = format_time

#: What the rest of the API server imports from here, defined below it (entries, fan-out).
__all__ = [
    "INITIAL_NAMESPACES",
    "Entry",
    "Event",
    "Key",
    "Now",
    "Obj",
    "Predicate",
    "Store",
    "Watcher",
    "dumps",
    "rfc3339",
]


class Store:
    """Objects by resource → namespace → name, plus history, watchers and the owner index."""

    def __init__(
        self,
        *,
        now: Now | None = None,
        history_size: int = 5000,
        max_watch_queue: int = 50_000,
        seed_namespaces: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self._now = now or clock.now
        #: Draws generated names and uids: a simulation seeds it, so a run replays exactly.
        self._rng = rng or random.Random()
        #: Service cluster IPs in use (allocated on create, released on removal).
        self._cluster_ips: set[str] = set()
        #: Service node ports in use (see ``nodeports.py``).
        self.node_ports = NodePorts(self._rng)
        self._rv = 1
        #: The history of changes and the open watches (see ``fanout.py``).
        self.fanout = FanOut(history_size=history_size, max_watch_queue=max_watch_queue)
        self._types: dict[Key, ResourceType] = {}
        self._buckets: dict[Key, dict[str, dict[str, Entry]]] = {}
        self._sorted: dict[Key, list[tuple[str, str]] | None] = {}
        self._by_uid: dict[str, tuple[Key, str, str]] = {}
        self._dependents: dict[str, set[str]] = {}
        self._namespaces_rt: ResourceType | None = None
        #: Called after an object leaves the store (CRDs unregister their resource here).
        self.on_removed: list[Callable[[ResourceType, Obj], None]] = []
        if seed_namespaces:
            from podscaler.sim.apiserver.resources import BUILTIN

            ns_rt = next(rt for rt in BUILTIN if rt.resource == "namespaces" and not rt.group)
            for ns in INITIAL_NAMESPACES:
                self.create(ns_rt, {"metadata": {"name": ns}})

    # ----------------------------------------------------------------- reading

    @property
    def resource_version(self) -> int:
        return self._rv

    def now(self) -> datetime:
        return self._now()

    def _bucket(self, rt: ResourceType) -> dict[str, dict[str, Entry]]:
        if rt.stored_as is not None:
            raise TypeError(
                f"{rt.group_resource} is a view of {rt.stored_as}: use the stored resource "
                "(the API server converts, see views.py)"
            )
        key = rt.key
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = {}
            self._types[key] = rt
            self.fanout.add(key)
            self._sorted[key] = None
            if rt.resource == "namespaces" and not rt.group:
                self._namespaces_rt = rt
        else:
            self._types[key] = rt
        return bucket

    def get(self, rt: ResourceType, namespace: str, name: str) -> Entry:
        entry = self._bucket(rt).get(namespace if rt.namespaced else "", {}).get(name)
        if entry is None:
            raise not_found(rt.group_resource, name, group=rt.group, kind=rt.resource)
        return entry

    def find(self, rt: ResourceType, namespace: str, name: str) -> Entry | None:
        return self._bucket(rt).get(namespace if rt.namespaced else "", {}).get(name)

    def _sorted_keys(self, rt: ResourceType) -> list[tuple[str, str]]:
        keys = self._sorted.get(rt.key)
        if keys is None:
            bucket = self._bucket(rt)
            keys = sorted((ns, name) for ns, names in bucket.items() for name in names)
            self._sorted[rt.key] = keys
        return keys

    def entries(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        after: tuple[str, str] | None = None,
    ) -> Iterable[Entry]:
        """Entries in (namespace, name) order, as etcd's key order gives them upstream."""
        bucket = self._bucket(rt)
        if namespace and rt.namespaced:
            names = bucket.get(namespace, {})
            for name in sorted(names):
                if after is None or (namespace, name) > after:
                    yield names[name]
            return
        keys = self._sorted_keys(rt)
        start = 0
        if after is not None:
            import bisect

            start = bisect.bisect_right(keys, after)
        for i in range(start, len(keys)):
            ns, name = keys[i]
            entry = bucket.get(ns, {}).get(name)
            if entry is not None:
                yield entry

    def count(self, rt: ResourceType, namespace: str | None = None) -> int:
        bucket = self._bucket(rt)
        if namespace and rt.namespaced:
            return len(bucket.get(namespace, {}))
        return sum(len(names) for names in bucket.values())

    def namespace_is_empty(self, namespace: str) -> bool:
        return all(not bucket.get(namespace) for bucket in self._buckets.values())

    # ----------------------------------------------------------------- writing

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def create(self, rt: ResourceType, obj: Obj, *, namespace: str = "") -> Entry:
        """Store a new object; ``namespace`` is the request's (it wins when the body has none)."""
        bucket = self._bucket(rt)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        defaulting.apply_defaults(rt, obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise BadRequest(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            ns = namespace or body_ns or ""
            if not ns:
                raise BadRequest("the server could not find the requested resource: namespace")
            self._require_namespace(ns)
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
            ns = ""
        if meta.get("resourceVersion"):
            raise BadRequest("resourceVersion should not be set on objects to be created")
        name = meta.get("name")
        names = bucket.get(ns, {})
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise invalid(
                    rt.kind,
                    "",
                    [
                        (
                            "metadata.name",
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                        )
                    ],
                    group=rt.group,
                )
            for _ in range(100):
                name = prefix + "".join(self._rng.choices(_SUFFIX_ALPHABET, k=5))
                if name not in names:
                    break
            meta["name"] = name
        generate_name = meta.get("generateName")
        self._validate_name(rt, str(name), generate_name if isinstance(generate_name, str) else "")
        if name in names:
            raise AlreadyExists(
                f'{rt.group_resource} "{name}" already exists',
                name=str(name),
                group=rt.group,
                kind=rt.resource,
            )
        set_type(obj, rt)
        meta["uid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = rfc3339(self._now())
        if defaulting.has_generation(rt):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        is_service = rt.kind == "Service" and not rt.group
        if is_service:
            self.node_ports.assign(obj)
        defaulting.on_create(rt, obj, self._allocate_cluster_ip)
        if is_service and isinstance(obj.get("spec"), dict):
            self._cluster_ips.add(str(obj["spec"].get("clusterIP")))
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        if rt.has_status and not rt.keep_status_on_create:
            obj.pop("status", None)
        self._initial_status(rt, obj)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        entry = Entry(obj, rv)
        bucket.setdefault(ns, {})[str(name)] = entry
        self._sorted[rt.key] = None
        self._index(rt, entry, None)
        self._emit(rt, "ADDED", entry, None)
        return entry

    def update(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        namespace: str = "",
        name: str | None = None,
        subresource: str | None = None,
        whole: bool = False,
    ) -> Entry:
        """Replace an object (PUT semantics), honouring the status subresource split.

        ``subresource="status"`` keeps everything but ``status`` from the stored object; a
        main-resource write of a kind with a status subresource keeps the stored status, unless
        ``whole`` (server-internal writes such as a binding, which sets spec and status at
        once). An update that changes nothing is a no-op (no new resourceVersion, no event), as
        upstream.
        """
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise BadRequest("metadata is required")
        name = name or meta.get("name")
        if not name:
            raise BadRequest("name is required")
        if meta.get("name") and meta["name"] != name:
            raise BadRequest(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        ns = (namespace or meta.get("namespace") or "") if rt.namespaced else ""
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        old = self.get(rt, ns, name)
        sent_uid = meta.get("uid")
        if sent_uid and sent_uid != old.obj["metadata"].get("uid"):
            # Upstream takes a uid in the sent object as a precondition (an update meant for
            # an earlier object of the same name must not land on its successor).
            raise Conflict(
                f'Operation cannot be fulfilled on {rt.group_resource} "{name}": Precondition '
                f"failed: UID in precondition: {sent_uid}, UID in object meta: "
                f"{old.obj['metadata'].get('uid')}",
                name=name,
                group=rt.group,
                kind=rt.resource,
            )
        sent_rv = meta.get("resourceVersion")
        if sent_rv and str(sent_rv) != str(old.rv):
            raise self._conflict(rt, name)
        old_obj = old.obj
        old_meta = old_obj["metadata"]
        if subresource == "status":
            new = old.copy()
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        else:
            new = obj
            new_meta = meta
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if field in old_meta:
                    new_meta[field] = old_meta[field]
                else:
                    new_meta.pop(field, None)
            new_meta["name"] = name
            if rt.namespaced:
                new_meta["namespace"] = ns
            else:
                new_meta.pop("namespace", None)
            if rt.has_status and not whole:
                if "status" in old_obj:
                    new["status"] = old_obj["status"]
                else:
                    new.pop("status", None)
            if old_meta.get("deletionTimestamp"):
                added = set(new_meta.get("finalizers") or []) - set(
                    old_meta.get("finalizers") or []
                )
                if added:
                    raise invalid(
                        rt.kind,
                        str(name),
                        [
                            (
                                "metadata.finalizers",
                                "FieldValueForbidden",
                                "Forbidden: no new finalizers can be added if the object is "
                                f"being deleted, found new finalizers {sorted(added)!r}",
                            )
                        ],
                        group=rt.group,
                    )
        if subresource != "status" and rt.kind == "Service" and not rt.group:
            self.node_ports.assign(new, old_obj)
        set_type(new, rt)
        new_meta = new["metadata"]
        new_meta["resourceVersion"] = old_meta.get("resourceVersion")
        if "generation" in old_meta and _counts_for_generation(rt, new) != _counts_for_generation(
            rt, old_obj
        ):
            new_meta["generation"] = int(old_meta.get("generation", 1)) + 1
        if new == old_obj:
            return old
        rv = self._next_rv()
        new_meta["resourceVersion"] = str(rv)
        entry = Entry(new, rv)
        if finalized(new_meta, old_meta):
            self._bucket(rt)[ns][name] = entry
            self._index(rt, entry, old_obj)
            return self._remove(rt, entry, old_obj, reuse_rv=True)
        self._bucket(rt)[ns][name] = entry
        self._index(rt, entry, old_obj)
        self._emit(rt, "MODIFIED", entry, old_obj)
        return entry

    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        precondition_uid: str | None = None,
        precondition_rv: str | None = None,
        grace_seconds: int | None = None,
    ) -> tuple[Entry, bool]:
        """Delete an object; returns the last version and whether it is gone already.

        As kube-apiserver does it:

        * A pod bound to a node and not finished is deleted *gracefully*: it gets a
          ``deletionGracePeriodSeconds`` — ``grace_seconds`` (DeleteOptions' or an Eviction's;
          negative counts as 1) else its ``spec.terminationGracePeriodSeconds`` — and a
          ``deletionTimestamp`` that many seconds from now, and stays Terminating until its
          kubelet confirms with a DELETE of grace 0 (removing its last finalizer is not
          enough). A later DELETE may only shorten the period. Unbound and finished pods, and a
          grace of 0, go at once.
        * An object with finalizers gets a deletionTimestamp (once) and a grace of 0, and stays
          until an update empties its finalizers.
        * Everything else goes at once.
        """
        ns = namespace if rt.namespaced else ""
        entry = self.get(rt, ns, name)
        meta = entry.obj["metadata"]
        if precondition_uid and precondition_uid != meta.get("uid"):
            raise Conflict(
                f"Precondition failed: UID in precondition: {precondition_uid}, UID in object "
                f"meta: {meta.get('uid')}",
                name=name,
                group=rt.group,
                kind=rt.resource,
            )
        if precondition_rv and str(precondition_rv) != str(entry.rv):
            raise Conflict(
                f"Precondition failed: ResourceVersion in precondition: {precondition_rv}, "
                f"ResourceVersion in object meta: {entry.rv}",
                name=name,
                group=rt.group,
                kind=rt.resource,
            )
        is_namespace = rt.resource == "namespaces" and not rt.group
        deleting = bool(meta.get("deletionTimestamp"))
        finalizer = None if is_namespace else _PROPAGATION_FINALIZERS.get(propagation or "")
        if finalizer is not None and not deleting:
            return self._delete_with_propagation(
                rt, entry, finalizer, deletion_grace(rt, entry.obj, grace_seconds)
            )
        if propagation == "Orphan":
            self._orphan_dependents(str(meta.get("uid")))
        if deleting and not is_namespace:
            return self._delete_again(rt, entry, grace_seconds)
        grace = 0 if deleting else deletion_grace(rt, entry.obj, grace_seconds)
        if meta.get("finalizers") or is_namespace or grace > 0:
            if not deleting:
                entry = self._mark_deleting(rt, entry, is_namespace=is_namespace, grace=grace)
            if is_namespace:
                self._empty_namespace(name)
                current = self.find(rt, "", name)
                if current is None:
                    return entry, True
                if not current.obj["metadata"].get("finalizers") and self.namespace_is_empty(name):
                    return self._remove(rt, current, current.obj), True
                return current, False
            return entry, False
        return self._remove(rt, entry, entry.obj, deleted_now=is_pod(rt)), True

    def _delete_again(
        self, rt: ResourceType, entry: Entry, grace_seconds: int | None
    ) -> tuple[Entry, bool]:
        """A DELETE of an object already being deleted: a graceful deletion pending may only be
        shortened (to 0: gone at once, unless finalizers remain); otherwise nothing changes."""
        meta = entry.obj["metadata"]
        pending = meta.get("deletionGracePeriodSeconds")
        if not isinstance(pending, int) or pending <= 0:
            if meta.get("finalizers"):
                return entry, False
            return self._remove(rt, entry, entry.obj), True
        if grace_seconds is None:
            return entry, False
        grace = 1 if grace_seconds < 0 else int(grace_seconds)
        if grace >= pending:
            return entry, False
        new = entry.copy()
        new_meta = new["metadata"]
        requested = parse_time(meta.get("deletionTimestamp"))
        base = (requested - timedelta(seconds=pending)) if requested else self._now()
        new_meta["deletionTimestamp"] = rfc3339(base + timedelta(seconds=grace))
        new_meta["deletionGracePeriodSeconds"] = grace
        if grace == 0 and not new_meta.get("finalizers"):
            return self._remove(rt, Entry(new, entry.rv), entry.obj), True
        rv = self._next_rv()
        new_meta["resourceVersion"] = str(rv)
        shortened = Entry(new, rv)
        self._bucket(rt)[entry.namespace if rt.namespaced else ""][entry.name] = shortened
        self._emit(rt, "MODIFIED", shortened, entry.obj)
        return shortened, False

    def _mark_deleting(
        self,
        rt: ResourceType,
        entry: Entry,
        *,
        is_namespace: bool = False,
        finalizer: str = "",
        grace: int = 0,
    ) -> Entry:
        """Give ``entry`` its deletionTimestamp (``grace`` seconds from now) and
        ``finalizer``; a MODIFIED event. ``generation`` counts the deletion, as upstream."""
        new = entry.copy()
        meta = new["metadata"]
        if isinstance(meta.get("generation"), int):
            meta["generation"] += 1
        meta["deletionTimestamp"] = rfc3339(self._now() + timedelta(seconds=grace))
        meta["deletionGracePeriodSeconds"] = grace
        if finalizer and finalizer not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), finalizer]
        if is_namespace:
            new.setdefault("status", {})["phase"] = "Terminating"
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        marked = Entry(new, rv)
        self._bucket(rt)[entry.namespace if rt.namespaced else ""][entry.name] = marked
        self._emit(rt, "MODIFIED", marked, entry.obj)
        return marked

    def _delete_with_propagation(
        self, rt: ResourceType, entry: Entry, finalizer: str, grace: int
    ) -> tuple[Entry, bool]:
        """Foreground or Orphan deletion, as kube-apiserver and the garbage collector do it:
        the object gets ``foregroundDeletion`` (or ``orphan``) and a deletionTimestamp — what
        the DELETE answers — then its dependents are deleted (or released) and the finalizer
        removed, which deletes the object unless other finalizers remain. The collector runs
        synchronously here, so watchers see MODIFIED, the dependents' events, then DELETED
        (for a pod deleted gracefully, once its kubelet confirms)."""
        ns = entry.namespace if rt.namespaced else ""
        uid = str(entry.obj["metadata"].get("uid"))
        marked = self._mark_deleting(rt, entry, finalizer=finalizer, grace=grace)
        if finalizer == "orphan":
            self._orphan_dependents(uid)
        else:
            self._collect_dependents(uid)
        current = self.find(rt, ns, entry.name)
        if current is not None:
            new = current.copy()
            rest = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
            if rest:
                new["metadata"]["finalizers"] = rest
            else:
                new["metadata"].pop("finalizers", None)
            self.update(rt, new, namespace=ns, name=entry.name)
        return marked, self.find(rt, ns, entry.name) is None

    def _remove(
        self,
        rt: ResourceType,
        entry: Entry,
        old: Obj,
        *,
        reuse_rv: bool = False,
        deleted_now: bool = False,
    ) -> Entry:
        """Take the object out of the store: a DELETED event, its dependents collected.
        ``deleted_now``: the last version carries the deletion it had no time to show (a pod
        deleted with grace 0 answers with its deletionTimestamp, as upstream)."""
        ns, name = entry.namespace, entry.name
        bucket = self._bucket(rt)
        names = bucket.get(ns if rt.namespaced else "", {})
        names.pop(name, None)
        if not names:
            bucket.pop(ns if rt.namespaced else "", None)
        self._sorted[rt.key] = None
        if reuse_rv:
            gone = entry
        else:
            obj = entry.copy()
            rv = self._next_rv()
            obj["metadata"]["resourceVersion"] = str(rv)
            if deleted_now and not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = rfc3339(self._now())
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
            gone = Entry(obj, rv)
        self._index(rt, None, old)
        if rt.kind == "Service" and not rt.group and isinstance(old.get("spec"), dict):
            self._cluster_ips.discard(str(old["spec"].get("clusterIP")))
            self.node_ports.release(old)
        self._emit(rt, "DELETED", gone, old)
        uid = str(old["metadata"].get("uid", ""))
        for hook in self.on_removed:
            hook(rt, gone.obj)
        self._collect_dependents(uid)
        if rt.namespaced:
            self._maybe_finish_namespace(ns)
        return gone

    # ----------------------------------------------------------------- namespaces, GC

    def _require_namespace(self, ns: str) -> None:
        rt = self._namespaces_rt
        if rt is None:
            return
        entry = self.find(rt, "", ns)
        if entry is None:
            raise not_found("namespaces", ns, kind="namespaces")
        if entry.obj["metadata"].get("deletionTimestamp"):
            raise Forbidden(
                f"unable to create new content in namespace {ns} because it is being terminated",
                name=ns,
                kind="namespaces",
            )

    def _empty_namespace(self, ns: str) -> None:
        for key, bucket in list(self._buckets.items()):
            rt = self._types[key]
            if not rt.namespaced:
                continue
            for name in list(bucket.get(ns, {})):
                if self.find(rt, ns, name) is not None:
                    self.delete(rt, ns, name)

    def _maybe_finish_namespace(self, ns: str) -> None:
        rt = self._namespaces_rt
        if rt is None or not ns:
            return
        entry = self.find(rt, "", ns)
        if entry is None or not entry.obj["metadata"].get("deletionTimestamp"):
            return
        if not entry.obj["metadata"].get("finalizers") and self.namespace_is_empty(ns):
            self._remove(rt, entry, entry.obj)

    def _index(self, rt: ResourceType, new: Entry | None, old: Obj | None) -> None:
        if old is not None:
            old_meta = old["metadata"]
            for ref in old_meta.get("ownerReferences") or []:
                deps = self._dependents.get(str(ref.get("uid")))
                if deps is not None:
                    deps.discard(str(old_meta.get("uid")))
            if new is None:
                self._by_uid.pop(str(old_meta.get("uid")), None)
        if new is not None:
            meta = new.obj["metadata"]
            uid = str(meta["uid"])
            self._by_uid[uid] = (rt.key, new.namespace, new.name)
            for ref in meta.get("ownerReferences") or []:
                self._dependents.setdefault(str(ref.get("uid")), set()).add(uid)

    def find_uid(self, uid: str) -> tuple[ResourceType, Entry] | None:
        """The object with this uid, whatever its kind (owner references name uids)."""
        return self._lookup_uid(uid)

    def _lookup_uid(self, uid: str) -> tuple[ResourceType, Entry] | None:
        where = self._by_uid.get(uid)
        if where is None:
            return None
        key, ns, name = where
        rt = self._types[key]
        entry = self.find(rt, ns, name)
        return (rt, entry) if entry is not None else None

    def _collect_dependents(self, owner_uid: str) -> None:
        for dep_uid in sorted(self._dependents.pop(owner_uid, set())):
            found = self._lookup_uid(dep_uid)
            if found is None:
                continue
            rt, entry = found
            refs = entry.obj["metadata"].get("ownerReferences") or []
            alive = [
                r for r in refs if r.get("uid") != owner_uid and str(r.get("uid")) in self._by_uid
            ]
            if alive:
                self._strip_owner(rt, entry, owner_uid)
            elif not entry.obj["metadata"].get("deletionTimestamp"):
                self.delete(rt, entry.namespace, entry.name)

    def _orphan_dependents(self, owner_uid: str) -> None:
        for dep_uid in sorted(self._dependents.pop(owner_uid, set())):
            found = self._lookup_uid(dep_uid)
            if found is not None:
                self._strip_owner(*found, owner_uid)

    def _strip_owner(self, rt: ResourceType, entry: Entry, owner_uid: str) -> None:
        new = entry.copy()
        refs = [
            r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self.update(rt, new, namespace=entry.namespace, name=entry.name)

    # ----------------------------------------------------------------- watching

    def _emit(self, rt: ResourceType, type_: str, entry: Entry, old: Obj | None) -> None:
        self.fanout.emit(rt.key, Event(type_, entry, old))

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        since: int | None,
        predicate: Predicate | None = None,
        *,
        convert: Callable[[Event], Event] | None = None,
    ) -> Watcher:
        """Open a watch from ``since`` (exclusive); ``None`` starts with ADDED for every object.

        Raises :class:`Gone` when ``since`` is older than the retained history, which makes
        informers relist, exactly as the real watch cache's "too old resource version".
        """
        self._bucket(rt)
        initial = None if since is not None else self.entries(rt, namespace)
        return self.fanout.watch(
            rt.key,
            namespace if rt.namespaced else None,
            since,
            predicate,
            convert=convert,
            initial=initial or (),
            current_rv=self._rv,
        )

    def unwatch(self, rt: ResourceType, watcher: Watcher) -> None:
        self.fanout.unwatch(rt.key, watcher)

    def close_watchers(self) -> None:
        self.fanout.close_all()

    def compact(self) -> None:
        """Forget all history (test hook): a watch from any earlier version now gets 410."""
        self.fanout.compact_to(self._rv)

    def compact_to(self, rv: int) -> None:
        """Forget every change up to ``rv`` (see :meth:`FanOut.compact_to`)."""
        self.fanout.compact_to(min(rv, self._rv))

    def history_start(self, rt: ResourceType) -> int:
        """The oldest resourceVersion a watch of ``rt`` may resume from (older: 410)."""
        return self.fanout.history_start(rt.key)

    def changes_since(self, rt: ResourceType, rv: int) -> dict[Key, Obj | None]:
        """What the objects of ``rt`` changed since ``rv`` were *at* ``rv`` (see
        :meth:`FanOut.changes_since`)."""
        self._bucket(rt)
        return self.fanout.changes_since(rt.key, rv)

    # ----------------------------------------------------------------- helpers

    def _conflict(self, rt: ResourceType, name: str) -> Conflict:
        return Conflict(
            f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            name=name,
            group=rt.group,
            kind=rt.resource,
        )

    def _allocate_cluster_ip(self) -> str:
        """A free address of the service range 10.96.0.0/12 (10.96.0.1 is the API server's)."""
        while True:
            offset = self._rng.randrange(2, (1 << 20) - 1)
            ip = f"10.{96 + (offset >> 16)}.{(offset >> 8) & 255}.{offset & 255}"
            if ip not in self._cluster_ips:
                self._cluster_ips.add(ip)
                return ip

    def _validate_name(self, rt: ResourceType, name: str, generate_name: str = "") -> None:
        causes = name_problems(rt, name, generate_name=generate_name)
        if causes:
            raise invalid(rt.kind, name, causes, group=rt.group)

    def _initial_status(self, rt: ResourceType, obj: Obj) -> None:
        """Status a fresh object starts with upstream (before any controller touches it)."""
        if rt.group:
            return
        if rt.resource == "namespaces":
            obj["status"] = {"phase": "Active"}
        elif rt.resource == "pods":
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}


def _spec_part(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _counts_for_generation(rt: ResourceType, obj: Obj) -> dict[str, Any]:
    """The parts of an object whose change bumps ``metadata.generation``: the spec part, and
    for a Deployment its annotations too (upstream's apps strategy counts them: the controller
    copies them onto the ReplicaSets, so a change is one it must act on). Others: spec only.
    """
    part = _spec_part(obj)
    if rt.kind == "Deployment" and rt.group == "apps":
        part["metadata.annotations"] = (obj.get("metadata") or {}).get("annotations") or {}
    return part
