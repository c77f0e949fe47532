"""Which pending pods may ask for nodes, and in which groups they are simulated.

Cluster Autoscaler's rules (``utils/kubernetes/listers.go``, ``core/utils/expendable.go``,
``static_autoscaler.go``), in order:

* **unschedulable**: not bound, not being deleted, no nominated node, and the scheduler said
  so — ``PodScheduled`` is ``False`` with reason ``Unschedulable``;
* **not expendable**: a pod whose ``spec.priority`` is set and strictly below
  ``--expendable-pods-priority-cutoff`` (-10) never triggers a scale-up (a pod without a
  priority is never expendable);
* **not a DaemonSet pod**: a new node cannot help a pod pinned to an existing one;
* **old enough**: older than ``--new-pod-scale-up-delay``, or than its
  ``cluster-autoscaler.kubernetes.io/pod-scale-up-delay`` annotation when that parses and is
  not shorter (an annotation can only lengthen the delay). CA reuses one variable across the
  loop so one pod's annotation leaks into the next pods' delay; here each pod has its own.

Pods that pass are grouped into **equivalence groups** (``core/scaleup/equivalence``): same
controller, equal labels, equal spec (ignoring the node name and the generated service-account
token volume), at most 10 groups per controller; pods without a controller stand alone.
Predicates are then checked once per group, not once per pod.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.durations import parse_go_duration
from podscaler.api.timestamps import parse_seconds as unix_seconds
from podscaler.nodes.nodestate import PodSpecError, pod_key
from podscaler.nodes.predicates import PodRequirements
from podscaler.nodes.snapshot import ClusterSnapshot
from podscaler.nodes.templates import is_daemonset_pod

__all__ = [
    "PodGroup",
    "build_pod_groups",
    "controller_uid",
    "is_expendable",
    "is_unschedulable",
    "pod_priority",
    "young_pod_filter",
]

SCALE_UP_DELAY_ANNOTATION: Final = "cluster-autoscaler.kubernetes.io/pod-scale-up-delay"
MAX_GROUPS_PER_CONTROLLER: Final = 10
_TOKEN_VOLUME: Final = re.compile(r"kube-api-access-[a-z0-9]+")


def is_unschedulable(pod: Mapping[str, Any]) -> bool:
    """CA's "unschedulable" pod: the scheduler tried and found no node."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if spec.get("nodeName") or meta.get("deletionTimestamp") or status.get("nominatedNodeName"):
        return False
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    for condition in status.get("conditions") or ():
        if isinstance(condition, Mapping) and condition.get("type") == "PodScheduled":
            return condition.get("status") == "False" and condition.get("reason") == "Unschedulable"
    return False


def pod_priority(pod: Mapping[str, Any]) -> int | None:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_expendable(pod: Mapping[str, Any], cutoff: int) -> bool:
    """``spec.priority`` set and strictly below ``cutoff``."""
    priority = pod_priority(pod)
    return priority is not None and priority < cutoff


def controller_uid(pod: Mapping[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            uid = ref.get("uid") or f"{ref.get('kind')}/{ref.get('name')}"
            return str(uid)
    return None


def young_pod_filter(
    pods: Iterable[Mapping[str, Any]], now: float, delay_seconds: float
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], list[str]]:
    """(old enough, too young, warnings). A pod without a creation time counts as old."""
    kept: list[Mapping[str, Any]] = []
    young: list[Mapping[str, Any]] = []
    warnings: list[str] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        delay = delay_seconds
        annotation = (meta.get("annotations") or {}).get(SCALE_UP_DELAY_ANNOTATION)
        if isinstance(annotation, str):
            parsed = parse_go_duration(annotation)
            if parsed is None:
                warnings.append(
                    f"Failed to parse pod {meta.get('name')!r} annotation "
                    f"{SCALE_UP_DELAY_ANNOTATION}: invalid duration {annotation!r}"
                )
            elif parsed < delay_seconds:
                warnings.append(
                    f"Failed to set pod scale up delay for {meta.get('name')!r} through "
                    f"annotation {SCALE_UP_DELAY_ANNOTATION}: {parsed:g}s is less than "
                    f"{delay_seconds:g}s"
                )
            else:
                delay = parsed
        created = unix_seconds(meta.get("creationTimestamp"))
        if created is None or now - created > delay:
            kept.append(pod)
        else:
            young.append(pod)
    return kept, young, warnings


@dataclass(frozen=True)
class PodGroup:
    """Equivalent pods: ``exemplar``'s requirements stand for every pod in ``pods`` (the
    simulation places the exemplar that many times; which pods those were is positional)."""

    exemplar: PodRequirements
    pods: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, requirements: PodRequirements) -> PodGroup:
        return cls(requirements, (requirements.pod,))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(pod_key(p) for p in self.pods)

    def __len__(self) -> int:
        return len(self.pods)


def _normalized_spec(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec with per-pod noise removed: the node name and the random suffix of the
    service-account token volume (``kube-api-access-xxxxx``) and its mounts."""
    spec = pod.get("spec") or {}
    volumes = spec.get("volumes") or ()
    tokens = {
        v.get("name")
        for v in volumes
        if isinstance(v, Mapping) and str(v.get("name", "")).startswith("kube-api-access-")
    }
    if not tokens and "nodeName" not in spec:
        return spec
    out = {k: v for k, v in spec.items() if k != "nodeName"}
    if tokens:
        text = json.dumps(out, sort_keys=True, default=str)
        return {"normalized": _TOKEN_VOLUME.sub("kube-api-access", text)}
    return out


def build_pod_groups(
    pods: Sequence[Mapping[str, Any]], snapshot: ClusterSnapshot
) -> tuple[list[PodGroup], dict[str, str]]:
    """Equivalence groups in first-seen order, and the pods that could not be read (pod key →
    error). Only one pod per group is parsed."""
    members: list[list[Mapping[str, Any]]] = []
    exemplars: list[PodRequirements] = []
    by_controller: dict[str, list[tuple[Mapping[str, Any], Any, int]]] = {}
    errors: dict[str, str] = {}
    for pod in pods:
        uid = controller_uid(pod)
        if uid is None or is_daemonset_pod(pod):
            try:
                exemplars.append(snapshot.requirements(pod))
                members.append([pod])
            except PodSpecError as exc:
                errors[pod_key(pod)] = str(exc)
            continue
        labels = (pod.get("metadata") or {}).get("labels") or {}
        spec = _normalized_spec(pod)
        known = by_controller.setdefault(uid, [])
        match = next((i for lab, sp, i in known if lab == labels and sp == spec), None)
        if match is not None:
            members[match].append(pod)
            continue
        try:
            requirements = snapshot.requirements(pod)
        except PodSpecError as exc:
            errors[pod_key(pod)] = str(exc)
            continue
        if len(known) < MAX_GROUPS_PER_CONTROLLER:
            known.append((labels, spec, len(members)))
        exemplars.append(requirements)
        members.append([pod])
    groups = [PodGroup(e, tuple(m)) for e, m in zip(exemplars, members, strict=True)]
    return groups, errors
