"""Per-kind validation the embedded API server applies on create and update (422 Invalid).

Only the checks that catch real client bugs are modelled — a workload whose selector does not
select its own template, a pod without containers, negative replicas — not the full upstream
validation. Everything else is accepted as sent.
"""

from __future__ import annotations

from typing import Any

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.sim.errors import invalid
from podscaler.sim.resources import ResourceType

_WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
}


def validate(rt: ResourceType, obj: dict[str, Any]) -> None:
    causes: list[tuple[str, str, str]] = []
    spec = obj.get("spec")
    if (rt.group, rt.kind) in _WORKLOADS:
        causes.extend(_workload(spec if isinstance(spec, dict) else {}))
    elif (rt.group, rt.kind) == ("", "Pod"):
        causes.extend(_pod_spec(spec if isinstance(spec, dict) else {}, "spec"))
    if causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise invalid(rt.kind, name, causes, group=rt.group)


def _workload(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(
            (
                "spec.replicas",
                "FieldValueInvalid",
                f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            )
        )
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
        return causes
    try:
        parsed = LabelSelector.from_dict(selector)
    except SelectorError as exc:
        causes.append(("spec.selector", "FieldValueInvalid", f"Invalid value: {exc}"))
        return causes
    if parsed.is_empty:
        causes.append(
            (
                "spec.selector",
                "FieldValueInvalid",
                "Invalid value: empty selector is invalid for deployment",
            )
        )
    template: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not parsed.is_empty and not parsed.matches(labels):
        causes.append(
            (
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    causes.extend(_pod_spec(template.get("spec") or {}, "spec.template.spec"))
    return causes


def _pod_spec(spec: dict[str, Any], where: str) -> list[tuple[str, str, str]]:
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{where}.containers", "FieldValueRequired", "Required value")]
    causes = []
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"{where}.containers[{i}].name", "FieldValueRequired", "Required value"))
        elif not container.get("image"):
            causes.append(
                (f"{where}.containers[{i}].image", "FieldValueRequired", "Required value")
            )
    return causes
