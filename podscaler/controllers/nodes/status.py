"""The ``cluster-autoscaler-status`` ConfigMap: CA's format, plus why each node and pod.

Key ``status`` holds YAML of CA's ``ClusterAutoscalerStatus`` (``clusterstate/api/types.go``;
reference/cluster-autoscaler.md §5.1) — time, ``autoscalerStatus``, cluster-wide and
per-node-group health (node counts, the provider's target, min and max), scale-up
(``InProgress``/``NoActivity``/``Backoff`` with the error) and scale-down
(``CandidatesPresent``/``NoCandidates``) — so tools that read CA's status read ours. The
annotation ``cluster-autoscaler.kubernetes.io/last-updated`` holds the time.

Two keys are podscaler's own, because "why" is what CA's status lacks (its top complaint:
reference §8): ``nodes`` — per node, its group, whether it is unneeded and since when, or the
rule that keeps it and the pod that does; ``pods`` — per pending pod, whether it triggered a
scale-up, awaits one, or why no group can take it. ``podscaler explain node/NAME`` and
``explain pod/NS/NAME`` read them. Both are capped (:data:`MAX_ENTRIES`) so the ConfigMap
stays far below its 1 MiB limit.

Everything here is pure: values in, a ConfigMap body out; the loop writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import yaml

from podscaler.nodes.plans import ScaleDownPlan, ScaleUpPlan, UnremovableReason
from podscaler.nodes.snapshot import NodeGroupState, is_ready
from podscaler.nodes.state import AutoscalerState

__all__ = [
    "LAST_UPDATED_ANNOTATION",
    "MAX_ENTRIES",
    "Health",
    "NodeCounts",
    "StatusBook",
    "count_nodes",
    "format_status_time",
    "node_explanations",
    "pod_explanations",
]

LAST_UPDATED_ANNOTATION: Final = "cluster-autoscaler.kubernetes.io/last-updated"
#: Most node and pod entries kept in the ConfigMap's ``nodes`` and ``pods`` keys.
MAX_ENTRIES: Final = 2000

Obj = dict[str, Any]


def format_status_time(moment: datetime) -> str:
    """CA's ``time`` field: Go's ``time.Time.String()`` in UTC, milliseconds."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} +0000 UTC"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class NodeCounts:
    """CA's ``NodeCount``: registered nodes by readiness, and instances without a Node."""

    total: int = 0
    ready: int = 0
    not_started: int = 0
    unready: int = 0
    being_deleted: int = 0
    unregistered: int = 0
    long_unregistered: int = 0

    def as_status(self) -> Obj:
        return {
            "registered": {
                "total": self.total,
                "ready": self.ready,
                "notStarted": self.not_started,
                "beingDeleted": self.being_deleted,
                "unready": {"total": self.unready, "resourceUnready": 0},
            },
            "longUnregistered": self.long_unregistered,
            "unregistered": self.unregistered,
        }


def _created(node: Mapping[str, Any]) -> float | None:
    stamp = (node.get("metadata") or {}).get("creationTimestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def count_nodes(
    nodes: Sequence[Mapping[str, Any]],
    now: float,
    startup_seconds: float,
    deleting: set[str] | frozenset[str] = frozenset(),
) -> NodeCounts:
    """Registered ``nodes`` by readiness: a node not Ready within ``startup_seconds`` of its
    creation is not started yet; after that it is unready."""
    counts = NodeCounts(total=len(nodes))
    for node in nodes:
        name = str((node.get("metadata") or {}).get("name"))
        if name in deleting:
            counts.being_deleted += 1
        if is_ready(node):
            counts.ready += 1
            continue
        created = _created(node)
        if created is not None and now - created < startup_seconds:
            counts.not_started += 1
        else:
            counts.unready += 1
    return counts


@dataclass(frozen=True)
class Health:
    """Whether the cluster is healthy enough to autoscale (CA's ``IsClusterHealthy``)."""

    counts: NodeCounts
    healthy: bool

    @classmethod
    def of(cls, counts: NodeCounts, max_unready_percentage: float, ok_unready: int) -> Health:
        unready = counts.unready
        too_many = unready > ok_unready and (
            counts.total > 0 and 100.0 * unready / counts.total > max_unready_percentage
        )
        return cls(counts, not too_many)


