"""Decision records: what ``podscaler explain`` shows, and the short form status carries.

Every evaluation of a ScaledObject ends in a :class:`DecisionRecord`: each trigger's value,
activity and error, the 0↔1 verdict of the KEDA rules, the HPA calculation (each metric's
proposal, the stabilized count, the limit that applied) and, above all, the **rule that bound
the result** (tolerance, stabilization window, a policy, min/max, cooldown, fallback, pause …).

Where records live, and why there:

* the last :data:`DEFAULT_RECORDS_PER_OBJECT` per object stay in the operator's memory
  (:class:`DecisionLog`) and are served as JSON on the metrics port at ``/debug/decisions``;
  memory is bounded by objects x N and nothing is written per poll;
* the latest one, shortened (:meth:`DecisionRecord.short`), goes into
  ``status.lastDecision`` and is written only when it *changes*, so a steady object costs no
  status writes; ``podscaler explain`` can read it with nothing but a kubeconfig.

Records never hold trigger metadata or authentication parameters, only metric names, values and
error messages (scalers keep secrets out of their messages), so they are safe to serve.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

__all__ = [
    "DEFAULT_RECORDS_PER_OBJECT",
    "DecisionLog",
    "DecisionRecord",
    "HpaMetricRecord",
    "HpaRecord",
    "TriggerRecord",
    "render_records",
]

#: Records kept per object: about ten minutes at a 30 s polling interval.
DEFAULT_RECORDS_PER_OBJECT: Final = 20


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """One trigger metric on one poll."""

    index: int
    type: str
    name: str
    metric: str
    value: float | None
    active: bool
    error: str | None = None
    duration_seconds: float = 0.0


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


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class DecisionLog:
    """The last N records per object, in memory."""

    def __init__(self, per_object: int = DEFAULT_RECORDS_PER_OBJECT) -> None:
        self.per_object = per_object
        self._records: dict[tuple[str, str], deque[DecisionRecord]] = {}

    def add(self, namespace: str, name: str, record: DecisionRecord) -> None:
        kept = self._records.get((namespace, name))
        if kept is None:
            kept = self._records[(namespace, name)] = deque(maxlen=self.per_object)
        elif kept:
            _share(kept[-1], record)
        kept.append(record)

    def forget(self, namespace: str, name: str) -> None:
        self._records.pop((namespace, name), None)

    def recent(self, namespace: str, name: str) -> list[DecisionRecord]:
        """Oldest first."""
        return list(self._records.get((namespace, name), ()))

    def latest(self, namespace: str, name: str) -> DecisionRecord | None:
        kept = self._records.get((namespace, name))
        return kept[-1] if kept else None

    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._records)

    def to_json(self, namespace: str | None = None, name: str | None = None) -> dict[str, Any]:
        """The ``/debug/decisions`` document: ``{"objects": [{namespace, name, decisions}]}``."""
        objects = []
        for ns, n in self.keys():
            if namespace is not None and ns != namespace:
                continue
            if name is not None and n != name:
                continue
            objects.append(
                {
                    "namespace": ns,
                    "name": n,
                    "decisions": [r.to_dict() for r in self._records[(ns, n)]],
                }
            )
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
