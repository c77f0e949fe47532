"""The resource types podscaler's controllers read and write, each declared once.

A controller names what it watches or writes with a :class:`~podscaler.kube.resources.Resource`
(group, version, plural, kind, scope); the same Node or ConfigMap type written in two
controllers is two places to get a plural wrong. Kubernetes' own types are here as the API
serves them; podscaler's (group ``autoscaling.podscaler.io``) as ``podscaler.api.crds``
declares them to the API server, which a unit test holds them to.
"""

from __future__ import annotations

from typing import Final

from podscaler.api.meta import API_GROUP, API_VERSION
from podscaler.kube.resources import Resource

__all__ = [
    "CLUSTER_TRIGGER_AUTHENTICATIONS",
    "CONFIGMAPS",
    "DAEMONSETS",
    "HPAS",
    "NODES",
    "OURS",
    "PDBS",
    "PODS",
    "PRIORITY_CLASSES",
    "PROPORTIONAL_SCALERS",
    "SCALED_JOBS",
    "SCALED_OBJECTS",
    "TRIGGER_AUTHENTICATIONS",
]

_STATUS: Final = frozenset({"status"})

# --- Kubernetes' own

NODES: Final = Resource("", "v1", "nodes", "Node", False)
PODS: Final = Resource("", "v1", "pods", "Pod", True)
CONFIGMAPS: Final = Resource("", "v1", "configmaps", "ConfigMap", True)
PDBS: Final = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True)
DAEMONSETS: Final = Resource("apps", "v1", "daemonsets", "DaemonSet", True)
PRIORITY_CLASSES: Final = Resource(
    "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False
)
HPAS: Final = Resource(
    "autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, _STATUS
)

# --- podscaler's

SCALED_OBJECTS: Final = Resource(
    API_GROUP, API_VERSION, "scaledobjects", "ScaledObject", True, _STATUS
)
SCALED_JOBS: Final = Resource(API_GROUP, API_VERSION, "scaledjobs", "ScaledJob", True, _STATUS)
TRIGGER_AUTHENTICATIONS: Final = Resource(
    API_GROUP, API_VERSION, "triggerauthentications", "TriggerAuthentication", True
)
CLUSTER_TRIGGER_AUTHENTICATIONS: Final = Resource(
    API_GROUP, API_VERSION, "clustertriggerauthentications", "ClusterTriggerAuthentication", False
)
PROPORTIONAL_SCALERS: Final = Resource(
    API_GROUP, API_VERSION, "proportionalscalers", "ProportionalScaler", True, _STATUS
)

#: podscaler's own types declared here (the test against ``api.crds`` walks these).
OURS: Final = (
    SCALED_OBJECTS,
    SCALED_JOBS,
    TRIGGER_AUTHENTICATIONS,
    CLUSTER_TRIGGER_AUTHENTICATIONS,
    PROPORTIONAL_SCALERS,
)
