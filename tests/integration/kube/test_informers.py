"""Informers over HTTP against the embedded API server.

Covers: list (paginated) then watch sees adds, updates and deletes; indexes; a dropped watch
resumes from the last version without losing or repeating events; a 410 makes the informer
relist and emit exactly the deletes/adds/updates it missed; bookmarks advance the remembered
version; a server-side label selector; a slow handler does not hold up another.

Time is the loop's (``looptime``): the informers and the embedded API server share the event
loop, so waiting "long enough for a duplicate to show up" means the loop has run out of work and
then some, not a guess at how long a busy machine needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podscaler.kube.backoff import Backoff
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.informers import Informer
from podscaler.kube.resources import Discovery, Resource
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.kube.waiting import eventually

pytestmark = pytest.mark.looptime

Obj = dict[str, Any]
CM_PATH = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "data": {"v": "0"}}


class Recorder:
    """Collects handler calls as (type, name, data value) tuples."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def on_add(self, obj: Obj) -> None:
        self.seen.append(("add", obj["metadata"]["name"], obj.get("data", {}).get("v", "")))

    async def on_update(self, old: Obj, new: Obj) -> None:
        self.seen.append(("update", new["metadata"]["name"], new.get("data", {}).get("v", "")))

    async def on_delete(self, obj: Obj) -> None:
        self.seen.append(("delete", obj["metadata"]["name"], obj.get("data", {}).get("v", "")))

    def attach(self, informer: Informer) -> None:
        informer.add_handler(on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete)


async def configmaps(discovery: Discovery) -> Resource:
    return await discovery.resolve("v1", "ConfigMap")


async def set_value(kube: Kube, name: str, value: str) -> None:
    await kube.request(
        "PATCH", f"{CM_PATH}/{name}", body={"data": {"v": value}}, content_type=MERGE_PATCH
    )


async def test_list_then_watch_sees_adds_updates_and_deletes(
    kube: Kube, discovery: Discovery
) -> None:
    for name, tier in [("a", "front"), ("b", "back"), ("c", "front"), ("d", "back")]:
        await kube.request("POST", CM_PATH, body=configmap(name, tier=tier))
    recorder = Recorder()
    # page_size=3 forces a second page through `continue`.
    async with Informer(kube, await configmaps(discovery), page_size=3) as informer:
        recorder.attach(informer)
        await informer.wait_synced(timeout_seconds=5)
        assert informer.has_synced
        assert sorted(o["metadata"]["name"] for o in informer.items()) == ["a", "b", "c", "d"]
        assert informer.get("default", "a")["kind"] == "ConfigMap"  # type: ignore[index]
        assert sorted(o["metadata"]["name"] for o in informer.select("tier=front")) == ["a", "c"]

        await kube.request("POST", CM_PATH, body=configmap("e", tier="front"))
        await set_value(kube, "a", "1")
        await kube.request("DELETE", f"{CM_PATH}/b")
        await eventually(lambda: len(recorder.seen) == 7)
        await informer.drain()
        assert sorted(recorder.seen[:4]) == [("add", n, "0") for n in "abcd"]
        assert recorder.seen[4:] == [("add", "e", "0"), ("update", "a", "1"), ("delete", "b", "0")]
        assert informer.get("default", "b") is None
        assert sorted(o["metadata"]["name"] for o in informer.by_label("tier", "front")) == [
            "a",
            "c",
            "e",
        ]
        assert sorted(o["metadata"]["name"] for o in informer.by_namespace("default")) == [
            "a",
            "c",
            "d",
            "e",
        ]


async def test_dropped_watch_resumes_without_losing_or_repeating_events(
    apiserver: ApiServer, kube: Kube, discovery: Discovery
) -> None:
    recorder = Recorder()
    backoff = Backoff(initial_seconds=0.05, max_seconds=0.2)
    async with Informer(kube, await configmaps(discovery), backoff=backoff) as informer:
        recorder.attach(informer)
        await informer.wait_synced(timeout_seconds=5)
        await kube.request("POST", CM_PATH, body=configmap("x"))
        await eventually(lambda: len(recorder.seen) == 1)
        for round_ in range(3):
            apiserver.drop_watches()
            # These writes land while the informer has no watch open.
            await set_value(kube, "x", f"{round_}-a")
            await set_value(kube, "x", f"{round_}-b")
        await kube.request("DELETE", f"{CM_PATH}/x")
        await eventually(lambda: recorder.seen[-1][0] == "delete")
        await asyncio.sleep(0.3)  # room for any duplicate to show up
        assert recorder.seen == [
            ("add", "x", "0"),
            *[("update", "x", f"{r}-{s}") for r in range(3) for s in "ab"],
            ("delete", "x", "2-b"),
        ]
        assert informer.relists == 0


