"""The embedded API server's object store: versions, conflicts, finalizers, GC and watch history.

These run the store directly (no HTTP): resourceVersions grow monotonically across resources,
stale writes conflict, generation follows spec changes only, finalizers hold deletion, owners
take their dependents with them, and watches replay history or answer 410 once it is gone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from podscaler.sim.apiserver.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
)
from podscaler.sim.apiserver.resources import BUILTIN, ResourceType
from podscaler.sim.apiserver.store import Store, Watcher

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def rt(resource: str, group: str = "") -> ResourceType:
    return next(r for r in BUILTIN if r.resource == resource and r.group == group)


PODS = rt("pods")
CMS = rt("configmaps")
DEPLOYS = rt("deployments", "apps")
RSS = rt("replicasets", "apps")
NAMESPACES = rt("namespaces")


@pytest.fixture
def store() -> Store:
    return Store(now=lambda: T0, history_size=50)


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": dict(data)}


def drained(watcher: Watcher) -> list[tuple[str, str, str]]:
    return [
        (type_, ev.entry.name, ev.entry.obj["metadata"]["resourceVersion"])
        for type_, ev in watcher.drain()
    ]


def test_initial_namespaces_exist(store: Store) -> None:
    names = [e.name for e in store.entries(NAMESPACES)]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert store.get(NAMESPACES, "", "default").obj["status"] == {"phase": "Active"}


def test_create_assigns_metadata_and_a_global_resource_version(store: Store) -> None:
    before = store.resource_version
    a = store.create(CMS, cm("a"), namespace="default")
    b = store.create(
        PODS, {"metadata": {"name": "p"}, "spec": {"containers": []}}, namespace="default"
    )
    meta = a.obj["metadata"]
    assert meta["creationTimestamp"] == "2026-01-02T03:04:05Z"
    assert meta["uid"]
    assert "generation" not in meta  # ConfigMaps have none upstream
    assert meta["namespace"] == "default"
    assert int(meta["resourceVersion"]) == before + 1
    assert int(b.obj["metadata"]["resourceVersion"]) == before + 2
    assert a.obj["apiVersion"] == "v1"
    assert a.obj["kind"] == "ConfigMap"
    assert json.loads(a.raw()) == a.obj


def test_create_rules(store: Store) -> None:
    store.create(CMS, cm("a"), namespace="default")
    with pytest.raises(AlreadyExists):
        store.create(CMS, cm("a"), namespace="default")
    with pytest.raises(NotFound, match='namespaces "nope" not found'):
        store.create(CMS, cm("b"), namespace="nope")
    with pytest.raises(Invalid):
        store.create(CMS, cm("Not_Valid"), namespace="default")
    generated = store.create(CMS, {"metadata": {"generateName": "web-"}}, namespace="default")
    assert generated.name.startswith("web-")
    assert len(generated.name) == 9


def test_pods_start_pending_and_drop_sent_status(store: Store) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running"},
    }
    entry = store.create(PODS, pod, namespace="default")
    assert entry.obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_stale_resource_version_conflicts(store: Store) -> None:
    first = store.create(CMS, cm("a", k="1"), namespace="default")
    stale = first.copy()
    updated = first.copy()
    updated["data"] = {"k": "2"}
    store.update(CMS, updated, namespace="default")
    stale["data"] = {"k": "3"}
    with pytest.raises(Conflict, match="the object has been modified"):
        store.update(CMS, stale, namespace="default")
    # Without a resourceVersion the write is unconditional, as upstream PUT allows.
    del stale["metadata"]["resourceVersion"]
    assert store.update(CMS, stale, namespace="default").obj["data"] == {"k": "3"}


def test_generation_bumps_on_spec_changes_only(store: Store) -> None:
    dep = store.create(
        DEPLOYS,
        {"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"replicas": 9}},
        namespace="default",
    )
    assert "status" not in dep.obj  # status sent on create is dropped (status subresource)
    labelled = dep.copy()
    labelled["metadata"]["labels"] = {"a": "b"}
    dep = store.update(DEPLOYS, labelled, namespace="default")
    assert dep.obj["metadata"]["generation"] == 1
    status = dep.copy()
    status["status"] = {"replicas": 1}
    status["spec"]["replicas"] = 50  # ignored by a /status write
    dep = store.update(DEPLOYS, status, namespace="default", subresource="status")
    assert dep.obj["metadata"]["generation"] == 1
    assert dep.obj["spec"]["replicas"] == 1
    assert dep.obj["status"] == {"replicas": 1}
    scaled = dep.copy()
    scaled["spec"]["replicas"] = 3
    scaled["status"] = {"replicas": 0}  # ignored by a main-resource write
    dep = store.update(DEPLOYS, scaled, namespace="default")
    assert dep.obj["metadata"]["generation"] == 2
    assert dep.obj["status"] == {"replicas": 1}


def test_noop_update_keeps_the_version_and_emits_nothing(store: Store) -> None:
    entry = store.create(CMS, cm("a", k="1"), namespace="default")
    watcher = store.watch(CMS, "default", entry.rv)
    again = store.update(CMS, entry.copy(), namespace="default")
    assert again.rv == entry.rv
    assert watcher.drain() == []


def test_finalizers_hold_deletion_until_removed(store: Store) -> None:
    obj = cm("a")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    store.create(CMS, obj, namespace="default")
    entry, gone = store.delete(CMS, "default", "a")
    assert not gone
    assert entry.obj["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    again, gone = store.delete(CMS, "default", "a")
    assert not gone
    assert again.rv == entry.rv
    adding = again.copy()
    adding["metadata"]["finalizers"].append("example.com/more")
    with pytest.raises(Invalid, match="no new finalizers"):
        store.update(CMS, adding, namespace="default")
    released = again.copy()
    released["metadata"]["finalizers"] = []
    store.update(CMS, released, namespace="default")
    assert store.find(CMS, "default", "a") is None


def bound_pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}], **spec},
    }


def test_a_bound_pod_stays_terminating_until_its_kubelet_confirms(store: Store) -> None:
    store.create(PODS, bound_pod("p"), namespace="default")
    watcher = store.watch(PODS, "default", store.resource_version)
    entry, gone = store.delete(PODS, "default", "p")
    assert not gone
    meta = entry.obj["metadata"]
    # upstream: the deletionTimestamp is when the grace period (the pod's default 30 s) ends
    assert meta["deletionGracePeriodSeconds"] == 30
    assert meta["deletionTimestamp"] == "2026-01-02T03:04:35Z"
    # a longer or equal grace period changes nothing, a shorter one moves the deadline
    same, _ = store.delete(PODS, "default", "p", grace_seconds=60)
    assert same.rv == entry.rv
    shorter, gone = store.delete(PODS, "default", "p", grace_seconds=10)
    assert not gone
    assert shorter.obj["metadata"]["deletionGracePeriodSeconds"] == 10
    assert shorter.obj["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:15Z"
    # emptying the finalizers of a pod in its grace period does not remove it
    held = shorter.copy()
    held["metadata"]["labels"] = {"a": "b"}
    store.update(PODS, held, namespace="default")
    assert store.find(PODS, "default", "p") is not None
    with pytest.raises(Conflict):
        store.delete(PODS, "default", "p", grace_seconds=0, precondition_uid="another-pod")
    last, gone = store.delete(PODS, "default", "p", grace_seconds=0)
    assert gone
    assert store.find(PODS, "default", "p") is None
    assert last.obj["metadata"]["deletionGracePeriodSeconds"] == 0
    assert [t for t, _name, _rv in drained(watcher)] == [
        "MODIFIED",
        "MODIFIED",
        "MODIFIED",
        "DELETED",
    ]


def test_pods_deleted_at_once(store: Store) -> None:
    """Unbound and finished pods, and a grace period of 0, go at once; a negative grace period
    counts as one second."""
    store.create(PODS, {"metadata": {"name": "pending"}, "spec": {}}, namespace="default")
    entry, gone = store.delete(PODS, "default", "pending")
    assert gone
    assert entry.obj["metadata"]["deletionGracePeriodSeconds"] == 0
    store.create(PODS, bound_pod("done"), namespace="default")
    finished = store.get(PODS, "default", "done").copy()
    finished["status"] = {"phase": "Succeeded"}
    store.update(PODS, finished, namespace="default", subresource="status")
    assert store.delete(PODS, "default", "done")[1]
    store.create(PODS, bound_pod("forced"), namespace="default")
    assert store.delete(PODS, "default", "forced", grace_seconds=0)[1]
    store.create(PODS, bound_pod("own", terminationGracePeriodSeconds=5), namespace="default")
    own, _ = store.delete(PODS, "default", "own")
    assert own.obj["metadata"]["deletionGracePeriodSeconds"] == 5
    store.create(PODS, bound_pod("negative"), namespace="default")
    negative, _ = store.delete(PODS, "default", "negative", grace_seconds=-5)
    assert negative.obj["metadata"]["deletionGracePeriodSeconds"] == 1


def test_a_confirmed_pod_with_finalizers_waits_for_them(store: Store) -> None:
    pod = bound_pod("p")
    pod["metadata"]["finalizers"] = ["example.com/hold"]
    store.create(PODS, pod, namespace="default")
    store.delete(PODS, "default", "p")
    confirmed, gone = store.delete(PODS, "default", "p", grace_seconds=0)
    assert not gone
    assert confirmed.obj["metadata"]["deletionGracePeriodSeconds"] == 0
    released = confirmed.copy()
    released["metadata"]["finalizers"] = []
    store.update(PODS, released, namespace="default")
    assert store.find(PODS, "default", "p") is None


def test_deletion_counts_in_generation(store: Store) -> None:
    dep = {"metadata": {"name": "web", "finalizers": ["example.com/hold"]}, "spec": {}}
    store.create(DEPLOYS, dep, namespace="default")
    entry, _ = store.delete(DEPLOYS, "default", "web")
    assert entry.obj["metadata"]["generation"] == 2


def owned(name: str, owner: Any) -> dict[str, Any]:
    meta = owner.obj["metadata"]
    return {
        "metadata": {
            "name": name,
            "ownerReferences": [
                {
                    "apiVersion": owner.obj["apiVersion"],
                    "kind": owner.obj["kind"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "spec": {},
    }


def test_deleting_an_owner_collects_its_dependents(store: Store) -> None:
    dep = store.create(DEPLOYS, {"metadata": {"name": "web"}, "spec": {}}, namespace="default")
    rs = store.create(RSS, owned("web-1", dep), namespace="default")
    store.create(PODS, owned("web-1-a", rs), namespace="default")
    store.create(PODS, {"metadata": {"name": "lonely"}, "spec": {}}, namespace="default")
    store.delete(DEPLOYS, "default", "web")
    assert store.find(RSS, "default", "web-1") is None
    assert [e.name for e in store.entries(PODS)] == ["lonely"]


def test_orphan_propagation_strips_owner_references(store: Store) -> None:
    dep = store.create(DEPLOYS, {"metadata": {"name": "web"}, "spec": {}}, namespace="default")
    store.create(RSS, owned("web-1", dep), namespace="default")
    store.delete(DEPLOYS, "default", "web", propagation="Orphan")
    rs = store.get(RSS, "default", "web-1")
    assert "ownerReferences" not in rs.obj["metadata"]


def test_deleting_a_namespace_deletes_its_contents(store: Store) -> None:
    store.create(NAMESPACES, {"metadata": {"name": "team"}})
    store.create(CMS, cm("a"), namespace="team")
    held = cm("held")
    held["metadata"]["finalizers"] = ["x/y"]
    store.create(CMS, held, namespace="team")
    _entry, gone = store.delete(NAMESPACES, "", "team")
    assert not gone
    ns = store.get(NAMESPACES, "", "team")
    assert ns.obj["status"]["phase"] == "Terminating"
    with pytest.raises(Forbidden):
        store.create(CMS, cm("b"), namespace="team")
    last = store.get(CMS, "team", "held").copy()
    last["metadata"]["finalizers"] = []
    store.update(CMS, last, namespace="team")
    assert store.find(NAMESPACES, "", "team") is None


def test_watch_replays_history_after_a_version(store: Store) -> None:
    a = store.create(CMS, cm("a"), namespace="default")
    b = store.create(CMS, cm("b"), namespace="default")
    mod = b.copy()
    mod["data"] = {"x": "1"}
    store.update(CMS, mod, namespace="default")
    store.delete(CMS, "default", "a")
    watcher = store.watch(CMS, "default", a.rv)
    events = drained(watcher)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "a")]
    rvs = [int(rv) for _, _, rv in events]
    assert rvs == sorted(rvs)
    assert rvs[0] == b.rv
    # Live events follow.
    store.create(CMS, cm("c"), namespace="default")
    assert [(t, n) for t, n, _ in drained(watcher)] == [("ADDED", "c")]


def test_watch_without_version_starts_with_the_current_objects(store: Store) -> None:
    store.create(CMS, cm("a"), namespace="default")
    store.create(CMS, cm("b"), namespace="kube-system")
    watcher = store.watch(CMS, None, None)
    assert [(t, n) for t, n, _ in drained(watcher)] == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_with_a_selector_turns_transitions_into_added_and_deleted(store: Store) -> None:
    entry = store.create(CMS, cm("a"), namespace="default")
    watcher = store.watch(
        CMS, "default", entry.rv, lambda o: (o.get("data") or {}).get("on") == "1"
    )
    on = entry.copy()
    on["data"] = {"on": "1"}
    entry = store.update(CMS, on, namespace="default")
    off = entry.copy()
    off["data"] = {"on": "0"}
    store.update(CMS, off, namespace="default")
    assert [t for t, _, _ in drained(watcher)] == ["ADDED", "DELETED"]


def test_watch_from_before_the_history_window_is_gone(store: Store) -> None:
    first = store.create(CMS, cm("first"), namespace="default")
    for i in range(60):  # history_size is 50
        store.create(CMS, cm(f"c{i}"), namespace="default")
    with pytest.raises(Gone, match="too old resource version"):
        store.watch(CMS, "default", first.rv)
    recent = store.resource_version - 10
    assert len(drained(store.watch(CMS, "default", recent))) == 10


def test_compact_makes_every_older_version_gone(store: Store) -> None:
    entry = store.create(CMS, cm("a"), namespace="default")
    store.create(CMS, cm("b"), namespace="default")
    store.compact()
    with pytest.raises(Gone):
        store.watch(CMS, "default", entry.rv)
    assert drained(store.watch(CMS, "default", store.resource_version)) == []


def test_close_watchers_closes_every_watch(store: Store) -> None:
    watcher = store.watch(CMS, None, store.resource_version)
    store.close_watchers()
    assert watcher.closed


def test_a_watcher_too_far_behind_is_closed(store: Store) -> None:
    store.fanout.max_watch_queue = 5
    watcher = store.watch(CMS, None, store.resource_version)
    for i in range(10):
        store.create(CMS, cm(f"c{i}"), namespace="default")
    assert watcher.closed
    assert watcher.overflowed


def test_list_order_and_pagination_keys(store: Store) -> None:
    for ns, name in [("kube-system", "b"), ("default", "z"), ("default", "a")]:
        store.create(CMS, cm(name), namespace=ns)
    names = [(e.namespace, e.name) for e in store.entries(CMS)]
    assert names == [("default", "a"), ("default", "z"), ("kube-system", "b")]
    after = [(e.namespace, e.name) for e in store.entries(CMS, after=("default", "z"))]
    assert after == [("kube-system", "b")]
    assert [e.name for e in store.entries(CMS, "default")] == ["a", "z"]
