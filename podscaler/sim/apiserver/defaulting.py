"""Built-in defaulting: the fields kube-apiserver fills in when a request leaves them out.

Upstream applies each kind's ``SetDefaults_*`` functions whenever it decodes a request body
(create, update, patch), and a few registry strategies add more on create (a Job's generated
selector, a Service's cluster IP, a Namespace's name label). Clients read these fields back —
``/scale`` of a Deployment sent without ``replicas`` says 1, ``kubectl get svc`` shows a
CLUSTER-IP — so the embedded server fills them in the same way, from :data:`DEFAULTS`, one table
in one place.

Each table row is ``(path, value)``: the dotted path of a field inside the object (``[]`` steps
into every item of a list, ``@pod`` into the pod spec defaults below) and the value it gets when
absent. Values that depend on the object (an image's pull policy, a Service port's target port)
are functions of the enclosing dict. Defaults are applied outside-in, so a row's parent exists
when its own row runs (a Deployment's ``strategy`` before ``strategy.rollingUpdate``).

Deliberately not modelled (admission plugins, not defaulting; documented so nobody relies on
them): the ``DefaultTolerationSeconds`` tolerations, the ServiceAccount plugin's
``serviceAccountName`` and token volume, and ``Priority``'s ``priority``/``preemptionPolicy``.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from typing import Any, Final

from podscaler.sim.apiserver.resources import ResourceType

Obj = dict[str, Any]
#: A default that depends on the dict it goes into (the container, the port, ...).
Computed = Callable[[Obj], Any]
Row = tuple[str, Any]


class _Absent:
    """A computed default that has nothing to add leaves the field absent."""


ABSENT: Final = _Absent()


def _pull_policy(container: Obj) -> str:
    """``Always`` for ``:latest`` or an untagged image, ``IfNotPresent`` for any other tag."""
    image = str(container.get("image") or "")
    if "@" in image:
        return "IfNotPresent"
    name = image.rsplit("/", 1)[-1]
    if ":" not in name or name.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _target_port(port: Obj) -> Any:
    return port.get("port", ABSENT)


def _rolling_update(kind_default: Obj) -> Computed:
    def default(strategy: Obj) -> Any:
        if strategy.get("type") == "RollingUpdate":
            return copy.deepcopy(kind_default)
        return ABSENT

    return default


def _completions(spec: Obj) -> Any:
    """A Job with neither completions nor parallelism runs one pod to completion."""
    return 1 if "parallelism" not in spec else ABSENT


def _external_policy(spec: Obj) -> Any:
    return "Cluster" if spec.get("type") in ("NodePort", "LoadBalancer") else ABSENT


def _allocate_lb_node_ports(spec: Obj) -> Any:
    return True if spec.get("type") == "LoadBalancer" else ABSENT


def _hpa_metrics(spec: Obj) -> Any:
    """An HPA without metrics scales on CPU at 80 % utilization."""
    return [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]


#: HPA ``behavior`` rules, filled in field by field only when ``behavior`` is given (a nil
#: ``scaleDown.stabilizationWindowSeconds`` stays nil: the controller's flag decides it).
_SCALE_UP: Final[Obj] = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN: Final[Obj] = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _rules(prefix: str, defaults: Obj) -> tuple[Row, ...]:
    return ((prefix, defaults), *((f"{prefix}.{k}", v) for k, v in defaults.items()))


#: Rows for every container (``containers``, ``initContainers``).
_CONTAINER: Final[tuple[Row, ...]] = (
    ("terminationMessagePath", "/dev/termination-log"),
    ("terminationMessagePolicy", "File"),
    ("imagePullPolicy", _pull_policy),
    ("ports[].protocol", "TCP"),
)

#: Rows for a pod spec (a Pod's ``spec``, any template's ``spec.template.spec``).
POD_SPEC: Final[tuple[Row, ...]] = (
    ("restartPolicy", "Always"),
    ("dnsPolicy", "ClusterFirst"),
    ("terminationGracePeriodSeconds", 30),
    ("schedulerName", "default-scheduler"),
    ("securityContext", {}),
    *((f"containers[].{p}", v) for p, v in _CONTAINER),
    *((f"initContainers[].{p}", v) for p, v in _CONTAINER),
)

_TEMPLATE: Final = ("spec.template.spec", "@pod")

#: (group, kind) → rows. A row value ``"@pod"`` applies :data:`POD_SPEC` at that path.
DEFAULTS: Final[dict[tuple[str, str], tuple[Row, ...]]] = {
    ("", "Pod"): (("spec", "@pod"), ("spec.enableServiceLinks", True)),
    ("", "ReplicationController"): (("spec.replicas", 1), _TEMPLATE),
    ("", "Secret"): (("type", "Opaque"),),
    ("", "Service"): (
        ("spec.type", "ClusterIP"),
        ("spec.sessionAffinity", "None"),
        ("spec.ports[].protocol", "TCP"),
        ("spec.ports[].targetPort", _target_port),
        ("spec.internalTrafficPolicy", "Cluster"),
        ("spec.externalTrafficPolicy", _external_policy),
        ("spec.allocateLoadBalancerNodePorts", _allocate_lb_node_ports),
    ),
    ("", "PersistentVolumeClaim"): (("spec.volumeMode", "Filesystem"),),
    ("apps", "Deployment"): (
        ("spec.replicas", 1),
        ("spec.strategy", {}),
        ("spec.strategy.type", "RollingUpdate"),
        (
            "spec.strategy.rollingUpdate",
            _rolling_update({"maxUnavailable": "25%", "maxSurge": "25%"}),
        ),
        ("spec.strategy.rollingUpdate.maxUnavailable", "25%"),
        ("spec.strategy.rollingUpdate.maxSurge", "25%"),
        ("spec.revisionHistoryLimit", 10),
        ("spec.progressDeadlineSeconds", 600),
        _TEMPLATE,
    ),
    ("apps", "ReplicaSet"): (("spec.replicas", 1), _TEMPLATE),
    ("apps", "StatefulSet"): (
        ("spec.replicas", 1),
        ("spec.podManagementPolicy", "OrderedReady"),
        ("spec.updateStrategy", {}),
        ("spec.updateStrategy.type", "RollingUpdate"),
        ("spec.updateStrategy.rollingUpdate", _rolling_update({"partition": 0})),
        ("spec.revisionHistoryLimit", 10),
        (
            "spec.persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
        ),
        _TEMPLATE,
    ),
    ("apps", "DaemonSet"): (
        ("spec.updateStrategy", {}),
        ("spec.updateStrategy.type", "RollingUpdate"),
        (
            "spec.updateStrategy.rollingUpdate",
            _rolling_update({"maxUnavailable": 1, "maxSurge": 0}),
        ),
        ("spec.revisionHistoryLimit", 10),
        _TEMPLATE,
    ),
    ("batch", "Job"): (
        ("spec.completions", _completions),
        ("spec.parallelism", 1),
        ("spec.backoffLimit", 6),
        ("spec.completionMode", "NonIndexed"),
        ("spec.suspend", False),
        ("spec.podReplacementPolicy", "TerminatingOrFailed"),
        _TEMPLATE,
    ),
    ("batch", "CronJob"): (
        ("spec.concurrencyPolicy", "Allow"),
        ("spec.suspend", False),
        ("spec.successfulJobsHistoryLimit", 3),
        ("spec.failedJobsHistoryLimit", 1),
        ("spec.jobTemplate.spec.template.spec", "@pod"),
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        ("spec.minReplicas", 1),
        ("spec.metrics", _hpa_metrics),
        *_rules("spec.behavior.scaleUp", _SCALE_UP),
        *_rules("spec.behavior.scaleDown", _SCALE_DOWN),
    ),
}


#: Built-in kinds that have no ``metadata.generation`` upstream (their strategies never set
#: it): nothing observes their spec with an ``observedGeneration``.
WITHOUT_GENERATION: Final = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Pod"),
        ("", "Namespace"),
        ("", "Service"),
        ("", "ServiceAccount"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "Node"),
        ("", "PersistentVolumeClaim"),
        ("events.k8s.io", "Event"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    }
)


def has_generation(rt: ResourceType) -> bool:
    return rt.custom or (rt.group, rt.kind) not in WITHOUT_GENERATION


def _dicts_at(obj: Obj, steps: list[str]) -> Iterator[Obj]:
    """The dicts found at ``steps`` below ``obj`` (``name[]`` fans out over a list)."""
    if not steps:
        yield obj
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        items = obj.get(step[:-2])
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield from _dicts_at(item, rest)
        return
    child = obj.get(step)
    if isinstance(child, dict):
        yield from _dicts_at(child, rest)


def _apply(obj: Obj, rows: tuple[Row, ...]) -> None:
    for path, value in rows:
        *parents, leaf = path.split(".")
        if value == "@pod":
            for spec in _dicts_at(obj, [*parents, leaf]):
                _apply(spec, POD_SPEC)
            continue
        for parent in _dicts_at(obj, parents):
            if leaf in parent:
                continue
            filled = value(parent) if callable(value) else value
            if isinstance(filled, _Absent):
                continue
            parent[leaf] = copy.deepcopy(filled) if isinstance(filled, (dict, list)) else filled


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Fill in, in place, what kube-apiserver's defaulting fills in for a request body."""
    if rt.custom:
        return
    if (rt.group, rt.version, rt.kind) == ("autoscaling", "v1", "HorizontalPodAutoscaler"):
        # v1 defaults only minReplicas; v2's defaults apply once converted (views.py).
        _apply(obj, (("spec.minReplicas", 1),))
        return
    rows = DEFAULTS.get((rt.group, rt.kind))
    if rows is not None:
        _apply(obj, rows)
    if not rt.group and rt.kind == "Secret":
        _merge_string_data(obj)
    if not rt.group and rt.kind == "Pod":
        _requests_from_limits(obj)
    if rt.group == "autoscaling" and rt.kind == "HorizontalPodAutoscaler":
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("metrics") == []:
            spec["metrics"] = _hpa_metrics(spec)