@dataclass
class StatusBook:
    """Builds the ConfigMap's ``status`` and keeps each part's last transition time."""

    _since: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def _part(self, scope: str, part: str, status: str, probe: str) -> tuple[str, str]:
        previous = self._since.get((scope, part))
        if previous is None or previous[0] != status:
            previous = (status, probe)
            self._since[(scope, part)] = previous
        return previous

    def _condition(self, scope: str, part: str, status: str, probe: str, **extra: Any) -> Obj:
        _, since = self._part(scope, part, status, probe)
        return {"status": status, **extra, "lastProbeTime": probe, "lastTransitionTime": since}

    def status(
        self,
        moment: datetime,
        *,
        groups: Sequence[NodeGroupState],
        nodes: Sequence[Mapping[str, Any]],
        state: AutoscalerState,
        scale_down: ScaleDownPlan | None,
        options_startup_seconds: float,
        health: Health,
        deleting: set[str],
        initializing: bool = False,
        message: str = "",
    ) -> Obj:
        """CA's ``ClusterAutoscalerStatus`` as a dict (to dump as YAML)."""
        probe = _rfc3339(moment)
        now = moment.timestamp()
        by_name = {str((n.get("metadata") or {}).get("name")): n for n in nodes}
        candidates: dict[str, int] = {}
        for unneeded in scale_down.unneeded if scale_down else ():
            candidates[unneeded.group] = candidates.get(unneeded.group, 0) + 1
        group_docs = []
        any_scaling = False
        for group in groups:
            members = [by_name[n] for n in group.node_names if n in by_name]
            counts = count_nodes(members, now, options_startup_seconds, deleting)
            counts.unregistered = max(0, group.target_size - counts.total)
            backoff = state.backoff.status(group.id, now)
            scale_up: Obj
            if backoff.backed_off:
                scale_up = self._condition(
                    group.id,
                    "scaleUp",
                    "Backoff",
                    probe,
                    backoffInfo={
                        "errorCode": backoff.error_code or "",
                        "errorMessage": backoff.error_message or "",
                    },
                )
            elif group.id in state.scale_ups:
                any_scaling = True
                scale_up = self._condition(group.id, "scaleUp", "InProgress", probe)
            else:
                scale_up = self._condition(group.id, "scaleUp", "NoActivity", probe)
            count = candidates.get(group.id, 0)
            down_status = "CandidatesPresent" if count else "NoCandidates"
            down = self._condition(group.id, "scaleDown", down_status, probe)
            if count:
                down = {"status": down_status, "candidates": count, **_times(down)}
            group_health = Health.of(counts, 45.0, 3)
            group_docs.append(
                {
                    "name": group.id,
                    "health": self._condition(
                        group.id,
                        "health",
                        "Healthy" if group_health.healthy else "Unhealthy",
                        probe,
                        nodeCounts=counts.as_status(),
                        cloudProviderTarget=group.target_size,
                        minSize=group.min_size,
                        maxSize=group.max_size,
                    ),
                    "scaleUp": scale_up,
                    "scaleDown": down,
                }
            )
        total_candidates = sum(candidates.values())
        cluster_down = self._condition(
            "", "scaleDown", "CandidatesPresent" if total_candidates else "NoCandidates", probe
        )
        if total_candidates:
            cluster_down = {
                "status": "CandidatesPresent",
                "candidates": total_candidates,
                **_times(cluster_down),
            }
        document: Obj = {
            "time": format_status_time(moment),
            "autoscalerStatus": "Initializing" if initializing else "Running",
        }
        if message:
            document["message"] = message
        document["clusterWide"] = {
            "health": self._condition(
                "",
                "health",
                "Healthy" if health.healthy else "Unhealthy",
                probe,
                nodeCounts=health.counts.as_status(),
            ),
            "scaleUp": self._condition(
                "", "scaleUp", "InProgress" if any_scaling else "NoActivity", probe
            ),
            "scaleDown": cluster_down,
        }
        document["nodeGroups"] = group_docs
        return document


