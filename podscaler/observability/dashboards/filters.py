"""Variables and label filters the dashboards share.

The namespace label is a variable on every podscaler dashboard: Prometheus renames podscaler's
``namespace`` label to ``exported_namespace`` when the scrape adds its own (a ServiceMonitor or
``kubernetes_sd_configs`` without ``honor_labels``), and keeps it when the scrape honors
labels. ``exported_namespace`` is the default, as in KEDA's dashboard.
"""

from __future__ import annotations

from typing import Final

from podscaler.observability.dashboards.model import CustomVariable, QueryVariable, choice

#: ``$namespace_label=~"$namespace"``: the namespace filter of a per-object series.
IN_NAMESPACE: Final = '$namespace_label=~"$namespace"'


def namespace_label() -> CustomVariable:
    return choice(
        "namespace_label",
        "Namespace label",
        ("exported_namespace", "namespace"),
        "The label holding an object's namespace. Prometheus renames podscaler's namespace "
        "label to exported_namespace when the scrape adds its own (a ServiceMonitor or "
        "kubernetes_sd_configs without honorLabels); pick namespace when the scrape honors "
        "labels.",
    )


def namespaces(metric: str) -> QueryVariable:
    """The namespaces that have *metric*."""
    return QueryVariable("namespace", "Namespace", f"label_values({metric}, $namespace_label)")


def objects(name: str, label: str, metric: str, object_label: str) -> QueryVariable:
    """The objects (their *object_label*) of *metric* in the selected namespaces."""
    return QueryVariable(name, label, f"label_values({metric}{{{IN_NAMESPACE}}}, {object_label})")
