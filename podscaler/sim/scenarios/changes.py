"""Each replica change of a run, once: the ``/scale`` write and the decision that made it.

The timeline sees two things when an autoscaler scales a workload: ``spec.replicas`` changing
on the workload (the write) and the autoscaler's Event about its own object (the decision:
``ScaledTargetScaled`` "New size: 5; reason: … (bound by Metrics)", ``ScaleTargetActivated``
"… from 0 to 1, triggered by …", ``ScaleTargetDeactivated``, the HPA's ``SuccessfulRescale``,
a ProportionalScaler's ``ProportionalTargetScaled`` "… 3 -> 5 replicas (…)").
:func:`pair_changes` joins them: an Event is the decision of a write when it is about an
autoscaler of that workload (or the workload itself), names the same new size, and comes
within :data:`PAIRING_WINDOW_SECONDS` of it; the nearest unpaired one wins. A write nobody
explained stays a row of its own (``kubectl scale``, a rollout); Events that explain no write
(the object became Ready, a trigger failed) are returned apart, consecutive repeats folded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from podscaler.sim.scenarios.drivers import Autoscaler
from podscaler.sim.world.timeline import Annotation

__all__ = ["PAIRING_WINDOW_SECONDS", "Change", "OtherEvent", "pair_changes"]

#: An Event this close to a write (either side) can be its decision. Operators record the
#: Event right after the write; a minute allows for an event recorder's queue.
PAIRING_WINDOW_SECONDS = 60.0

#: Event reasons that announce a replica change, by autoscaler.
SCALING_REASONS = frozenset(
    {
        "ScaledTargetScaled",
        "ScaleTargetActivated",
        "ScaleTargetDeactivated",
        "KEDAScaleTargetActivated",
        "KEDAScaleTargetDeactivated",
        "SuccessfulRescale",
        "ProportionalTargetScaled",
    }
)

_NEW_SIZE = re.compile(r"New size: (\d+)")
_FROM_TO = re.compile(r"from (\d+) to (\d+)|(\d+) -> (\d+) replicas")


@dataclass(frozen=True)
class Change:
    """One change of a workload's ``spec.replicas``."""

    seconds: float
    workload: str
    before: int
    after: int
    #: the decision's Event ("Reason: note"), or "" when no autoscaler explained the write
    decision: str = ""
    #: the object whose Event it was ("ScaledObject shop/web")
    decided_by: str = ""

    @property
    def up(self) -> bool:
        return self.after > self.before


@dataclass(frozen=True)
class OtherEvent:
    """An autoscaler's Event that explains no write, with how many times it came in a row."""

    seconds: float
    about: str
    text: str
    times: int = 1


def _size(note: Annotation) -> int | None:
    match = _NEW_SIZE.search(note.text) or None
    if match:
        return int(match.group(1))
    found = _FROM_TO.search(note.text)
    if found is None:
        return None
    return int(found.group(2) or found.group(4))


def _workload_of(note: Annotation, scalers: Sequence[Autoscaler]) -> tuple[str, str]:
    """(workload, decided-by label) for an Event: the target of the autoscaler it is about,
    else the object it names."""
    for scaler in scalers:
        if scaler.name == note.workload and note.regarding_kind in ("", scaler.kind):
            return scaler.target_name, scaler.label
        if scaler.hpa_name == note.workload and note.regarding_kind in (
            "",
            "HorizontalPodAutoscaler",
        ):
            return scaler.target_name, scaler.label
    kind = note.regarding_kind or "object"
    return note.workload, f"{kind} {note.workload}"


def pair_changes(
    annotations: Iterable[Annotation], scalers: Sequence[Autoscaler]
) -> tuple[list[Change], list[OtherEvent]]:
    """Each write once, with its decision; and the Events that explain no write."""
    # Two workloads changed at one instant by two controllers (or two objects of one) may
    # arrive in either order from run to run; the report lists them by time, then workload
    # (a stable sort keeps one workload's own changes in the order they happened).
    notes = sorted(annotations, key=lambda a: (a.seconds, a.workload))
    writes = [a for a in notes if a.kind == "scale" and a.before != a.after]
    events = [a for a in notes if a.kind == "event"]
    labels: dict[int, str] = {}
    #: (workload, new size) → indices of the Events that announce it
    announcing: dict[tuple[str, int], list[int]] = {}
    for i, event in enumerate(events):
        size = _size(event) if event.reason in SCALING_REASONS else None
        if size is not None:
            workload, labels[i] = _workload_of(event, scalers)
            announcing.setdefault((workload, size), []).append(i)
    used: set[int] = set()
    changes: list[Change] = []
    for write in writes:
        best: int | None = None
        for i in announcing.get((write.workload, write.after), ()):
            distance = abs(events[i].seconds - write.seconds)
            if i in used or distance > PAIRING_WINDOW_SECONDS:
                continue
            if best is None or distance < abs(events[best].seconds - write.seconds):
                best = i
        if best is None:
            changes.append(Change(write.seconds, write.workload, write.before, write.after))
            continue
        used.add(best)
        changes.append(
            Change(
                write.seconds,
                write.workload,
                write.before,
                write.after,
                events[best].text,
                labels[best],
            )
        )
    others: list[OtherEvent] = []
    for i, event in enumerate(events):
        if i in used:
            continue
        about = _workload_of(event, scalers)[1]
        last = others[-1] if others else None
        if last is not None and last.about == about and last.text == event.text:
            others[-1] = OtherEvent(last.seconds, about, last.text, last.times + 1)
            continue
        others.append(OtherEvent(event.seconds, about, event.text))
    return changes, others
