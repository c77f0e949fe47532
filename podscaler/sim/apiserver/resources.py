"""The table of kinds the embedded API server serves.

A real kube-apiserver learns its resources from compiled-in registries and from CRDs; here one
table holds both. Each :class:`ResourceType` carries what discovery, routing, the store and the
OpenAPI document need to know about a resource: its group/version, plural, kind, scope, short
names, categories, verbs and subresources, and (for ``/scale``) where replicas and the selector
live in the object.

Deliberate simplifications versus a real kube-apiserver:

* every resource is served at one version (the one listed here, or a CRD's storage
  version), except the two views of another resource's objects ``views.py`` converts
  (events.k8s.io/v1 Events, autoscaling/v1 HorizontalPodAutoscalers);
* PodMetrics and NodeMetrics (``metrics.k8s.io``) are listed here for discovery, but are served
  from the simulation's values (see ``metrics.py``), not from the object store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
READ_VERBS: tuple[str, ...] = ("get", "list")


@dataclass(frozen=True, slots=True)
class ScalePaths:
    """Where the ``/scale`` subresource finds replicas and the selector inside an object.

    Paths are dotted (``.spec.replicas``) as CRDs spell them. ``selector_is_structured`` is
    true for built-in workloads, whose ``spec.selector`` is a metav1 LabelSelector that the
    Scale object renders as a string; a CRD's ``labelSelectorPath`` points at a string already.
    """

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = ".spec.selector"
    selector_is_structured: bool = True


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource (a plural under a group/version)."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = ALL_VERBS
    scale: ScalePaths | None = None
    #: Served from a CustomResourceDefinition (no strategic merge patch, schema from the CRD).
    custom: bool = False
    #: A CRD's additionalPrinterColumns, used for server-side Table output.
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    #: A CRD's openAPIV3Schema for the served version.
    schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    #: Whether status sent on create is kept (nodes, namespaces and events keep it upstream;
    #: workloads and pods start from an empty status that controllers fill in).
    keep_status_on_create: bool = False
    #: Served as a view of another resource's objects, (group, resource) of the stored one:
    #: events.k8s.io/v1 Events are the core/v1 Events, autoscaling/v1 HPAs the v2 ones,
    #: converted (see ``views.py``).
    stored_as: tuple[str, str] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """The store bucket key: a resource is one bucket whatever version (or group, for a
        view) it is read at."""
        return self.stored_as or (self.group, self.resource)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` as used in error messages (``pods`` for the core group)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


def _t(
    group: str,
    version: str,
    resource: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    scale: ScalePaths | None = None,
    keep_status: bool = False,
    stored_as: tuple[str, str] | None = None,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        subresources=frozenset(sub),
        verbs=verbs,
        scale=scale,
        keep_status_on_create=keep_status,
        stored_as=stored_as,
    )


_WORKLOAD_SCALE = ScalePaths()

BUILTIN: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), sub=("status",)),
    _t(
        "",
        "v1",
        "pods",
        "Pod",
        short=("po",),
        categories=("all",),
        sub=("status", "binding", "eviction", "resize", "log"),
    ),
    _t(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        short=("no",),
        sub=("status",),
        keep_status=True,
    ),
    _t("", "v1", "services", "Service", short=("svc",), categories=("all",), sub=("status",)),
    _t("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _t("", "v1", "secrets", "Secret"),
    _t("", "v1", "events", "Event", short=("ev",), keep_status=True),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _t("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _t("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _t(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        categories=("all",),
        sub=("status", "scale"),
        scale=_WORKLOAD_SCALE,
    ),
    _t(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        categories=("all",),
        sub=("status", "scale"),
        scale=_WORKLOAD_SCALE,
    ),
    _t(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        categories=("all",),
        sub=("status", "scale"),
        scale=_WORKLOAD_SCALE,
    ),
    _t(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short=("ds",),
        categories=("all",),
        sub=("status",),
    ),
    _t("batch", "v1", "jobs", "Job", categories=("all",), sub=("status",)),
    _t("batch", "v1", "cronjobs", "CronJob", short=("cj",), categories=("all",), sub=("status",)),
    _t(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=("all",),
        sub=("status",),
    ),
    # After v2: the group's preferred version is the first one listed.
    _t(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=("all",),
        sub=("status",),
        stored_as=("autoscaling", "horizontalpodautoscalers"),
    ),
    _t(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        sub=("status",),
    ),
    _t("coordination.k8s.io", "v1", "leases", "Lease"),
    _t(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
    ),
    _t(
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        namespaced=False,
        short=("pc",),
    ),
    _t(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        short=("ev",),
        keep_status=True,
        stored_as=("", "events"),
    ),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
    ),
    _t(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        namespaced=False,
        sub=("status",),
        keep_status=True,
    ),
    # Delegated authentication and authorization: answered, never stored (see delegation.py).
    _t(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "TokenReview",
        namespaced=False,
        verbs=("create",),
    ),
    _t(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
    _t("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", verbs=READ_VERBS),
    _t("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", namespaced=False, verbs=READ_VERBS),
)

#: Resources served from the simulation's metric values rather than the store.
METRICS_GROUP = "metrics.k8s.io"


class ResourceTable:
    """Lookup of served resources by group/version/plural, with CRDs added and removed live."""

    def __init__(self, types: tuple[ResourceType, ...] = BUILTIN) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.resource)] = rt

    def remove(self, group: str, resource: str) -> None:
        for gvr in [k for k in self._by_gvr if k[0] == group and k[2] == resource]:
            del self._by_gvr[gvr]

    def get(self, group: str, version: str, resource: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, resource))

    def by_key(self, key: tuple[str, str]) -> ResourceType | None:
        for (group, _version, resource), rt in self._by_gvr.items():
            if (group, resource) == key:
                return rt
        return None

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        for rt in self._by_gvr.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_gvr.values()))

    def group_versions(self) -> dict[str, list[str]]:
        """Group name → served versions, the core group as ``""``, in a stable order."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]
