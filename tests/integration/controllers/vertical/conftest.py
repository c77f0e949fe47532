"""Fixtures shared by the vertical controllers' integration tests: one settable clock for the
embedded API server (PodMetrics timestamps, Event times) and the controllers, so a test plays
a day of one-minute samples in a second; an Event recorder on that clock; and
``start_recommender``, a recommender synced and past its first pass. The ``kube`` client
comes from the parent folder's conftest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from podscaler.controllers.vertical import VerticalRecommender, VerticalSettings
from podscaler.kube.clients import Kube
from podscaler.kube.events import EventRecorder
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.controllers.vertical_objects import SettableClock


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
async def apiserver(clock: SettableClock) -> AsyncIterator[ApiServer]:
    """The embedded API server on the test's clock (overrides the session-wide one)."""
    async with ApiServer(now=clock.now, bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
async def recorder(kube: Kube, clock: SettableClock) -> AsyncIterator[EventRecorder]:
    events = EventRecorder(kube, now=clock.now, reporting_instance="test")
    yield events
    await events.aclose()


StartRecommender = Callable[..., Awaitable[VerticalRecommender]]


@pytest.fixture
def start_recommender(
    kube: Kube, clock: SettableClock, recorder: EventRecorder
) -> StartRecommender:
    """``await start_recommender(**settings)``: a recommender of namespace default on the
    test's clock, whose own loop waits an hour (the test runs the passes), synced and past
    its first pass. The test closes it."""

    async def start(**settings: Any) -> VerticalRecommender:
        rec = VerticalRecommender(
            kube,
            namespace="default",
            now=clock.now,
            settings=VerticalSettings(recommender_interval_seconds=3600.0, **settings),
            recorder=recorder,
        )
        await rec.start()
        await rec.wait_synced(10)
        await rec.wait_pass(10)
        return rec

    return start
