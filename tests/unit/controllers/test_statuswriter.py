"""The background status writer: coalescing per object, bounded concurrency, failures left to
the next poll, and the evaluation's view of a status that is still on its way."""

from __future__ import annotations

import asyncio
from typing import Any

from podscaler.controllers.scaledobject.evaluation import SCALED_OBJECTS, ObjectContext
from podscaler.controllers.scaledobject.statuswriter import StatusWriter
from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound, TransportError


class FakeKube:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: BaseException | None = None

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            assert kwargs["timeout_seconds"] == 10.0
            self.calls.append((path, kwargs["body"]))
            if self.fail is not None:
                raise self.fail
            return {"status": kwargs["body"]["status"]}
        finally:
            self.in_flight -= 1


def _writer(kube: FakeKube, concurrency: int = 4) -> StatusWriter:
    fake: Any = kube
    client: Kube = fake
    return StatusWriter(client, SCALED_OBJECTS, concurrency=concurrency, timeout_seconds=10.0)


def _ctx(name: str) -> ObjectContext:
    return ObjectContext(namespace="default", name=name, obj={"metadata": {"name": name}})


async def test_latest_status_wins_and_one_write_per_object_at_a_time() -> None:
    kube = FakeKube()
    writer = _writer(kube)
    ctx = _ctx("a")
    kube.gate.clear()
    writer.submit(ctx, {"observedGeneration": 1})
    await asyncio.sleep(0)  # the first write is in flight
    writer.submit(ctx, {"observedGeneration": 2})
    writer.submit(ctx, {"observedGeneration": 3})
    assert ctx.known_status == {"observedGeneration": 3}
    kube.gate.set()
    await writer.flush()
    written = [body["status"]["observedGeneration"] for _, body in kube.calls]
    assert written == [1, 3]  # 2 was replaced while queued
    assert kube.most_in_flight == 1
    assert ctx.status == {"observedGeneration": 3}
    assert ctx.wanted_status is None
    await writer.aclose()


async def test_concurrency_is_bounded() -> None:
    kube = FakeKube()
    writer = _writer(kube, concurrency=3)
    kube.gate.clear()
    contexts = [_ctx(f"o{i}") for i in range(20)]
    for ctx in contexts:
        writer.submit(ctx, {"observedGeneration": 1})
    await asyncio.sleep(0.01)
    assert kube.in_flight == 3
    assert writer.pending == 20
    kube.gate.set()
    await writer.flush()
    assert len(kube.calls) == 20
    assert kube.most_in_flight == 3
    await writer.aclose()


async def test_a_failed_write_is_left_to_the_next_poll_and_a_gone_object_dropped() -> None:
    kube = FakeKube()
    writer = _writer(kube)
    ctx = _ctx("a")
    kube.fail = TransportError("PATCH: TimeoutError()")
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert writer.failed == 1
    assert ctx.status is None
    assert ctx.known_status == {"observedGeneration": 1}  # still wanted: composed over
    kube.fail = NotFound(404, "NotFound", "gone")
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert ctx.wanted_status is None
    await writer.aclose()


async def test_nothing_is_written_when_the_server_already_has_it() -> None:
    kube = FakeKube()
    writer = _writer(kube)
    ctx = _ctx("a")
    ctx.obj["status"] = {"observedGeneration": 1}
    writer.submit(ctx, {"observedGeneration": 1})
    await writer.flush()
    assert kube.calls == []
    assert ctx.wanted_status is None
    await writer.aclose()
