"""Decision records: what ``podscaler explain`` shows, and the short form status carries.

Every evaluation of a ScaledObject ends in a :class:`DecisionRecord`: each trigger's value,
activity and error, the 0↔1 verdict of the KEDA rules, the HPA calculation (each metric's
proposal, the stabilized count, the limit that applied) and, above all, the **rule that bound
the result** (tolerance, stabilization window, a policy, min/max, cooldown, fallback, pause …).

Where records live, and why there:

* the last :data:`DEFAULT_RECORDS_PER_OBJECT` per object stay in the operator's memory
  (:class:`DecisionLog`) and are served as JSON on the metrics port at ``/debug/decisions``;
  memory is bounded by objects x N and nothing is written per poll;
* behind them, a day of history per object, so "why did we go to 10 at 12:59?" can be
  answered the next morning: consecutive polls that decided the same (same replicas, rule,
  trigger activity and errors; for a change, the same binding limit) fold into one
  :class:`DecisionSpan` — the first poll in full (the decision that started it), how many
  polls followed, when the last was, the range of each trigger's value, and how often each
  limit held the replicas. A steady object costs one span however long it holds;
  each change of decision costs one. Spans are dropped when their last poll is older than
  :data:`DEFAULT_HISTORY_SECONDS` (24 h) behind the newest, and beyond
  :data:`DEFAULT_SPANS_PER_OBJECT` (an object changing its decision more often than every
  ~3 minutes all day keeps its latest changes, not the whole day). Memory per object
  (``tests/unit/controllers/test_decision_history.py``, tracemalloc): a span is ~1.1 KiB; an
  object that changed its decision once an hour all day (47 spans) holds 60 KiB, its 20
  recent records 8 KiB of it; a steady object ~6 KiB (``test_decision_packing.py``), 60 MiB
  at 10,000 (27 KiB each before the records were packed); the count caps one object's history
  at ~0.6 MiB;
* a record that repeats the one before in all but its numbers (trigger values and poll
  durations, the HPA metrics' usage and ratio, the float facts) and its time is kept packed:
  those numbers in ~100 bytes, beside the earlier record it repeats, and rebuilt when read.
  Most polls of a steady object are such repeats; a record is packed only when the rebuild
  equals it, so a reader never sees a difference;
* the latest one, shortened (:meth:`DecisionRecord.short`), goes into
  ``status.lastDecision`` and is written only when it *changes*, so a steady object costs no
  status writes; ``podscaler explain`` can read it with nothing but a kubeconfig.

Records never hold trigger metadata or authentication parameters, only metric names, values and
error messages (scalers keep secrets out of their messages), so they are safe to serve.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, cast

from podscaler.api.timestamps import parse_seconds
from podscaler.controllers.triggers import TriggerRecord
from podscaler.engine import hpa

if TYPE_CHECKING:
    from podscaler.controllers.scaledobject.deciding import Verdict
    from podscaler.controllers.scaledobject.gathering import Inputs
    from podscaler.controllers.scaledobject.hpamode import HpaModeOutcome

__all__ = [
    "DEFAULT_HISTORY_SECONDS",
    "DEFAULT_RECORDS_PER_OBJECT",
    "DEFAULT_SPANS_PER_OBJECT",
    "DecisionLog",
    "DecisionRecord",
    "DecisionSpan",
    "HpaMetricRecord",
    "HpaRecord",
    "TriggerRecord",
    "decision_record",
    "hpa_record",
    "render_history",
    "render_records",
]

#: Records kept per object: about ten minutes at a 30 s polling interval.
DEFAULT_RECORDS_PER_OBJECT: Final = 20
#: History kept per object: spans whose last poll is at most this far behind the newest.
DEFAULT_HISTORY_SECONDS: Final = 24 * 3600.0
#: ... and at most this many spans (a change of decision every ~3 minutes for a day).
DEFAULT_SPANS_PER_OBJECT: Final = 500


@dataclass(frozen=True, slots=True)
class HpaMetricRecord:
    """One metric inside the HPA calculation: its proposal or why it had none."""

    metric: str
    replicas: int | None
    usage: float | None
    ratio: float | None
    held: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HpaRecord:
    """The 1..N calculation (``engine.hpa``) of one poll."""

    bound_by: str
    summary: str
    metric_replicas: int | None
    stabilized_replicas: int | None
    desired_replicas: int
    metrics: tuple[HpaMetricRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One evaluation of one ScaledObject, from inputs to the replica count written."""

    at: str
    generation: int | None
    current_replicas: int | None
    desired_replicas: int | None
    rule: str
    summary: str
    active: bool
    triggers: tuple[TriggerRecord, ...] = ()
    hpa: HpaRecord | None = None
    scaled: bool = False
    dry_run: bool = False
    error: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["facts"] = {k: _jsonable(v) for k, v in self.facts.items()}
        return out

    def short(self) -> dict[str, Any]:
        """The short form for ``status.lastDecision``: stable while nothing changes.

        It holds no timestamp and no raw values (those move every poll and would turn each
        poll into a status write); the time it changed is the Active/Ready conditions' story,
        and the values are in metrics and ``/debug/decisions``.
        """
        out: dict[str, Any] = {"rule": self.rule, "summary": self.summary}
        if self.desired_replicas is not None:
            out["replicas"] = self.desired_replicas
        if self.hpa is not None and self.rule in ("hpa", "fallback"):
            out["boundBy"] = self.hpa.bound_by
        if self.dry_run:
            out["dryRun"] = True
        return out