def _times(condition: Mapping[str, Any]) -> Obj:
    return {
        "lastProbeTime": condition["lastProbeTime"],
        "lastTransitionTime": condition["lastTransitionTime"],
    }


def node_explanations(
    groups: Sequence[NodeGroupState],
    nodes: Sequence[Mapping[str, Any]],
    scale_down: ScaleDownPlan | None,
    removing: Mapping[str, str],
    blocked: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Obj]:
    """Per node: its group, and whether it is being removed (``removing``: node → what is
    happening), unneeded (since when, utilization) or kept (the rule, the blocking pod).
    ``blocked`` remembers the pod and rule that last kept a node, for the passes that only
    say "recently found unremovable"."""
    group_of = {name: g.id for g in groups for name in g.node_names}
    entries: dict[str, Obj] = {}
    for node in nodes[:MAX_ENTRIES]:
        name = str((node.get("metadata") or {}).get("name"))
        entries[name] = {"group": group_of.get(name)}
    if scale_down is not None:
        for unneeded in scale_down.unneeded:
            entry = entries.get(unneeded.node)
            if entry is None:
                continue
            entry["state"] = "unneeded"
            entry["unneededSince"] = _rfc3339(datetime.fromtimestamp(unneeded.since, UTC))
            entry["utilization"] = {
                "cpu": round(unneeded.utilization.cpu, 3),
                "memory": round(unneeded.utilization.memory, 3),
            }
            entry["empty"] = unneeded.empty
        for kept in scale_down.unremovable:
            entry = entries.get(kept.node)
            if entry is None:
                continue
            if kept.reason in _TIMERS and entry.get("state") == "unneeded":
                continue  # "unneeded for 40s of 600s": unneededSince says it, and stays put
            entry.setdefault("state", "kept")
            entry["reason"] = kept.reason.value
            if kept.detail:
                entry["detail"] = kept.detail
            if kept.blocking_pod:
                entry["blockingPod"] = kept.blocking_pod
            if kept.blocking_rule:
                entry["blockingRule"] = kept.blocking_rule.value
            remembered = (blocked or {}).get(kept.node)
            if kept.reason is UnremovableReason.RECENTLY_UNREMOVABLE and remembered:
                entry["blockingPod"], entry["blockingRule"] = remembered
        if scale_down.cooldown:
            for entry in entries.values():
                if entry.get("state") == "unneeded":
                    entry["detail"] = f"scale-down held: {scale_down.cooldown}"
    for name, what in removing.items():
        if name in entries:
            entries[name]["state"] = "removing"
            entries[name]["detail"] = what
    return entries


#: Reasons that only say an unneeded node's timer is still running.
_TIMERS: Final = frozenset(
    {UnremovableReason.NOT_UNNEEDED_LONG_ENOUGH, UnremovableReason.NOT_UNREADY_LONG_ENOUGH}
)


def pod_explanations(plan: ScaleUpPlan | None, limit: int = MAX_ENTRIES) -> dict[str, Obj]:
    """Per pending pod the planner looked at: what became of it in this loop."""
    entries: dict[str, Obj] = {}
    if plan is None:
        return entries
    triggered = plan.triggered_message() if plan.scale_ups else ""
    for key in plan.triggered:
        entries[key] = {"outcome": "TriggeredScaleUp", "message": triggered}
    for key in plan.awaiting:
        entries[key] = {
            "outcome": "Awaiting",
            "message": "another node group can take it; the next loop scales that one",
        }
    for outcome in plan.remaining:
        groups: Obj = {g: list(r) for g, r in sorted(outcome.rejected.items())}
        groups.update({g: list(r) for g, r in sorted(outcome.skipped.items())})
        entries[outcome.pod] = {
            "outcome": "NotTriggerScaleUp",
            "message": plan.not_triggered_message(outcome),
            "groups": groups,
        }
    for reason, keys in sorted(plan.filtered.items()):
        for key in keys:
            entries.setdefault(key, {"outcome": "NotConsidered", "message": reason})
    return dict(list(entries.items())[:limit])


