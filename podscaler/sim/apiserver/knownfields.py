"""The fields kube-apiserver's typed decoding knows below the top level of built-in kinds.

``fieldValidation`` (``requestoptions.py``) reports, and drops or refuses, the fields a typed
Go struct would not decode. This module holds the nested structs the embedded server knows
field by field: the workload specs, the pod template and the pod spec with its containers,
as of Kubernetes 1.32. A struct not described here (volumes, probes, affinity, ...) is taken
as sent: an unknown field inside it is kept, never dropped, because dropping a real field
the table forgot would be worse than keeping a misspelt one.

A shape is a mapping of field name to the shape of its value: ``None`` (not described: any
value), another shape (an object), or a one-element tuple holding a shape (a list of such
objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeAlias, Union

Shape: TypeAlias = Mapping[str, Union["Shape", tuple["Shape"], None]]


def _leaves(*names: str) -> dict[str, None]:
    return dict.fromkeys(names)


CONTAINER: Final[Shape] = _leaves(
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
)

POD_SPEC: Final[Shape] = {
    **_leaves(
        "volumes",
        "ephemeralContainers",
        "restartPolicy",
        "terminationGracePeriodSeconds",
        "activeDeadlineSeconds",
        "dnsPolicy",
        "nodeSelector",
        "serviceAccountName",
        "serviceAccount",
        "automountServiceAccountToken",
        "nodeName",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "shareProcessNamespace",
        "securityContext",
        "imagePullSecrets",
        "hostname",
        "subdomain",
        "affinity",
        "schedulerName",
        "tolerations",
        "hostAliases",
        "priorityClassName",
        "priority",
        "dnsConfig",
        "readinessGates",
        "runtimeClassName",
        "enableServiceLinks",
        "preemptionPolicy",
        "overhead",
        "topologySpreadConstraints",
        "setHostnameAsFQDN",
        "os",
        "hostUsers",
        "schedulingGates",
        "resourceClaims",
        "resources",
    ),
    "containers": (CONTAINER,),
    "initContainers": (CONTAINER,),
}

POD_TEMPLATE: Final[Shape] = {"metadata": None, "spec": POD_SPEC}

DEPLOYMENT_SPEC: Final[Shape] = {
    **_leaves(
        "replicas",
        "selector",
        "strategy",
        "minReadySeconds",
        "revisionHistoryLimit",
        "paused",
        "progressDeadlineSeconds",
    ),
    "template": POD_TEMPLATE,
}

REPLICA_SET_SPEC: Final[Shape] = {
    **_leaves("replicas", "minReadySeconds", "selector"),
    "template": POD_TEMPLATE,
}

DAEMON_SET_SPEC: Final[Shape] = {
    **_leaves("selector", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"),
    "template": POD_TEMPLATE,
}

STATEFUL_SET_SPEC: Final[Shape] = {
    **_leaves(
        "replicas",
        "selector",
        "volumeClaimTemplates",
        "serviceName",
        "podManagementPolicy",
        "updateStrategy",
        "revisionHistoryLimit",
        "minReadySeconds",
        "persistentVolumeClaimRetentionPolicy",
        "ordinals",
    ),
    "template": POD_TEMPLATE,
}

JOB_SPEC: Final[Shape] = {
    **_leaves(
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "podFailurePolicy",
        "successPolicy",
        "backoffLimit",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
        "selector",
        "manualSelector",
        "ttlSecondsAfterFinished",
        "completionMode",
        "suspend",
        "podReplacementPolicy",
        "managedBy",
    ),
    "template": POD_TEMPLATE,
}

#: (group, kind) → the shape of its ``spec``.
SPECS: Final[Mapping[tuple[str, str], Shape]] = {
    ("", "Pod"): POD_SPEC,
    ("apps", "Deployment"): DEPLOYMENT_SPEC,
    ("apps", "ReplicaSet"): REPLICA_SET_SPEC,
    ("apps", "DaemonSet"): DAEMON_SET_SPEC,
    ("apps", "StatefulSet"): STATEFUL_SET_SPEC,
    ("batch", "Job"): JOB_SPEC,
}


def unknown(value: Any, shape: Shape, path: str) -> list[tuple[str, dict[str, Any], str]]:
    """The fields of ``value`` (at ``path``) its shape does not know, nested ones included:
    ``(path of the field, the object holding it, its key)``, in the order found."""
    found: list[tuple[str, dict[str, Any], str]] = []
    if not isinstance(value, dict):
        return found
    for key, item in value.items():
        where = f"{path}.{key}"
        if key not in shape:
            found.append((where, value, key))
            continue
        inner = shape[key]
        if isinstance(inner, tuple):
            if isinstance(item, list):
                for i, element in enumerate(item):
                    found.extend(unknown(element, inner[0], f"{where}[{i}]"))
        elif inner is not None:
            found.extend(unknown(item, inner, where))
    return found