def hpa_record(decision: hpa.Decision) -> HpaRecord:
    """The record of one 1..N calculation: each metric's proposal, the limit that bound it."""
    explanation = decision.explanation
    metrics = []
    for evaluation in explanation.metrics:
        proposal = evaluation.proposal
        metrics.append(
            HpaMetricRecord(
                metric=evaluation.description,
                replicas=proposal.replicas if proposal is not None else None,
                usage=proposal.usage_milli / 1000 if proposal is not None else None,
                ratio=round(proposal.usage_ratio, 4) if proposal is not None else None,
                held=proposal.held.value if proposal is not None and proposal.held else None,
                error=evaluation.error,
            )
        )
    return HpaRecord(
        bound_by=explanation.bound_by.value,
        summary=explanation.summary,
        metric_replicas=explanation.metric_replicas,
        stabilized_replicas=explanation.stabilized_replicas,
        desired_replicas=decision.desired_replicas,
        metrics=tuple(metrics),
    )


def decision_record(
    inputs: Inputs,
    verdict: Verdict,
    calculation: HpaRecord | None,
    hpa_mode: HpaModeOutcome | None,
    *,
    scaled: bool,
    error: str | None,
    dry_run: bool,
) -> DecisionRecord:
    """The record of a pass that decided: its inputs, the rule that bound it, what it wrote."""
    explanation = verdict.keda.explanation
    summary = explanation.summary
    if calculation is not None:
        summary = f"{summary}; {calculation.summary}"
    if hpa_mode is not None:
        summary = f"{summary}; {hpa_mode.summary}"
    return DecisionRecord(
        at=inputs.now.isoformat(),
        generation=inputs.generation,
        current_replicas=inputs.scale.replicas,
        desired_replicas=verdict.desired,
        rule=explanation.rule.value,
        summary=summary,
        active=verdict.keda.is_active,
        triggers=inputs.poll.records,
        hpa=calculation,
        scaled=scaled,
        dry_run=dry_run,
        error=error,
        facts=dict(explanation.facts),
    )


#: Fields of consecutive records that are usually equal (a steady object's summary, facts,
#: HPA calculation): the new record points at the previous one's values instead of its own.
_SHARED_FIELDS: Final = ("rule", "summary", "hpa", "error", "facts")
_SHARED_TRIGGER_FIELDS: Final = ("type", "name", "metric", "error")


def _share(previous: DecisionRecord, record: DecisionRecord) -> None:
    """Let *record* reuse *previous*'s equal values (memory: objects x N records, where N is
    :data:`DEFAULT_RECORDS_PER_OBJECT`; a steady object's records differ in little but their
    time and values). Records are immutable, so sharing is invisible to readers."""
    for name in _SHARED_FIELDS:
        mine, theirs = getattr(record, name), getattr(previous, name)
        if mine is not theirs and mine == theirs:
            object.__setattr__(record, name, theirs)
    if len(record.triggers) != len(previous.triggers):
        return
    for trigger, before in zip(record.triggers, previous.triggers, strict=True):
        for name in _SHARED_TRIGGER_FIELDS:
            mine, theirs = getattr(trigger, name), getattr(before, name)
            if mine is not theirs and mine == theirs:
                object.__setattr__(trigger, name, theirs)