async def test_410_relists_and_emits_what_was_missed(
    apiserver: ApiServer, kube: Kube, discovery: Discovery
) -> None:
    for name in "abc":
        await kube.request("POST", CM_PATH, body=configmap(name))
    recorder = Recorder()
    async with Informer(kube, await configmaps(discovery)) as informer:
        recorder.attach(informer)
        await informer.wait_synced(timeout_seconds=5)
        await eventually(lambda: len(recorder.seen) == 3)
        rt = apiserver.table.get("", "v1", "configmaps")
        assert rt is not None
        store = apiserver.store
        # Synchronously, so the informer cannot re-watch in between: cut the watch, change
        # the world behind its back, and forget the history it would resume from.
        apiserver.drop_watches()
        store.delete(rt, "default", "a")
        current_b = store.get(rt, "default", "b").copy()
        current_b["data"] = {"v": "7"}
        store.update(rt, current_b, namespace="default", name="b")
        store.create(rt, configmap("d"), namespace="default")
        store.compact()
        await eventually(lambda: len(recorder.seen) == 6)
        await asyncio.sleep(0.3)
        assert sorted(recorder.seen[3:]) == [
            ("add", "d", "0"),
            ("delete", "a", "0"),
            ("update", "b", "7"),
        ]
        assert informer.relists == 1
        assert sorted(o["metadata"]["name"] for o in informer.items()) == ["b", "c", "d"]
        # After the relist the watch continues normally.
        await set_value(kube, "c", "9")
        await eventually(lambda: recorder.seen[-1] == ("update", "c", "9"))


async def test_bookmarks_advance_the_resource_version(kube: Kube, discovery: Discovery) -> None:
    recorder = Recorder()
    async with Informer(kube, await configmaps(discovery)) as informer:
        recorder.attach(informer)
        await informer.wait_synced(timeout_seconds=5)
        synced_at = int(informer.resource_version)
        # Writes to another resource move the global version; only a bookmark can tell the
        # configmap informer about it.
        for i in range(3):
            await kube.request(
                "POST", "/api/v1/namespaces/default/secrets", body={"metadata": {"name": f"s{i}"}}
            )
        latest = int(
            (await kube.request("GET", "/api/v1/namespaces/default/secrets"))["metadata"][
                "resourceVersion"
            ]
        )
        assert latest > synced_at
        await eventually(lambda: int(informer.resource_version) >= latest, timeout_seconds=3)
        assert recorder.seen == []


async def test_label_selector_limits_what_the_server_sends(
    kube: Kube, discovery: Discovery
) -> None:
    await kube.request("POST", CM_PATH, body=configmap("in", team="a"))
    await kube.request("POST", CM_PATH, body=configmap("out", team="b"))
    informer = Informer(kube, await configmaps(discovery), label_selector="team=a")
    async with informer:
        await informer.wait_synced(timeout_seconds=5)
        await kube.request("POST", CM_PATH, body=configmap("in2", team="a"))
        await kube.request("POST", CM_PATH, body=configmap("out2", team="b"))
        await eventually(lambda: informer.get("default", "in2") is not None)
        assert sorted(o["metadata"]["name"] for o in informer.items()) == ["in", "in2"]


async def test_a_slow_handler_does_not_hold_up_another(kube: Kube, discovery: Discovery) -> None:
    release = asyncio.Event()
    fast: list[str] = []

    async def slow(obj: Obj) -> None:
        await release.wait()

    async def quick(obj: Obj) -> None:
        fast.append(obj["metadata"]["name"])

    async with Informer(kube, await configmaps(discovery)) as informer:
        slow_sub = informer.add_handler(on_add=slow)
        informer.add_handler(on_add=quick)
        await informer.wait_synced(timeout_seconds=5)
        for i in range(5):
            await kube.request("POST", CM_PATH, body=configmap(f"n{i}"))
        await eventually(lambda: len(fast) == 5)
        assert slow_sub.pending >= 4
        release.set()
        await informer.drain()
        assert slow_sub.pending == 0


async def test_namespaced_informer_ignores_other_namespaces(
    kube: Kube, discovery: Discovery
) -> None:
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "other"}})
    await kube.request("POST", "/api/v1/namespaces/other/configmaps", body=configmap("o"))
    await kube.request("POST", CM_PATH, body=configmap("d"))
    async with Informer(kube, await configmaps(discovery), namespace="default") as informer:
        await informer.wait_synced(timeout_seconds=5)
        assert [o["metadata"]["name"] for o in informer.items()] == ["d"]
