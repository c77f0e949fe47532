"""What the running operator manages, as one document (``/debug/status``), and its health.

``podscaler status`` prints this document; the operator composes it on request from its
controllers' in-memory state (no API calls, so it answers in microseconds at 10,000 objects
and while the API server is down). Everything here is pure: the operator passes in plain data
and the time.

* :func:`condition_counts`: objects per kind by their status conditions (Ready, Active,
  Fallback, Paused — KEDA's condition types), and the objects whose Ready is False, with the
  condition's reason and message (what ``kubectl describe`` would show: no secret reaches a
  condition message, the controllers redact trigger errors before they write status);
* :func:`vertical_counts`: VerticalScalers by their own conditions (RecommendationProvided,
  LowConfidence, NoPodsMatched, ConfigUnsupported), the ones that cannot work listed with the
  condition's reason and message (a spec the recommender cannot act on, no pods matched);
* :func:`lateness_summary`: how late the last poll of each object started, per loop type;
* :class:`LoopWatchdog`: the liveness rule. A loop is stuck when it has work and has not
  advanced for longer than its limit; the health server answers 503 on ``/healthz`` then, so
  the kubelet restarts the process. (A blocked event loop needs no rule: the probe itself
  times out.)
* :func:`render_text`: the human form of the document: health, then what is wrong (objects
  not Ready or not working, across kinds), then what is managed, the loops, the node groups,
  the vertical updater, and the shard (``--shard``: members, objects each owns, handovers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "CONDITIONS",
    "LoopWatchdog",
    "condition_counts",
    "lateness_summary",
    "render_text",
    "vertical_counts",
]

#: The condition types counted per kind, in the order they are shown.
CONDITIONS: Final = ("Ready", "Active", "Fallback", "Paused")
#: At most this many failing objects are listed per kind (the counts cover all).
MAX_LISTED: Final = 20
#: VerticalScaler condition types counted (upstream VPA's), in the order they are shown.
VERTICAL_CONDITIONS: Final = (
    "RecommendationProvided",
    "LowConfidence",
    "NoPodsMatched",
    "ConfigUnsupported",
)
#: VerticalScaler conditions that, True, mean the scaler cannot work as asked.
_VERTICAL_FAILING: Final = ("ConfigUnsupported", "NoPodsMatched")


def _conditions(status: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for condition in (status or {}).get("conditions") or ():
        if isinstance(condition, Mapping) and isinstance(condition.get("type"), str):
            found[condition["type"]] = condition
    return found


def condition_counts(
    kind: str, objects: Iterable[tuple[str, str, Mapping[str, Any] | None]]
) -> dict[str, Any]:
    """*objects* are (namespace, name, status). Counts of each condition True, and the
    objects not Ready (Ready False; Unknown is "not decided yet" and counted apart)."""
    total = 0
    true = dict.fromkeys(CONDITIONS, 0)
    unknown = 0
    failing: list[dict[str, str]] = []
    for namespace, name, status in objects:
        total += 1
        conditions = _conditions(status)
        for kind_ in CONDITIONS:
            if (conditions.get(kind_) or {}).get("status") == "True":
                true[kind_] += 1
        ready = conditions.get("Ready") or {}
        if ready.get("status") == "False":
            failing.append(
                {
                    "kind": kind,
                    "namespace": namespace,
                    "name": name,
                    "reason": str(ready.get("reason") or ""),
                    "message": str(ready.get("message") or ""),
                }
            )
        elif ready.get("status") != "True":
            unknown += 1
    failing.sort(key=lambda f: (f["namespace"], f["name"]))
    return {
        "total": total,
        **{key.lower(): count for key, count in true.items()},
        "notReady": len(failing),
        "unknown": unknown,
        "errors": failing[:MAX_LISTED],
    }


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def vertical_counts(
    objects: Iterable[tuple[str, str, Mapping[str, Any] | None]],
) -> dict[str, Any]:
    """*objects* are (namespace, name, status) of VerticalScalers: counts of each condition
    True; the failing ones (ConfigUnsupported or NoPodsMatched True) listed with the reason
    and message; ``pending``: neither failing nor recommending yet (no usage samples)."""
    total = 0
    true = dict.fromkeys(VERTICAL_CONDITIONS, 0)
    pending = 0
    failing: list[dict[str, str]] = []
    for namespace, name, status in objects:
        total += 1
        conditions = _conditions(status)
        for kind in VERTICAL_CONDITIONS:
            if (conditions.get(kind) or {}).get("status") == "True":
                true[kind] += 1
        bad = [
            conditions[kind]
            for kind in _VERTICAL_FAILING
            if (conditions.get(kind) or {}).get("status") == "True"
        ]
        if bad:
            failing.append(
                {
                    "kind": "VerticalScaler",
                    "namespace": namespace,
                    "name": name,
                    "reason": str(bad[0].get("reason") or bad[0]["type"]),
                    "message": str(bad[0].get("message") or ""),
                }
            )
        elif (conditions.get("RecommendationProvided") or {}).get("status") != "True":
            pending += 1
    failing.sort(key=lambda f: (f["namespace"], f["name"]))
    return {
        "total": total,
        **{_camel(key): count for key, count in true.items()},
        "failing": len(failing),
        "pending": pending,
        "errors": failing[:MAX_LISTED],
    }


def lateness_summary(samples: Iterable[tuple[str, float]]) -> dict[str, dict[str, float]]:
    """(loop type, seconds late at the last poll of one object) -> per type: objects, worst
    and mean lateness."""
    by_type: dict[str, list[float]] = {}
    for type_, seconds in samples:
        by_type.setdefault(type_, []).append(seconds)
    return {
        type_: {
            "objects": len(values),
            "maxSeconds": round(max(values), 6),
            "meanSeconds": round(sum(values) / len(values), 6),
        }
        for type_, values in sorted(by_type.items())
    }


@dataclass
class LoopWatchdog:
    """Liveness of one loop: stuck when it has work and its progress counter has not moved for
    more than ``limit_seconds`` (loop time). Checked on each probe; the first probe that sees a
    count starts its clock, so a stall is noticed within one probe period of the limit."""

    name: str
    limit_seconds: float
    _count: int | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)

    def check(self, now: float, count: int, *, has_work: bool) -> str | None:
        """None while alive; why not otherwise."""
        if count != self._count or not has_work:
            self._count, self._since = count, now
            return None
        stalled = now - self._since
        if stalled > self.limit_seconds:
            return (
                f"{self.name} stuck: no progress for {stalled:.0f}s "
                f"(limit {self.limit_seconds:.0f}s)"
            )
        return None


# ------------------------------------------------------------------------------ text


def _kind_line(name: str, counts: Mapping[str, Any]) -> str:
    if not counts.get("total"):
        return f"  {name:<20} none"
    parts = [f"{counts.get('total', 0)} total"]
    if "recommendationProvided" in counts:  # VerticalScalers have conditions of their own
        parts += [
            f"{counts.get('recommendationProvided', 0)} recommending",
            f"{counts.get('lowConfidence', 0)} low confidence",
        ]
        if counts.get("failing"):
            parts.append(f"{counts['failing']} NOT WORKING")
        if counts.get("pending"):
            parts.append(f"{counts['pending']} pending")
        return f"  {name:<20} " + ", ".join(parts)
    parts += [f"{counts.get(c.lower(), 0)} {c.lower()}" for c in CONDITIONS]
    if counts.get("notReady"):
        parts.append(f"{counts['notReady']} NOT READY")
    if counts.get("unknown"):
        parts.append(f"{counts['unknown']} pending")
    return f"  {name:<20} " + ", ".join(parts)


def _vertical_lines(vertical: Mapping[str, Any]) -> list[str]:
    recommender = vertical.get("recommender") or {}
    lines = [
        f"vertical recommender: {recommender.get('passes', 0)} passes, "
        f"{recommender.get('samples', 0)} usage samples, {recommender.get('ooms', 0)} OOM kills"
    ]
    updater = vertical.get("updater")
    if updater is None:
        lines.append("  updater off (recommendations only)")
    else:
        refused = updater.get("refused", 0)
        infeasible = updater.get("inPlaceInfeasible", 0)
        lines.append(
            f"  updater: {updater.get('evictions', 0)} pods evicted, "
            f"{updater.get('resizes', 0)} resized in place"
            + (f", {refused} evictions REFUSED" if refused else "")
            + (f", {infeasible} held (InPlace, resize infeasible)" if infeasible else "")
        )
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _age(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{seconds / 60:.0f}m"


def _shard_lines(shard: Mapping[str, Any]) -> list[str]:
    members: Sequence[Mapping[str, Any]] = shard.get("members") or ()
    state = "owning" if shard.get("owning") else "NOT OWNING (fenced or waiting after a join)"
    lines = [
        f"shard: {_count(len(members), 'member')}, {shard.get('objects', 0)} ScaledObjects; "
        f"this replica {shard.get('identity', '')}: {state}, polls {shard.get('polling', 0)}"
    ]
    width = max((len(str(m.get("identity", ""))) for m in members), default=0) + 2
    for member in members:
        name = str(member.get("identity", "")) + (" *" if member.get("self") else "")
        lines.append(
            f"  {name:<{width}} owns {member.get('owns', 0):>5}   Lease renewed "
            f"{_age(float(member.get('renewedSecondsAgo', 0.0)))} ago "
            f"(lasts {member.get('leaseDurationSeconds', 0):g}s)"
            + (f"   metrics API at {member['address']}" if member.get("address") else "")
        )
    handovers: Sequence[Mapping[str, Any]] = shard.get("handovers") or ()
    if handovers:
        lines.append("recent handovers (newest first):")
    me = shard.get("identity")
    for handover in handovers:
        joined = [m for m in handover.get("joined") or () if m != me]
        left = [m for m in handover.get("left") or () if m != me]
        what = []
        if me in (handover.get("left") or ()):
            what.append("this replica FENCED (no renewal in time)")
        elif me in (handover.get("joined") or ()):
            what.append("this replica joined")
        if joined:
            what.append("joined " + ", ".join(joined))
        if left:
            what.append("left " + ", ".join(left))
        if not what:
            what.append("this replica " + ("owning" if handover.get("owning") else "waiting"))
        lines.append(
            f"  {str(handover.get('at', ''))[:19]}  {'; '.join(what)}: "
            f"{_count(handover.get('members', 0), 'member')}, "
            f"{_count(handover.get('moved', 0), 'object')} moved; "
            f"here {handover.get('taken', 0)} taken, {handover.get('released', 0)} released"
        )
    return lines


def render_text(doc: Mapping[str, Any]) -> str:
    """The document as a person reads it: health first, then what is managed, then errors."""
    lines: list[str] = []
    health = doc.get("health") or {}
    state = "live" if health.get("live") else "NOT LIVE"
    state += ", ready" if health.get("ready") else ", NOT READY"
    if health.get("shardMember"):  # --shard: starting, fenced, joining or owning
        state += f", shard member {health['shardMember']}"
    role = doc.get("role", "")
    lines.append(f"podscaler {doc.get('version', '')} ({role}): {state}")
    for problem in health.get("problems") or ():
        lines.append(f"  ! {problem}")
    kinds: Mapping[str, Any] = doc.get("objects") or {}
    errors = [e for counts in kinds.values() for e in counts.get("errors") or ()]
    starving = (doc.get("vertical") or {}).get("problem")
    if errors or starving:
        lines.append("not working:")
    if starving:
        lines.append(f"  vertical recommender: {starving}")
    for error in errors:
        lines.append(
            f"  {error['kind']} {error['namespace']}/{error['name']}: "
            f"{error['reason']}: {error['message']}"
        )
    lines.append("managed:")
    if not kinds:
        lines.append("  nothing (standby, or no controller running)")
    for kind, counts in kinds.items():
        lines.append(_kind_line(kind, counts))
    lateness: Mapping[str, Any] = doc.get("lateness") or {}
    if lateness:
        lines.append("scale loop lateness (last poll of each object):")
        for type_, summary in lateness.items():
            lines.append(
                f"  {type_:<20} worst {summary['maxSeconds']:.3f}s, "
                f"mean {summary['meanSeconds']:.3f}s over {summary['objects']} objects"
            )
    nodes = doc.get("nodes")
    if nodes is not None:
        lines.append(f"node autoscaler: {nodes.get('passes', 0)} passes")
        groups: Sequence[Mapping[str, Any]] = nodes.get("groups") or ()
        for group in groups:
            backoff = group.get("backoff")
            note = f", BACKED OFF ({backoff})" if backoff else ""
            lines.append(
                f"  {group['name']:<20} {group['target']} nodes "
                f"(min {group['min']}, max {group['max']}){note}"
            )
    vertical = doc.get("vertical")
    if vertical is not None:
        lines += _vertical_lines(vertical)
    shard = doc.get("shard")
    if shard is not None:
        lines += _shard_lines(shard)
    return "\n".join(lines) + "\n"
