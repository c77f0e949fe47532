"""``podscaler explain proportionalscaler/NS/NAME``: what the scaler counted and what decided.

Read from the object's status (a kubeconfig is enough; ``podscaler.commands.explain`` reads
it): the node and core counts, the mode and where its parameters came from, the formula terms or
ladder steps, the replicas, and the conditions with their reasons (a refused ConfigMap says so
there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from podscaler.api.meta import DEFAULT_TARGET_KIND

__all__ = ["render_explanation"]


def render_explanation(obj: Mapping[str, Any]) -> str:
    """The text ``podscaler explain`` prints for a ProportionalScaler object."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    target = spec.get("scaleTargetRef") or {}
    lines = [
        f"ProportionalScaler {meta.get('namespace')}/{meta.get('name')} -> "
        f"{target.get('kind') or DEFAULT_TARGET_KIND} {target.get('name')}"
    ]
    if status.get("mode"):
        lines.append(f"mode: {status['mode']} (parameters from {status.get('parametersSource')})")
    if "totalNodes" in status:
        lines.append(
            f"nodes: {status.get('schedulableNodes')} schedulable of {status.get('totalNodes')}; "
            f"cores: {status.get('schedulableCores')} schedulable of {status.get('totalCores')}"
        )
    if spec.get("nodeSelector"):
        lines.append(f"counting only nodes matching {json.dumps(spec['nodeSelector'])}")
    decision = status.get("lastDecision") or {}
    if decision:
        lines.append(f"decided: {decision.get('replicas')} replicas by {decision.get('rule')}")
        lines.extend(f"  {line}" for line in decision.get("formula") or ())
        lines.append(f"  {decision.get('summary')}")
    else:
        lines.append("no decision yet")
    for condition in status.get("conditions") or ():
        lines.append(
            f"{condition.get('type')}={condition.get('status')} ({condition.get('reason')}): "
            f"{condition.get('message')}"
        )
    return "\n".join(lines)