#: libyaml's emitter when PyYAML has it (ten times faster at a thousand nodes).
_DUMPER: Final[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


#: What stands for the times that change every pass in :class:`StatusTemplate`'s text.
_PROBE_SENTINEL: Final = "PODSCALER-PROBE-TIME-SENTINEL"
_TIME_SENTINEL: Final = "PODSCALER-STATUS-TIME-SENTINEL"
_PROBE_KEYS: Final = {"lastProbeTime": _PROBE_SENTINEL, "time": _TIME_SENTINEL}


def _with_sentinels(document: Any, found: dict[str, str | None]) -> Any:
    """``document`` with each probe time replaced by its sentinel; ``found`` gets the value
    per sentinel (None when one document holds two different ones)."""
    if isinstance(document, Mapping):
        out = {}
        for k, v in document.items():
            sentinel = _PROBE_KEYS.get(k)
            if sentinel is not None and isinstance(v, str):
                if found.setdefault(sentinel, v) != v:
                    found[sentinel] = None
                out[k] = sentinel
            else:
                out[k] = _with_sentinels(v, found)
        return out
    if isinstance(document, list | tuple):
        return [_with_sentinels(v, found) for v in document]
    return document


#: The two probe-time formats (RFC 3339 and :func:`format_status_time`'s), whose YAML form is
#: known without asking the emitter: YAML 1.1 reads the first as a timestamp, so it is quoted;
#: the second (a trailing ``UTC``) is no YAML timestamp, number or boolean, so it stays plain.
_QUOTED_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_PLAIN_TIME: Final = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+0000 UTC")


def _scalar(value: str) -> str:
    """``value`` as :func:`dump` writes it as a mapping's value.

    The probe times take a shortcut: the status text is rendered at every write, and dumping
    two one-line documents through the emitter each time was half of the render's cost."""
    if _QUOTED_TIME.fullmatch(value):
        return f"'{value}'"
    if _PLAIN_TIME.fullmatch(value):
        return value
    return dump({"k": value})[3:].rstrip("\n")


@dataclass
class StatusTemplate:
    """The ``status`` text without its probe times, dumped once per change of what it says.

    The loop rewrites the ConfigMap every few minutes so that its probe times stay fresh,
    though most of those writes say nothing new: rendering the YAML each time was most of the
    cost of an unchanged pass. :meth:`text` gives the text :func:`dump` would; the
    document with its probe times blanked (:attr:`essence`) tells whether the status
    changed."""

    essence: Any = None
    _text: str = ""

    _found: dict[str, str | None] = field(default_factory=dict)
    _document: Mapping[str, Any] | None = None

    def update(self, document: Mapping[str, Any]) -> None:
        """Take the pass's document; :attr:`essence` is replaced (a new object) only when
        the document says something else than the last one."""
        found: dict[str, str | None] = {}
        essence = _with_sentinels(document, found)
        if essence != self.essence:
            self.essence = essence
            self._text = dump(essence)
        self._found = found
        self._document = document

    def text(self) -> str:
        """The last document's YAML, as :func:`dump` writes it."""
        text = self._text
        for sentinel, value in self._found.items():
            if value is None:  # two probe times in one document: no shortcut
                return dump(self._document)
            text = text.replace(sentinel, _scalar(value))
        return text


def blocking_reasons() -> frozenset[UnremovableReason]:
    """The reasons worth a ``ScaleDownBlocked`` Event: a user can act on them (the node is
    under-used, something specific keeps it)."""
    r = UnremovableReason
    return frozenset(
        {
            r.SCALE_DOWN_DISABLED_ANNOTATION,
            r.NODE_GROUP_MIN_SIZE_REACHED,
            r.MINIMAL_RESOURCE_LIMIT_EXCEEDED,
            r.NO_PLACE_TO_MOVE_PODS,
            r.BLOCKED_BY_POD,
            r.UNEXPECTED_ERROR,
            r.BLOCKED_BY_ON_COMPLETION_POD,
        }
    )
