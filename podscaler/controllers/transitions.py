"""The log lines of what the operator changed: a workload's replica count, an object's
conditions.

``podscaler run`` at info level should tell a cluster's story the way ``kubectl describe``
does, without a debugger: each write of ``/scale`` (which object, from how many to how many,
and the rule that bound the number) and each condition that changed (type, old and new
status, reason). The controllers log these lines; this module only words them, from the
records and statuses the controllers already hold, so every controller says it the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["condition_changes", "replica_change"]


def replica_change(
    kind: str,
    namespace: str,
    name: str,
    target: str,
    current: int,
    desired: int,
    *,
    rule: str,
    bound_by: str | None = None,
    summary: str = "",
    dry_run: bool = False,
    error: str | None = None,
) -> str:
    """``ScaledObject shop/web: scaled apps/v1.Deployment shop/web 2 -> 4 replicas (rule hpa,
    bound by ScaleUpPolicy): why``; "would scale" under *dry_run*, and "could not scale …:
    error" when the write failed."""
    verb = "could not scale" if error else "would scale" if dry_run else "scaled"
    binding = f"rule {rule}" + (f", bound by {bound_by}" if bound_by else "")
    line = f"{kind} {namespace}/{name}: {verb} {target} {current} -> {desired} replicas ({binding})"
    detail = error or summary
    return f"{line}: {detail}" if detail else line


def _by_type(conditions: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(conditions, Sequence):
        return {}
    return {str(c["type"]): c for c in conditions if isinstance(c, Mapping) and c.get("type")}


def condition_changes(
    kind: str,
    namespace: str,
    name: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> list[str]:
    """One line per condition of *after* whose status or reason differs from *before*'s
    (statuses as the API holds them): ``ScaledObject shop/web: condition Ready Unknown ->
    True (ScaledObjectReady)``, with the message when there is one. A condition that was
    absent counts as Unknown, so a new object's first status reports what it found out, not
    the Unknowns it starts with."""
    previous_conditions = (before or {}).get("conditions")
    conditions = (after or {}).get("conditions")
    if conditions == previous_conditions:  # every poll of a steady object: nothing to say
        return []
    old = _by_type(previous_conditions)
    lines = []
    for type_, condition in _by_type(conditions).items():
        previous = old.get(type_) or {}
        was = str(previous.get("status") or "Unknown")
        now = str(condition.get("status") or "Unknown")
        reason = str(condition.get("reason") or "")
        if was == now and str(previous.get("reason") or "") == reason:
            continue
        line = f"{kind} {namespace}/{name}: condition {type_} {was} -> {now}"
        message = str(condition.get("message") or "")
        if reason or message:
            line += f" ({reason}{': ' if reason and message else ''}{message})"
        lines.append(line)
    return lines