def _merge_string_data(secret: Obj) -> None:
    """``stringData`` is write-only: merged into base64 ``data`` (it wins on a clash)."""
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = secret.get("data")
    if not isinstance(data, dict):
        data = secret["data"] = {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


def _requests_from_limits(pod: Obj) -> None:
    """A Pod's container with a limit but no request for a resource requests its limit."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            resources = container.get("resources")
            if not isinstance(resources, dict):
                continue
            limits = resources.get("limits")
            if not isinstance(limits, dict) or not limits:
                continue
            requests = resources.get("requests")
            if not isinstance(requests, dict):
                requests = resources["requests"] = {}
            for name, quantity in limits.items():
                requests.setdefault(name, quantity)


def on_create(rt: ResourceType, obj: Obj, allocate_ip: Callable[[], str]) -> None:
    """Defaults registry strategies add on create, once the object has its name and uid.

    A Job without ``manualSelector`` gets a selector on its generated ``controller-uid``
    label, and its template those labels; a Namespace gets ``kubernetes.io/metadata.name``
    and the ``kubernetes`` finalizer in its spec; a Service without ``clusterIP`` gets one
    from ``allocate_ip`` (a headless ``None`` stays) and its single-stack IPv4 family fields.
    """
    if rt.custom:
        return
    meta = obj["metadata"]
    if rt.group == "batch" and rt.kind == "Job":
        _job_selector(obj, str(meta["uid"]), str(meta["name"]))
    elif not rt.group and rt.kind == "Namespace":
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = meta["name"]
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("finalizers", ["kubernetes"])
    elif not rt.group and rt.kind == "Service":
        _service_ips(obj, allocate_ip)


def _service_ips(service: Obj, allocate_ip: Callable[[], str]) -> None:
    spec = service.get("spec")
    if not isinstance(spec, dict) or spec.get("type") == "ExternalName":
        return
    if not spec.get("clusterIP"):
        spec["clusterIP"] = allocate_ip()
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def on_update(rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
    """A Namespace's name label cannot be removed or changed (upstream re-adds it); a Service
    sent without its cluster IP keeps the allocated one."""
    if rt.custom or rt.group:
        return
    if rt.kind == "Service" and old is not None:
        spec, old_spec = obj.get("spec"), old.get("spec")
        if isinstance(spec, dict) and isinstance(old_spec, dict) and not spec.get("clusterIP"):
            for field in ("clusterIP", "clusterIPs"):
                if field in old_spec:
                    spec[field] = copy.deepcopy(old_spec[field])
    if rt.kind == "Namespace":
        meta = obj.get("metadata")
        if isinstance(meta, dict) and meta.get("name"):
            labels = meta.get("labels")
            if not isinstance(labels, dict):
                labels = meta["labels"] = {}
            labels["kubernetes.io/metadata.name"] = meta["name"]


def _job_selector(job: Obj, uid: str, name: str) -> None:
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    if "selector" not in spec:
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = template["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    for key, value in generated.items():
        labels.setdefault(key, value)
