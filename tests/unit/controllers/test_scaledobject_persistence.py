"""What the scale loop persists, and how rarely: ``lastActiveTime`` written on activity changes
or once it is R old (the exact value stays in memory), the conservative resume after a restart
while active, and the spec parsed once per generation (annotations and labels included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.controllers.scaledobject.mapping import resumed_state
from podscaler.controllers.scaledobject.specs import SpecCache
from podscaler.controllers.scaledobject.status import (
    last_active_refresh_seconds,
    last_active_to_write,
)
from podscaler.engine import keda

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def _active(status: str) -> tuple[Condition, ...]:
    return (Condition("Active", ConditionStatus(status), "r", "m"),)


def _persisted(seconds: float, active: str) -> dict[str, Any]:
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"lastActiveTime": text, "conditions": [{"type": "Active", "status": active}]}


def test_refresh_period_is_bounded_by_cooldown_cap_and_polling_interval() -> None:
    assert last_active_refresh_seconds(30, 300) == 300.0
    assert last_active_refresh_seconds(30, 3600) == 300.0
    assert last_active_refresh_seconds(30, 8) == 30.0  # never more often than every poll
    assert last_active_refresh_seconds(1, 8) == 8.0


def test_steady_activity_keeps_the_persisted_value_until_it_is_r_old() -> None:
    previous = _persisted(T0, "True")
    for age in (30, 60, 299):
        state = keda.ScalingState(last_active_seconds=T0 + age, conditions=_active("True"))
        written = last_active_to_write(previous, state, refresh_seconds=300)
        assert written is not None
        assert written.timestamp() == T0, "unchanged: no status write"
    state = keda.ScalingState(last_active_seconds=T0 + 300, conditions=_active("True"))
    written = last_active_to_write(previous, state, refresh_seconds=300)
    assert written is not None
    assert written.timestamp() == T0 + 300


def test_going_inactive_writes_the_exact_last_active_poll() -> None:
    previous = _persisted(T0, "True")
    state = keda.ScalingState(last_active_seconds=T0 + 90, conditions=_active("False"))
    written = last_active_to_write(previous, state, refresh_seconds=300)
    assert written is not None
    assert written.timestamp() == T0 + 90


def test_first_activity_is_written_and_never_active_has_none() -> None:
    state = keda.ScalingState(last_active_seconds=T0, conditions=_active("True"))
    written = last_active_to_write({}, state, refresh_seconds=300)
    assert written is not None
    assert written.timestamp() == T0
    never = keda.ScalingState(conditions=_active("False"))
    assert last_active_to_write({}, never, refresh_seconds=300) is None


def test_restart_while_active_never_shortens_the_cooldown() -> None:
    status = _persisted(T0, "True")
    # The old operator may have seen activity until T0 + R: assume the latest possible moment.
    assert resumed_state(status, T0 + 1000, 300).last_active_seconds == T0 + 300
    # ... but never later than now.
    assert resumed_state(status, T0 + 20, 300).last_active_seconds == T0 + 20


def test_restart_mid_cooldown_keeps_the_exact_value() -> None:
    status = _persisted(T0, "False")  # inactive: written exactly when it went inactive
    assert resumed_state(status, T0 + 1000, 300).last_active_seconds == T0


def _obj(generation: int, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x", "namespace": "ns", "generation": generation, **meta},
        "spec": {
            "scaleTargetRef": {"name": "web"},
            "triggers": [{"type": "cron", "metadata": {"timezone": "UTC", "start": "0 * * * *",
                          "end": "30 * * * *", "desiredReplicas": "2"}}],
        },
        "status": {"lastActiveTime": "2026-01-01T00:00:00Z"},
    }  # fmt: skip


def test_spec_parsed_once_per_generation_and_annotations() -> None:
    cache = SpecCache()
    first = cache.get(_obj(1))
    assert first.so is not None
    assert not first.problems
    assert first.scaling is not None
    assert cache.get({**_obj(1), "status": {"conditions": []}}) is first, "status is not spec"
    assert cache.scaling_of(first.so) is first.scaling
    paused = cache.get(_obj(1, annotations={"autoscaling.keda.sh/paused": "true"}))
    assert paused is not first
    assert dict(paused.scaling.annotations if paused.scaling else {}) == {
        "autoscaling.keda.sh/paused": "true"
    }
    assert cache.get(_obj(2, annotations={"autoscaling.keda.sh/paused": "true"})) is not paused


def test_invalid_spec_keeps_its_problems_and_no_generation_parses_every_time() -> None:
    cache = SpecCache()
    bad = _obj(1)
    bad["spec"] = {**bad["spec"], "minReplicaCount": 5, "maxReplicaCount": 2}
    parsed = cache.get(bad)
    assert parsed.problems
    assert parsed.scaling is None
    loose = _obj(1)
    del loose["metadata"]["generation"]
    assert cache.get(loose) is not cache.get(loose)
