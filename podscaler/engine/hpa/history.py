"""The two memories an HPA keeps between passes: recommendations and scale events.

Upstream keeps both in the controller's memory, keyed by HPA, and never shrinks them: each pass
either overwrites one stale entry or appends. The same bookkeeping is reproduced here on
immutable tuples, so a controller stores whatever :class:`HpaHistory` the engine hands back and
passes it in again next time (and loses it on restart exactly as upstream does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from podscaler.api.hpabehavior import ResolvedBehavior, ResolvedRules
from podscaler.engine.hpa.types import (
    HpaHistory,
    Recommendation,
    ScaleEvent,
)


def seed_recommendations(
    history: HpaHistory, current_replicas: int, now_seconds: float
) -> HpaHistory:
    """Record the current replica count when the controller has no history for this HPA.

    This is why, for one downscale stabilization window after a controller restart, the HPA
    cannot scale below the count it found. An existing but empty history gets nothing.
    """
    if history.recommendations is not None:
        return history
    return replace(history, recommendations=(Recommendation(current_replicas, now_seconds),))


def put_recommendation(
    recommendations: Sequence[Recommendation],
    replicas: int,
    now_seconds: float,
    replaceable_index: int | None,
) -> tuple[Recommendation, ...]:
    """Overwrite the one replaceable entry, or append when none is stale."""
    entry = Recommendation(replicas, now_seconds)
    if replaceable_index is None:
        return (*recommendations, entry)
    updated = list(recommendations)
    updated[replaceable_index] = entry
    return tuple(updated)


def replicas_change_in_period(
    events: Sequence[ScaleEvent], period_seconds: float, now_seconds: float
) -> int:
    """Sum of the changes strictly newer than ``now - period``, outdated or not."""
    cutoff = now_seconds - period_seconds
    return sum(event.replica_change for event in events if event.at_seconds > cutoff)


def longest_policy_period_seconds(rules: ResolvedRules) -> int:
    return max((policy.period_seconds for policy in rules.policies), default=0)


def store_scale_event(
    events: Sequence[ScaleEvent],
    rules: ResolvedRules | None,
    replica_change: int,
    now_seconds: float,
) -> tuple[ScaleEvent, ...]:
    """Store one direction's event the way upstream's ``storeScaleEvent`` does.

    Without behavior nothing is stored (the events would never be read). Otherwise every event
    older than the direction's longest policy period is marked outdated (a sticky flag), and the
    *last* outdated event is overwritten by the new one; with none outdated it is appended.
    """
    if rules is None:
        return tuple(events)
    cutoff = now_seconds - longest_policy_period_seconds(rules)
    marked = [
        replace(event, outdated=True) if event.at_seconds < cutoff else event for event in events
    ]
    new_event = ScaleEvent(replica_change, now_seconds, outdated=False)
    last_outdated = max((i for i, event in enumerate(marked) if event.outdated), default=None)
    if last_outdated is None:
        marked.append(new_event)
    else:
        marked[last_outdated] = new_event
    return tuple(marked)


def record_rescale(
    history: HpaHistory,
    behavior: ResolvedBehavior | None,
    previous_replicas: int,
    new_replicas: int,
    now_seconds: float,
) -> HpaHistory:
    """The history after a successful rescale from ``previous_replicas`` to ``new_replicas``."""
    if behavior is None or new_replicas == previous_replicas:
        return history
    if new_replicas > previous_replicas:
        return replace(
            history,
            scale_up_events=store_scale_event(
                history.scale_up_events,
                behavior.scale_up,
                new_replicas - previous_replicas,
                now_seconds,
            ),
        )
    return replace(
        history,
        scale_down_events=store_scale_event(
            history.scale_down_events,
            behavior.scale_down,
            previous_replicas - new_replicas,
            now_seconds,
        ),
    )
