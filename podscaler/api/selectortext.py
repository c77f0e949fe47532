"""A ``metav1.LabelSelector`` as upstream's messages print it (Go's ``%+v`` of the pointer).

The HPA controller's rescale reasons and ValidMetricFound messages for External metrics carry
the metric's selector this way, e.g.
``&LabelSelector{MatchLabels:map[string]string{app: web,},MatchExpressions:[]...{},}``; both the
embedded HPA controller and podscaler's direct mode (which runs the same engine with the
selector the HPA would have had) write it, so Events read the same in both modes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["go_label_selector"]


def go_label_selector(selector: Mapping[str, Any] | None) -> str:
    """*selector* (``matchLabels`` / ``matchExpressions``) as Go prints it; ``""`` for none."""
    if selector is None:
        return ""
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
        f"Values:[{' '.join(str(v) for v in e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )
