"""resourceVersion semantics of the embedded API server over HTTP, as kube-apiserver's.

Covers: a read from a version the server has not reached is 504 "Too large resource version"
with upstream's Status (at once when paging, after waiting for it otherwise); a plain watch
from such a version is accepted and silent, a watch-list one ends in that 504 as an ERROR
event; ``resourceVersionMatch=Exact`` serves the state at that version, rebuilt from the
history, and 410 once it is compacted; continue tokens page through one version's state and
expire with compaction; ``resourceVersion=0`` ignores ``limit``; invalid list options are 422
``ListOptions.meta.k8s.io``; the server compacts periodically, as kube-apiserver compacts etcd.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_apiserver_http import Http

CM = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(apiserver, session)


def _too_large(wanted: int, current: int, retry: int | None) -> dict[str, Any]:
    details: dict[str, Any] = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]
    }
    if retry:
        details["retryAfterSeconds"] = retry
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"Timeout: Too large resource version: {wanted}, current: {current}",
        "reason": "Timeout",
        "code": 504,
        "details": details,
    }


async def _names(http: Http, query: str) -> tuple[list[str], dict[str, Any]]:
    listed = await http.ok("GET", f"{CM}?{query}")
    return [i["metadata"]["name"] for i in listed["items"]], listed["metadata"]


async def test_a_version_the_server_has_not_reached_is_too_large(
    apiserver: ApiServer, http: Http
) -> None:
    current = apiserver.store.resource_version
    ahead = current + 100
    # Paged (etcd's path upstream): at once, no retry advice.
    status, answer = await http.call("GET", f"{CM}?resourceVersion={ahead}&limit=1")
    assert (status, answer) == (504, _too_large(ahead, current, None))
    # Unpaged (the watch cache's path): after waiting up to 3 s for the version to come.
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, answer = await http.call("GET", f"{CM}?resourceVersion={ahead}")
    assert (status, answer) == (504, _too_large(ahead, current, 1))
    assert loop.time() - started >= 2.9
    # A version the server reaches while the read waits is served.
    soon = current + 1
    waiting = asyncio.ensure_future(http.call("GET", f"{CM}?resourceVersion={soon}"))
    await asyncio.sleep(0.2)
    await http.ok("POST", CM, {"metadata": {"name": "late"}})
    status, listed = await waiting
    assert status == 200
    assert [i["metadata"]["name"] for i in listed["items"]] == ["late"]


async def test_a_watch_ahead_of_the_server_is_silent_and_a_watch_list_ahead_is_504(
    apiserver: ApiServer, http: Http
) -> None:
    current = apiserver.store.resource_version
    ahead = current + 3
    url = f"{apiserver.url}{CM}?watch=true&timeoutSeconds=2&resourceVersion={ahead}"
    async with http.session.get(url) as resp:
        assert resp.status == 200
        # Writes up to the requested version are not sent; the first one past it is.
        for name in ("a", "b", "c", "d"):
            await http.ok("POST", CM, {"metadata": {"name": name}})
        events = [json.loads(line) for line in (await resp.read()).splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "d")]

    far = apiserver.store.resource_version + 50
    url = (
        f"{apiserver.url}{CM}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        f"&resourceVersionMatch=NotOlderThan&resourceVersion={far}"
    )
    async with http.session.get(url) as resp:
        assert resp.status == 200
        events = [json.loads(line) for line in (await resp.read()).splitlines()]
    assert events == [
        {"type": "ERROR", "object": _too_large(far, apiserver.store.resource_version, 1)}
    ]


async def test_exact_reads_the_state_at_a_version_until_it_is_compacted(
    apiserver: ApiServer, http: Http
) -> None:
    first = await http.ok("POST", CM, {"metadata": {"name": "a"}, "data": {"v": "1"}})
    at = int(first["metadata"]["resourceVersion"])
    await http.ok("POST", CM, {"metadata": {"name": "b"}})
    await http.ok("PATCH", f"{CM}/a", {"data": {"v": "2"}}, ctype=MERGE)
    await http.ok("DELETE", f"{CM}/a")
    await http.ok("POST", CM, {"metadata": {"name": "c"}})

    listed = await http.ok("GET", f"{CM}?resourceVersion={at}&resourceVersionMatch=Exact")
    assert listed["metadata"]["resourceVersion"] == str(at)
    assert [(i["metadata"]["name"], i["data"]) for i in listed["items"]] == [("a", {"v": "1"})]
    names, meta = await _names(http, "")
    assert names == ["b", "c"]
    assert int(meta["resourceVersion"]) == apiserver.store.resource_version
    # NotOlderThan an old version: the latest state.
    names, _ = await _names(http, f"resourceVersion={at}&resourceVersionMatch=NotOlderThan")
    assert names == ["b", "c"]

    apiserver.store.compact()
    status, answer = await http.call("GET", f"{CM}?resourceVersion={at}&resourceVersionMatch=Exact")
    assert status == 410
    assert answer["reason"] == "Expired"
    assert answer["message"] == "The resourceVersion for the provided list is too old."


async def test_pages_come_from_one_version_and_expire_with_compaction(
    apiserver: ApiServer, http: Http
) -> None:
    for name in "abcd":
        await http.ok("POST", CM, {"metadata": {"name": name}})
    first = await http.ok("GET", f"{CM}?limit=2")
    token = first["metadata"]["continue"]
    # Changes after the first page do not show on the next one.
    await http.ok("DELETE", f"{CM}/c")
    await http.ok("POST", CM, {"metadata": {"name": "e"}})
    second = await http.ok("GET", f"{CM}?limit=2&continue={token}")
    assert [i["metadata"]["name"] for i in second["items"]] == ["c", "d"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    apiserver.store.compact()
    status, answer = await http.call("GET", f"{CM}?limit=2&continue={token}")
    assert status == 410
    assert answer["reason"] == "Expired"
    assert answer["message"].startswith("The provided continue parameter is too old")


async def test_resource_version_zero_ignores_limit(http: Http) -> None:
    for name in "abc":
        await http.ok("POST", CM, {"metadata": {"name": name}})
    names, meta = await _names(http, "resourceVersion=0&limit=1")
    assert names == ["a", "b", "c"]
    assert "continue" not in meta
    names, meta = await _names(http, "limit=1")
    assert names == ["a"]
    assert meta["continue"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "resourceVersionMatch=Exact",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersion=5&resourceVersionMatch=Newest",
            "resourceVersionMatch",
            'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            "resourceVersionMatch",
            'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
        ),
        (
            "sendInitialEvents=true",
            "sendInitialEvents",
            "Forbidden: sendInitialEvents is forbidden for list",
        ),
        (
            "watch=true&sendInitialEvents=true",
            "resourceVersionMatch",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "watch=true&resourceVersion=1&resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch",
            "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
            "provided",
        ),
    ],
)
async def test_invalid_list_options_are_422(
    http: Http, query: str, field: str, message: str
) -> None:
    status, answer = await http.call("GET", f"{CM}?{query}")
    assert status == 422
    assert answer["reason"] == "Invalid"
    assert answer["details"]["kind"] == "ListOptions"
    assert answer["details"]["group"] == "meta.k8s.io"
    assert {
        "field": field,
        "reason": answer["details"]["causes"][0]["reason"],
        "message": message,
    } in answer["details"]["causes"]


async def test_history_is_compacted_periodically() -> None:
    async with (
        ApiServer(install_crds=False, compaction_interval_seconds=0.2) as server,
        aiohttp.ClientSession() as session,
    ):
        http = Http(server, session)
        created = await http.ok("POST", CM, {"metadata": {"name": "a"}})
        old = created["metadata"]["resourceVersion"]
        await asyncio.sleep(0.3)  # one interval: the version seen at the start is compacted
        await http.ok("POST", CM, {"metadata": {"name": "b"}})
        await asyncio.sleep(0.5)  # and then this one
        url = f"{server.url}{CM}?watch=true&timeoutSeconds=1&resourceVersion={old}"
        async with session.get(url) as resp:
            events = [json.loads(line) for line in (await resp.read()).splitlines()]
    assert [e["type"] for e in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 410