class _Repeat:
    """A record that repeats an earlier one (its *base*) in everything but its moving numbers
    (:func:`_moving`) and its time, held as those numbers packed into bytes: ~150 bytes where
    a record of its own is ~850. Materialized (:meth:`record`) only when read."""

    __slots__ = ("base", "packed")

    def __init__(self, base: DecisionRecord, packed: bytes) -> None:
        self.base = base
        self.packed = packed

    def record(self) -> DecisionRecord:
        count = (len(self.packed) - _HEAD.size) // 8
        at, missing = _HEAD.unpack_from(self.packed)
        numbers = struct.unpack_from(f"<{count}d", self.packed, _HEAD.size)
        moving = [None if missing >> i & 1 else v for i, v in enumerate(numbers)]
        return _rebuilt(self.base, _at_text(at), moving)


#: a packed repeat's head: its time (microseconds since the epoch) and which numbers are None
_HEAD: Final = struct.Struct("<qQ")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _at_text(microseconds: int) -> str:
    return (_EPOCH + timedelta(microseconds=microseconds)).isoformat()


def _moving(record: DecisionRecord) -> list[float | None]:
    """The numbers that move from poll to poll while an object decides the same, in a fixed
    order: each trigger's value and poll duration, each HPA metric's usage and ratio, and the
    float facts (the last active time, a composite metric)."""
    moving: list[float | None] = []
    for trigger in record.triggers:
        moving += (trigger.value, trigger.duration_seconds)
    if record.hpa is not None:
        for metric in record.hpa.metrics:
            moving += (metric.usage, metric.ratio)
    moving += [v for v in record.facts.values() if v is None or type(v) is float]
    return moving


def _rebuilt(base: DecisionRecord, at: str, moving: Sequence[float | None]) -> DecisionRecord:
    """*base* with its time and moving numbers replaced (the inverse of :func:`_moving`)."""
    numbers = iter(moving)
    triggers = tuple(
        replace(t, value=next(numbers), duration_seconds=cast(float, next(numbers)))
        for t in base.triggers
    )
    hpa = base.hpa
    if hpa is not None:
        metrics = tuple(replace(m, usage=next(numbers), ratio=next(numbers)) for m in hpa.metrics)
        hpa = replace(hpa, metrics=metrics)
    facts = {
        k: next(numbers) if v is None or type(v) is float else v for k, v in base.facts.items()
    }
    return replace(base, at=at, triggers=triggers, hpa=hpa, facts=facts)


def _is_moving(value: object) -> bool:
    return value is None or type(value) is float


#: What a record, a trigger's record, an HPA calculation and one of its metrics are besides
#: their moving numbers (:func:`_moving`): a repeat must equal its base in these.
_RECORD_SHAPE: Final = attrgetter(
    "generation",
    "current_replicas",
    "desired_replicas",
    "rule",
    "summary",
    "active",
    "scaled",
    "dry_run",
    "error",
)
_TRIGGER_SHAPE: Final = attrgetter("index", "type", "name", "metric", "active", "error", "details")
_HPA_SHAPE: Final = attrgetter(
    "bound_by", "summary", "metric_replicas", "stabilized_replicas", "desired_replicas"
)
_METRIC_SHAPE: Final = attrgetter("metric", "replicas", "held", "error")


