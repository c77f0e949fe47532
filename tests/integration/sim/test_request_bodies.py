"""Request bodies are bounded before anything else sees them (issue 17, item 1), over HTTP.

A few hundred bytes of nested YAML aliases, deep JSON or YAML, a body over kube-apiserver's
3 MiB limit, a JSON patch of more operations than upstream allows, numbers JSON cannot carry:
each is refused at once with a 400 or 413 Status — never a 500, never seconds of work — and
``/healthz`` keeps answering while large bodies are parsed.
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from podscaler.sim.apiserver.bodies import MAX_BODY_BYTES
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_apiserver_http import Http

CM = "/api/v1/namespaces/default/configmaps"
YAML = "application/yaml"

#: The "billion laughs": nine levels of nine aliases, 9**9 strings once expanded.
LAUGHS = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n"
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"  {n}: &{n} [{','.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
).encode()


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(apiserver, session)


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _timed(
    http: Http, method: str, path: str, *, raw: bytes, ctype: str
) -> tuple[int, Any, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A file-like body: aiohttp warns (an error here) about large bytes sent in one piece.
    async with http.session.request(
        method, http.url + path, data=io.BytesIO(raw), headers={"Content-Type": ctype}
    ) as resp:
        answer = await resp.json()
    return resp.status, answer, loop.time() - started


async def test_billion_laughs_is_a_fast_400(http: Http) -> None:
    assert len(LAUGHS) < 700
    before = _rss_kib()
    status, answer, took = await _timed(http, "POST", CM, raw=LAUGHS, ctype=YAML)
    assert status == 400, answer
    assert "aliases expand it past the request size limit" in answer["message"]
    assert took < 1.0
    assert _rss_kib() - before < 50_000  # KiB: nothing was expanded
    # A recursive alias is refused too; modest aliases are fine, and expanded into a tree.
    status, answer = await http.call("POST", CM, raw=b"metadata: &m {name: *m}\n", ctype=YAML)
    assert status == 400
    ok = b"metadata: {name: shared}\ndata: &d {k: v}\nbinaryData: {}\nx: *d\n"
    created = await http.ok("POST", CM, raw=ok, ctype=YAML)
    assert created["data"] == {"k": "v"}


@pytest.mark.parametrize(
    ("raw", "ctype"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"metadata": ' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001, "application/json"),
        (b"- " * 100_000 + b"x", YAML),
        (b"metadata:\n" + b"".join(b"  " * i + b"a:\n" for i in range(1, 1_000)), YAML),
        (b"[" * 1_000_000, YAML),
    ],
    ids=["json-arrays", "json-objects", "yaml-block", "yaml-indent", "yaml-flow"],
)
async def test_deep_nesting_is_a_fast_400(http: Http, raw: bytes, ctype: str) -> None:
    status, answer, took = await _timed(http, "POST", CM, raw=raw, ctype=ctype)
    assert status == 400, answer
    assert answer["reason"] == "BadRequest"
    assert took < 1.0


async def _post_stream(
    session: aiohttp.ClientSession, url: str, size: int, *, chunked: bool
) -> tuple[int, Any]:
    body = b'{"metadata": {"name": "big"}, "data": {"k": "' + b"x" * size + b'"}}'
    data: Any = io.BytesIO(body)
    if chunked:

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 1 << 20):
                yield body[i : i + (1 << 20)]

        data = pieces()
    headers = {"Content-Type": "application/json"}
    async with session.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_three_mebibytes_is_413(
    apiserver: ApiServer, http: Http, chunked: bool
) -> None:
    status, answer = await _post_stream(
        http.session, apiserver.url + CM, MAX_BODY_BYTES, chunked=chunked
    )
    assert status == 413
    assert answer["reason"] == "RequestEntityTooLarge"
    assert answer["message"] == f"Request entity too large: limit is {MAX_BODY_BYTES}"
    status, _ = await http.call("GET", f"{CM}/big")
    assert status == 404
    # Just under the limit a body is read (and then refused by ConfigMap validation: 1 MiB).
    status, answer = await _post_stream(
        http.session, apiserver.url + CM, MAX_BODY_BYTES - 100, chunked=chunked
    )
    assert status == 422


async def test_json_patches_and_numbers_are_bounded(http: Http) -> None:
    await http.ok("POST", CM, {"metadata": {"name": "p"}})
    ops = [{"op": "test", "path": "/metadata/name", "value": "p"}] * 10_001
    status, answer = await http.call("PATCH", f"{CM}/p", ops, ctype="application/json-patch+json")
    assert status == 413
    assert "maximum operations in a JSON patch is 10000, got 10001" in answer["message"]
    for raw in (
        b'{"metadata": {"name": "n"}, "x": NaN}',
        b'{"metadata": {"name": "n"}, "x": 1e999}',
    ):
        status, answer = await http.call("POST", CM, raw=raw)
        assert status == 400, answer


async def test_healthz_answers_while_large_bodies_are_parsed(
    apiserver: ApiServer, http: Http
) -> None:
    """Bodies of 2.9 MiB (accepted sizes, each parsed in a worker thread) sent back to back;
    health checks on another connection keep being answered quickly."""
    item = {"name": "x" * 20, "values": list(range(20))}
    big = json.dumps({"metadata": {"name": "n"}, "items": [item] * 25_000}).encode()
    assert MAX_BODY_BYTES * 0.8 < len(big) < MAX_BODY_BYTES
    latencies: list[float] = []
    stop = asyncio.Event()

    async def poll() -> None:
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as own:
            while not stop.is_set():
                started = loop.time()
                async with own.get(f"{apiserver.url}/healthz") as resp:
                    assert resp.status == 200
                latencies.append(loop.time() - started)
                await asyncio.sleep(0.02)

    poller = asyncio.ensure_future(poll())
    try:
        for i in range(6):
            data = io.BytesIO(big.replace(b'"n"', f'"n{i}"'.encode(), 1))
            async with http.session.post(
                apiserver.url + "/api/v1/namespaces/default/pods",
                data=data,
                headers={"Content-Type": "application/json"},
            ) as resp:
                assert resp.status in (201, 422), await resp.text()
    finally:
        stop.set()
        await poller
    # Parsed on the event loop, no health check got through during a parse (each ~1 s here);
    # in a worker thread, only the moments the C decoder holds the GIL delay one.
    fast = sum(1 for t in latencies if t < 0.1)
    assert fast >= 0.8 * len(latencies), sorted(latencies)[-10:]
    assert len(latencies) >= 20
