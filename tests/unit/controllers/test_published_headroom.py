"""Forecast headroom across replicas: the owner's offer in ``status.forecastHeadroom``, its
renewal every half window, its expiry, and the board reading it beside in-process offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.scaledobject import ScaledObjectStatus
from podscaler.controllers.scaledobject.slim import slim_scaled_object
from podscaler.controllers.triggers.headroom import HeadroomBoard, HeadroomOffer
from podscaler.controllers.triggers.published import (
    STATUS_KEY,
    headroom_status,
    published_offers,
)

T0 = datetime(2026, 12, 7, 4, 0, 0, tzinfo=UTC)


def _so(name: str, published: Any, namespace: str = "shop") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"scaleTargetRef": {"name": name}},
        "status": {"observedGeneration": 1, STATUS_KEY: published},
    }


def test_an_offer_is_written_with_its_expiry_and_kept_until_half_its_window_is_gone() -> None:
    first = headroom_status(None, replicas=3, selector="app=web", now=T0, window_seconds=90)
    assert first == {"replicas": 3, "selector": "app=web", "expiresAt": "2026-12-07T04:01:30Z"}
    # the same offer within the first half of its window: the status is not rewritten
    later = T0 + timedelta(seconds=44)
    assert headroom_status(first, replicas=3, selector="app=web", now=later, window_seconds=90) == (
        first
    )
    # past half of it: renewed from now
    renewed = headroom_status(
        first, replicas=3, selector="app=web", now=T0 + timedelta(seconds=46), window_seconds=90
    )
    assert renewed is not None
    assert renewed["expiresAt"] == "2026-12-07T04:02:16Z"
    # a different count or selector: written at once
    more = headroom_status(first, replicas=4, selector="app=web", now=later, window_seconds=90)
    assert more is not None
    assert more["replicas"] == 4
    assert more["expiresAt"] == "2026-12-07T04:02:14Z"
    # nothing to offer (or no selector to copy pods by): the key goes
    assert headroom_status(first, replicas=0, selector="app=web", now=T0, window_seconds=90) is None
    assert headroom_status(None, replicas=2, selector="", now=T0, window_seconds=90) is None


def test_offers_are_read_from_statuses_until_they_expire() -> None:
    published = {"replicas": 2, "selector": "app=web", "expiresAt": "2026-12-07T04:01:00Z"}
    objects = [_so("web", published), _so("idle", None), {"metadata": {"name": "bare"}}]
    offers = published_offers(objects, T0 + timedelta(seconds=20), loop_now=500.0)
    assert offers == [HeadroomOffer("shop", "web", "app=web", 2, 540.0)]
    # a dead owner renews nothing: at its expiry the offer is gone
    assert published_offers(objects, T0 + timedelta(seconds=60), loop_now=540.0) == []


def test_malformed_offers_are_skipped() -> None:
    good = {"replicas": 2, "selector": "app=web", "expiresAt": "2026-12-07T04:01:00Z"}
    bad = [
        {**good, "replicas": True},
        {**good, "replicas": "2"},
        {**good, "replicas": 0},
        {**good, "selector": ""},
        {**good, "selector": 3},
        {**good, "expiresAt": "soon"},
        {k: v for k, v in good.items() if k != "expiresAt"},
        "2 replicas",
    ]
    assert published_offers([_so(f"o{i}", b) for i, b in enumerate(bad)], T0, 0.0) == []


@settings(deadline=None, max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["replicas", "selector", "expiresAt", "other"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
    )
)
def test_any_status_value_reads_as_a_valid_offer_or_none(published: dict[str, Any]) -> None:
    for offer in published_offers([_so("x", published)], T0, 10.0):
        assert offer.count > 0
        assert offer.selector
        assert offer.until > 10.0


def test_the_status_model_and_the_slim_copy_keep_the_offer() -> None:
    written = headroom_status(None, replicas=2, selector="app=web", now=T0, window_seconds=30)
    assert written is not None
    model = ScaledObjectStatus.model_validate({STATUS_KEY: written})
    assert model.forecast_headroom is not None
    assert model.forecast_headroom.replicas == 2
    slim = slim_scaled_object(_so("web", written))
    assert slim["status"] == {"observedGeneration": 1, STATUS_KEY: written}


def test_the_board_reads_its_sources_and_prefers_its_own_offer() -> None:
    board = HeadroomBoard()
    published = [
        HeadroomOffer("shop", "web", "app=web", 5, 200.0),
        HeadroomOffer("shop", "api", "app=api", 1, 200.0),
        HeadroomOffer("shop", "old", "app=old", 1, 50.0),
    ]
    seen: list[float] = []

    def source(now: float) -> list[HeadroomOffer]:
        seen.append(now)
        return published

    board.offer(HeadroomOffer("shop", "web", "app=web", 2, 150.0))
    board.add_source(source)
    assert [(o.owner, o.count) for o in board.current(100.0)] == [("api", 1), ("web", 2)]
    assert seen == [100.0]
    board.remove_source(source)
    assert [o.owner for o in board.current(100.0)] == ["web"]