def _same_but_moving(base: DecisionRecord, record: DecisionRecord) -> bool:
    """Whether ``_rebuilt(base, record.at, _moving(record))`` would equal *record*, field for
    field (and each fact type for type), without building it (a third of the cost of a poll's
    record). Equal shapes also line the moving numbers of both up, slot for slot."""
    if _RECORD_SHAPE(record) != _RECORD_SHAPE(base):
        return False
    if list(map(_TRIGGER_SHAPE, record.triggers)) != list(map(_TRIGGER_SHAPE, base.triggers)):
        return False
    hpa, before = record.hpa, base.hpa
    if hpa is not None or before is not None:
        if hpa is None or before is None or _HPA_SHAPE(hpa) != _HPA_SHAPE(before):
            return False
        if list(map(_METRIC_SHAPE, hpa.metrics)) != list(map(_METRIC_SHAPE, before.metrics)):
            return False
    if list(record.facts) != list(base.facts):  # the same keys in the same order
        return False
    for key, value in record.facts.items():
        was = base.facts[key]
        if _is_moving(was):
            if not _is_moving(value):
                return False
        elif type(value) is not type(was) or value != was:
            return False
    return True


def _repeat(base: DecisionRecord, record: DecisionRecord) -> _Repeat | None:
    """*record* packed against *base*, or None unless it can be rebuilt from the pack exactly
    (equal in every field, each number a float or None as before, its time in UTC to the
    microsecond): a record that packs is always read back as it was written."""
    if not _same_but_moving(base, record):
        return None
    moving = _moving(record)
    if len(moving) > 64 or any(v is not None and type(v) is not float for v in moving):
        return None
    try:
        when = datetime.fromisoformat(record.at)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    at = (when - _EPOCH) // timedelta(microseconds=1)
    if _at_text(at) != record.at:
        return None
    missing = sum(1 << i for i, v in enumerate(moving) if v is None)
    numbers = [0.0 if v is None else v for v in moving]
    return _Repeat(base, _HEAD.pack(at, missing) + struct.pack(f"<{len(numbers)}d", *numbers))


def _full(kept: DecisionRecord | _Repeat) -> DecisionRecord:
    return kept.record() if isinstance(kept, _Repeat) else kept


def _instant(at: str) -> float | None:
    """Seconds since the epoch of a record's ``at`` (RFC 3339), or None if it is not one.
    Uncached: every poll's ``at`` is new, and 10,000 objects' records flushed the shared
    cache (kept for times read again and again, as a pod's start) each minute."""
    return parse_seconds(at, cached=False)


def _decision_key(record: DecisionRecord) -> tuple[Any, ...]:
    """What a span's polls have in common: everything but times and values, and — while the
    object holds its replica count — which limit held it (tolerance, the metrics themselves,
    a stabilization window: with noisy metrics that changes from poll to poll, so the span
    counts the limits instead of splitting on them)."""
    hold = not record.scaled and record.desired_replicas == record.current_replicas
    return (
        record.generation,
        record.current_replicas,
        record.desired_replicas,
        record.rule,
        record.active,
        record.scaled,
        record.dry_run,
        record.error,
        None if hold or record.hpa is None else record.hpa.bound_by,
        tuple((t.index, t.active, t.error) for t in record.triggers),
    )


_NO_FACTS: Final[Mapping[str, Any]] = {}


@dataclass(slots=True)
class DecisionSpan:
    """Consecutive polls of one object that decided the same thing.

    ``first`` is the poll that started the span, in full but without its ``facts`` (those are
    in the recent records and in status). ``ranges`` holds each trigger's lowest and highest
    value over the span (``[low0, high0, low1, high1, …]``, None where a trigger had none);
    ``held`` counts, for a span that held the replica count, the polls each limit held it
    (``{"Tolerance": 30, "StabilizationWindow": 12}``). Kept small on purpose: an object may
    keep hundreds of these.
    """

    first: DecisionRecord
    last_at: str
    polls: int
    ranges: list[float | None]
    held: dict[str, int] | None

    @classmethod
    def start(cls, record: DecisionRecord) -> DecisionSpan:
        ranges: list[float | None] = []
        for trigger in record.triggers:
            ranges += (trigger.value, trigger.value)
        span = cls(replace(record, facts=_NO_FACTS), record.at, 1, ranges, None)
        span._count_limit(record)
        return span

    def _count_limit(self, record: DecisionRecord) -> None:
        if record.hpa is None or record.scaled:
            return
        if record.desired_replicas != record.current_replicas:
            return
        if self.held is None:
            self.held = {}
        self.held[record.hpa.bound_by] = self.held.get(record.hpa.bound_by, 0) + 1

    def extend(self, record: DecisionRecord) -> None:
        self.polls += 1
        self.last_at = record.at
        self._count_limit(record)
        ranges = self.ranges
        for i, trigger in enumerate(record.triggers[: len(ranges) // 2]):
            value = trigger.value
            if value is None:
                continue
            low, high = ranges[2 * i], ranges[2 * i + 1]
            ranges[2 * i] = value if low is None else min(low, value)
            ranges[2 * i + 1] = value if high is None else max(high, value)

    def to_dict(self) -> dict[str, Any]:
        decision = self.first.to_dict()
        decision.pop("facts", None)
        out: dict[str, Any] = {
            "from": self.first.at,
            "to": self.last_at,
            "polls": self.polls,
            "decision": decision,
            "values": [
                {"metric": t.metric, "min": self.ranges[2 * i], "max": self.ranges[2 * i + 1]}
                for i, t in enumerate(self.first.triggers[: len(self.ranges) // 2])
            ],
        }
        if self.held:
            out["heldBy"] = dict(sorted(self.held.items(), key=lambda kv: (-kv[1], kv[0])))
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class DecisionLog:
    """The last N records per object, and a day of history as spans, in memory."""

    def __init__(
        self,
        per_object: int = DEFAULT_RECORDS_PER_OBJECT,
        *,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
        spans_per_object: int = DEFAULT_SPANS_PER_OBJECT,
    ) -> None:
        self.per_object = per_object
        self.history_seconds = history_seconds
        self.spans_per_object = spans_per_object
        #: oldest first; a record that repeats the one before in all but its numbers and time
        #: is kept packed (``_Repeat``): most polls of a steady object
        self._records: dict[tuple[str, str], deque[DecisionRecord | _Repeat]] = {}
        self._spans: dict[tuple[str, str], deque[DecisionSpan]] = {}

    def add(self, namespace: str, name: str, record: DecisionRecord) -> None:
        key = (namespace, name)
        kept = self._records.get(key)
        if kept is None:
            kept = self._records[key] = deque(maxlen=self.per_object)
        elif kept:
            last = kept[-1]
            base = last.base if isinstance(last, _Repeat) else last
            repeat = _repeat(base, record)
            if repeat is not None:
                kept.append(repeat)
                self._remember(key, record)
                return
            _share(base, record)
        kept.append(record)
        self._remember(key, record)

    def _remember(self, key: tuple[str, str], record: DecisionRecord) -> None:
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = deque(maxlen=self.spans_per_object)
        if spans and _decision_key(spans[-1].first) == _decision_key(record):
            spans[-1].extend(record)
        else:
            spans.append(DecisionSpan.start(record))
        newest = _instant(record.at)
        if newest is None:
            return
        horizon = newest - self.history_seconds
        while len(spans) > 1:
            oldest = _instant(spans[0].last_at)
            if oldest is None or oldest >= horizon:
                break
            spans.popleft()

    def forget(self, namespace: str, name: str) -> None:
        self._records.pop((namespace, name), None)
        self._spans.pop((namespace, name), None)

    def history(self, namespace: str, name: str) -> list[DecisionSpan]:
        """The object's spans, oldest first (the current one last, still growing)."""
        return list(self._spans.get((namespace, name), ()))

    def recent(self, namespace: str, name: str) -> list[DecisionRecord]:
        """Oldest first."""
        return [_full(kept) for kept in self._records.get((namespace, name), ())]

    def latest(self, namespace: str, name: str) -> DecisionRecord | None:
        kept = self._records.get((namespace, name))
        return _full(kept[-1]) if kept else None

    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._records)

    def to_json(self, namespace: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The ``/debug/decisions`` document: ``{"objects": [{namespace, name, decisions,
        history}]}`` — the recent records in full and, when one object is asked for by name,
        its day of spans (for every object at once that would be a day of a whole fleet)."""
        objects = []
        for ns, n in self.keys():
            if namespace is not None and ns != namespace:
                continue
            if name is not None and n != name:
                continue
            found: dict[str, Any] = {
                "namespace": ns,
                "name": n,
                "decisions": [_full(r).to_dict() for r in self._records[(ns, n)]],
            }
            if name is not None:
                found["history"] = [span.to_dict() for span in self._spans.get((ns, n), ())]
            objects.append(found)
        return {"objects": objects}


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_records(records: Iterable[Mapping[str, Any]]) -> str:
    """Decision records (as dicts, from JSON) as text for people, newest last."""
    lines: list[str] = []
    for record in records:
        replicas = f"{_number(record.get('currentReplicas', record.get('current_replicas')))}"
        desired = record.get("desiredReplicas", record.get("desired_replicas"))
        head = f"{record.get('at', '')}  replicas {replicas} -> {_number(desired)}"
        head += f"  rule={record.get('rule')}"
        if record.get("dry_run") or record.get("dryRun"):
            head += "  (dry run)"
        lines.append(head)
        lines.append(f"  why: {record.get('summary', '')}")
        if record.get("error"):
            lines.append(f"  error: {record['error']}")
        triggers: Sequence[Mapping[str, Any]] = record.get("triggers") or []
        for trigger in triggers:
            label = trigger.get("name") or trigger.get("type")
            state = "active" if trigger.get("active") else "inactive"
            text = (
                f"  trigger {trigger.get('index')} {label} ({trigger.get('metric')}): "
                f"value {_number(trigger.get('value'))}, {state}"
            )
            if trigger.get("error"):
                text += f", error: {trigger['error']}"
            lines.append(text)
            details = trigger.get("details")
            if isinstance(details, Mapping) and details.get("summary"):
                lines.append(f"    {details['summary']}")
        hpa = record.get("hpa")
        if isinstance(hpa, Mapping):
            lines.append(
                f"  hpa: metrics proposed {_number(hpa.get('metric_replicas'))}, "
                f"stabilized {_number(hpa.get('stabilized_replicas'))}, "
                f"desired {_number(hpa.get('desired_replicas'))}, bound by {hpa.get('bound_by')}"
            )
            for metric in hpa.get("metrics") or []:
                text = (
                    f"    {metric.get('metric')}: usage {_number(metric.get('usage'))}, "
                    f"ratio {_number(metric.get('ratio'))} -> {_number(metric.get('replicas'))}"
                )
                if metric.get("held"):
                    text += f" (held: {metric['held']})"
                if metric.get("error"):
                    text += f" error: {metric['error']}"
                lines.append(text)
            if hpa.get("summary"):
                lines.append(f"    {hpa['summary']}")
    return "\n".join(lines)


def render_history(spans: Iterable[Mapping[str, Any]]) -> str:
    """History spans (as dicts, from JSON) as text, one line each, oldest first::

    2026-01-05T12:58:45+00:00 .. 13:04:15 (12 polls) replicas 9 -> 10 rule=hpa
      (bound by MaxReplicas): <why>; s0-cpu 71.8..80.2
    """
    lines: list[str] = []
    for span in spans:
        decision: Mapping[str, Any] = span.get("decision") or {}
        start = str(span.get("from", ""))
        end = str(span.get("to", ""))
        same_day = start[:10] == end[:10] and len(end) > 11
        until = end[11:19] if same_day else end
        current = _number(decision.get("current_replicas"))
        desired = _number(decision.get("desired_replicas"))
        polls = span.get("polls", 1)
        head = (
            f"{start} .. {until} ({polls} poll{'s' if polls != 1 else ''}) "
            f"replicas {current} -> {desired} rule={decision.get('rule')}"
        )
        hpa = decision.get("hpa")
        held: Mapping[str, Any] = span.get("heldBy") or {}
        if held:
            head += " held by " + ", ".join(f"{k} ({v})" for k, v in held.items())
        elif isinstance(hpa, Mapping) and hpa.get("bound_by"):
            head += f" (bound by {hpa['bound_by']})"
        if decision.get("scaled"):
            head += " scaled"
        if decision.get("dry_run"):
            head += " (dry run)"
        lines.append(head)
        detail = f"  why: {decision.get('summary', '')}"
        ranges = [
            f"{v.get('metric')} {_number(v.get('min'))}"
            + (f"..{_number(v.get('max'))}" if v.get("max") != v.get("min") else "")
            for v in span.get("values") or []
        ]
        if ranges:
            detail += "; " + ", ".join(ranges)
        if decision.get("error"):
            detail += f"; error: {decision['error']}"
        lines.append(detail)
    return "\n".join(lines)
