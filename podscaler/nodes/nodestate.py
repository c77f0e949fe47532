"""A node as the scheduling predicates see it (:class:`NodeState`), and the values it is
made of: resource amounts, taints, tolerations, host ports, read once from API dicts.

The predicates run for every (pod, node) pair, and the node autoscaler's binpacking runs them
again for every pod against every template node it adds. Parsing quantities, tolerations and
selectors out of plain API dicts each time would dominate that cost, so a node (plus the pods
already on it) is read into a :class:`NodeState` once, a pod into
:class:`~podscaler.nodes.predicates.PodRequirements` once, and the predicates only compare.

Inputs are plain Kubernetes object dicts as the API serves them (``metadata``, ``spec``,
``status``, camelCase fields). Nothing here does I/O or reads a clock.

How a pod's effective request is computed follows kube-scheduler's ``NodeResourcesFit``:

* app containers are summed;
* init containers run one at a time, so the pod needs the largest of them — plus every
  restartable init container ("sidecar", ``restartPolicy: Always``) started before it, since
  sidecars keep running; sidecars are also added to the app containers' sum;
* the effective request is the per-resource maximum of the two, plus ``spec.overhead``;
* a container with a limit but no request requests its limit (the API server's defaulting,
  applied here too because the embedded API server may store pods undefaulted).

Simplifications versus Kubernetes, deliberate:

* pod-level ``spec.resources`` (alpha in 1.32) and in-place resize status are ignored;
* terminal pods (``Succeeded``/``Failed``) do not occupy a node, as the scheduler's informer
  filters them out; terminating pods still do, as upstream;
* quantities are rounded up to whole millicores (cpu) or whole units (everything else), as
  ``MilliValue()``/``Value()`` do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.api.quantities import QuantityError, parse_quantity

__all__ = [
    "DEFAULT_CPU_REQUEST_MILLICORES",
    "DEFAULT_MEMORY_REQUEST_BYTES",
    "HostPort",
    "NodeState",
    "PodSpecError",
    "Resources",
    "Taint",
    "Toleration",
    "effective_taints",
    "is_terminal",
    "node_allocatable",
    "node_capacity",
    "node_name",
    "nonzero_requests",
    "pod_host_ports",
    "pod_key",
    "pod_requests",
    "pod_tolerations",
    "tolerates",
]

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"

#: What scoring assumes for a container that sets no cpu request (kube-scheduler's
#: ``DefaultMilliCPURequest``): a pod without requests still takes *some* room when spreading.
DEFAULT_CPU_REQUEST_MILLICORES: Final = 100
#: Likewise for memory (``DefaultMemoryRequest``, 200 MiB).
DEFAULT_MEMORY_REQUEST_BYTES: Final = 200 * 1024 * 1024

TAINT_NOT_READY: Final = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE: Final = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE: Final = "node.kubernetes.io/unschedulable"


class PodSpecError(ValueError):
    """A pod or node dict the predicates cannot read (a bad quantity, a field of the wrong
    type). The message names the object and the field; the API server should have rejected
    the object, so the caller reports it on the pod rather than crashing its loop."""


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of node resources in the units kube-scheduler compares in.

    ``extended`` holds every other resource (``nvidia.com/gpu``, ``hugepages-2Mi``, ...) as
    sorted ``(name, whole units)`` pairs so the value stays hashable.
    """

    cpu_millicores: int = 0
    memory_bytes: int = 0
    ephemeral_storage_bytes: int = 0
    extended: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, int]) -> Resources:
        """From ``{resource name: amount}`` with cpu in millicores, the rest in whole units."""
        return cls(
            cpu_millicores=amounts.get(CPU, 0),
            memory_bytes=amounts.get(MEMORY, 0),
            ephemeral_storage_bytes=amounts.get(EPHEMERAL_STORAGE, 0),
            extended=tuple(
                sorted(
                    (name, amount)
                    for name, amount in amounts.items()
                    if name not in (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)
                )
            ),
        )

    def amounts(self) -> dict[str, int]:
        """The inverse of :meth:`from_amounts` (zero amounts included for the big three)."""
        return {
            CPU: self.cpu_millicores,
            MEMORY: self.memory_bytes,
            EPHEMERAL_STORAGE: self.ephemeral_storage_bytes,
            **dict(self.extended),
        }

    def __add__(self, other: Resources) -> Resources:
        if not self.extended and not other.extended:
            return Resources(
                self.cpu_millicores + other.cpu_millicores,
                self.memory_bytes + other.memory_bytes,
                self.ephemeral_storage_bytes + other.ephemeral_storage_bytes,
            )
        merged = self.amounts()
        for name, amount in other.amounts().items():
            merged[name] = merged.get(name, 0) + amount
        return Resources.from_amounts(merged)

    def extended_amount(self, name: str) -> int:
        return dict(self.extended).get(name, 0)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    """A pod toleration; empty ``key`` with ``Exists`` tolerates every taint, empty ``effect``
    matches every effect, and ``operator`` defaults to ``Equal`` as the API does."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return False  # an operator this version does not know tolerates nothing


def tolerates(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


@dataclass(frozen=True, slots=True)
class HostPort:
    """One ``hostPort`` a container binds; ``0.0.0.0`` means every address of the node."""

    port: int
    protocol: str = "TCP"
    host_ip: str = "0.0.0.0"

    def conflicts_with(self, other: HostPort) -> bool:
        if self.port != other.port or self.protocol != other.protocol:
            return False
        wildcard = "0.0.0.0"
        return self.host_ip == other.host_ip or wildcard in (self.host_ip, other.host_ip)


# --- reading dicts -----------------------------------------------------------------------------


def _mapping(obj: Any, where: str, owner: str) -> Mapping[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise PodSpecError(f"{owner}: {where} must be an object, not {type(obj).__name__}")
    return obj


def _sequence(obj: Any, where: str, owner: str) -> Sequence[Any]:
    if obj is None:
        return ()
    if not isinstance(obj, list | tuple):
        raise PodSpecError(f"{owner}: {where} must be a list, not {type(obj).__name__}")
    return obj


def _str(obj: Any, where: str, owner: str) -> str:
    if obj is None:
        return ""
    if not isinstance(obj, str):
        raise PodSpecError(f"{owner}: {where} must be a string, not {type(obj).__name__}")
    return obj


def pod_key(pod: Mapping[str, Any]) -> str:
    """``namespace/name``, the way errors and messages name a pod."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"


def node_name(node: Mapping[str, Any]) -> str:
    meta = node.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


def is_terminal(pod: Mapping[str, Any]) -> bool:
    """Succeeded and Failed pods hold no node resources (the scheduler does not watch them)."""
    status = pod.get("status") or {}
    return isinstance(status, Mapping) and status.get("phase") in ("Succeeded", "Failed")


#: (is cpu, quantity text) → amount. A cluster spells its requests with a few dozen strings
#: ("100m", "512Mi"), and parsing one is ~20 µs of Decimal arithmetic; bounded so a stream of
#: distinct spellings cannot grow it without end.
_AMOUNTS: dict[tuple[bool, str], int] = {}
_AMOUNTS_MAX: Final = 4096


def _amount(name: str, raw: Any, where: str, owner: str) -> int:
    key = (name == CPU, raw) if isinstance(raw, str) else None
    if key is not None:
        cached = _AMOUNTS.get(key)
        if cached is not None:
            return cached
    try:
        quantity = parse_quantity(raw)
    except (QuantityError, TypeError) as exc:
        raise PodSpecError(f"{owner}: {where}.{name}: {exc}") from exc
    amount = quantity.milli_value() if name == CPU else quantity.int_value()
    if key is not None and len(_AMOUNTS) < _AMOUNTS_MAX:
        _AMOUNTS[key] = amount
    return amount


def _resource_list(obj: Any, where: str, owner: str) -> dict[str, int]:
    return {
        str(name): _amount(str(name), raw, where, owner)
        for name, raw in _mapping(obj, where, owner).items()
    }


def _container_requests(container: Any, where: str, owner: str) -> dict[str, int]:
    """A container's requests, with limits standing in for absent requests (API defaulting)."""
    resources = _mapping(_mapping(container, where, owner).get("resources"), where, owner)
    requests = _resource_list(resources.get("requests"), f"{where}.resources.requests", owner)
    limits = _resource_list(resources.get("limits"), f"{where}.resources.limits", owner)
    for name, amount in limits.items():
        requests.setdefault(name, amount)
    return requests


def _add_into(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + amount


def _max_into(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        total[name] = max(total.get(name, 0), amount)


def _effective_requests(pod: Mapping[str, Any], *, nonzero: bool) -> dict[str, int]:
    owner = pod_key(pod)
    spec = _mapping(pod.get("spec"), "spec", owner)

    def requests_of(container: Any, where: str) -> dict[str, int]:
        requests = _container_requests(container, where, owner)
        if nonzero:
            requests.setdefault(CPU, DEFAULT_CPU_REQUEST_MILLICORES)
            requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST_BYTES)
        return requests

    total: dict[str, int] = {}
    for index, container in enumerate(_sequence(spec.get("containers"), "containers", owner)):
        _add_into(total, requests_of(container, f"spec.containers[{index}]"))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    init_containers = _sequence(spec.get("initContainers"), "initContainers", owner)
    for index, container in enumerate(init_containers):
        requests = requests_of(container, f"spec.initContainers[{index}]")
        if _mapping(container, "initContainer", owner).get("restartPolicy") == "Always":
            _add_into(total, requests)
            _add_into(sidecars, requests)
            _max_into(init_peak, sidecars)
        else:
            starting = dict(sidecars)
            _add_into(starting, requests)
            _max_into(init_peak, starting)
    _max_into(total, init_peak)
    _add_into(total, _resource_list(spec.get("overhead"), "spec.overhead", owner))
    total.pop(PODS, None)
    return total


def pod_requests(pod: Mapping[str, Any]) -> Resources:
    """The pod's effective request as ``NodeResourcesFit`` filters on it (see module doc)."""
    return Resources.from_amounts(_effective_requests(pod, nonzero=False))


def nonzero_requests(pod: Mapping[str, Any]) -> Resources:
    """The request scoring uses: an unset cpu or memory request counts as the default
    (100m, 200 MiB) so request-less pods still spread; an explicit zero stays zero."""
    return Resources.from_amounts(_effective_requests(pod, nonzero=True))


def node_allocatable(node: Mapping[str, Any]) -> tuple[Resources, int]:
    """The node's allocatable resources and how many pods it may hold.

    Falls back to ``status.capacity`` when ``allocatable`` is missing (a kubelet always sets
    both; hand-written sim nodes and autoscaler templates may not). A node that declares no
    ``pods`` count gets 110, the kubelet's default ``--max-pods``.
    """
    owner = f"node {node_name(node)}"
    status = _mapping(node.get("status"), "status", owner)
    raw = status.get("allocatable")
    if raw is None:
        raw = status.get("capacity")
    amounts = _resource_list(raw, "status.allocatable", owner)
    allowed_pods = amounts.pop(PODS, 110)
    return Resources.from_amounts(amounts), allowed_pods


def node_capacity(node: Mapping[str, Any]) -> dict[str, int]:
    """The node's ``status.capacity`` (``allocatable`` when absent) in comparison units: only
    the resources it lists, ``pods`` included when listed."""
    owner = f"node {node_name(node)}"
    status = _mapping(node.get("status"), "status", owner)
    raw = status.get("capacity")
    if raw is None:
        raw = status.get("allocatable")
    return _resource_list(raw, "status.capacity", owner)


def _taint(raw: Any, where: str, owner: str) -> Taint:
    obj = _mapping(raw, where, owner)
    return Taint(
        key=_str(obj.get("key"), f"{where}.key", owner),
        value=_str(obj.get("value"), f"{where}.value", owner),
        effect=_str(obj.get("effect"), f"{where}.effect", owner),
    )


def _ready_status(node: Mapping[str, Any]) -> str | None:
    status = node.get("status") or {}
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for condition in conditions if isinstance(conditions, list) else ():
        if isinstance(condition, Mapping) and condition.get("type") == "Ready":
            value = condition.get("status")
            return value if isinstance(value, str) else None
    return None


def effective_taints(node: Mapping[str, Any]) -> tuple[Taint, ...]:
    """The node's taints plus the ones Kubernetes' node lifecycle controller would add.

    In a real cluster a node whose ``Ready`` condition is ``False`` gets
    ``node.kubernetes.io/not-ready:NoSchedule`` and one whose ``Ready`` is ``Unknown`` gets
    ``node.kubernetes.io/unreachable:NoSchedule``, and that taint — not a readiness check — is
    what keeps pods off it. The embedded cluster has no lifecycle controller, so the taint is
    implied here, after the node's own taints, unless the node already carries it. A node with
    no ``Ready`` condition at all (an autoscaler template) is taken as ready.
    """
    owner = f"node {node_name(node)}"
    spec = _mapping(node.get("spec"), "spec", owner)
    taints = [
        _taint(raw, f"spec.taints[{i}]", owner)
        for i, raw in enumerate(_sequence(spec.get("taints"), "spec.taints", owner))
    ]
    ready = _ready_status(node)
    implied = {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE}.get(ready or "True")
    if implied and not any(t.key == implied and t.effect == "NoSchedule" for t in taints):
        taints.append(Taint(implied, "", "NoSchedule"))
    return tuple(taints)


def pod_tolerations(pod: Mapping[str, Any]) -> tuple[Toleration, ...]:
    owner = pod_key(pod)
    spec = _mapping(pod.get("spec"), "spec", owner)
    found = []
    for index, raw in enumerate(_sequence(spec.get("tolerations"), "spec.tolerations", owner)):
        where = f"spec.tolerations[{index}]"
        obj = _mapping(raw, where, owner)
        found.append(
            Toleration(
                key=_str(obj.get("key"), f"{where}.key", owner),
                operator=_str(obj.get("operator"), f"{where}.operator", owner) or "Equal",
                value=_str(obj.get("value"), f"{where}.value", owner),
                effect=_str(obj.get("effect"), f"{where}.effect", owner),
            )
        )
    return tuple(found)


def pod_host_ports(pod: Mapping[str, Any]) -> tuple[HostPort, ...]:
    owner = pod_key(pod)
    spec = _mapping(pod.get("spec"), "spec", owner)
    found: list[HostPort] = []
    for field_name in ("initContainers", "containers"):
        for ci, container in enumerate(_sequence(spec.get(field_name), field_name, owner)):
            ports = _mapping(container, field_name, owner).get("ports")
            for pi, raw in enumerate(_sequence(ports, f"spec.{field_name}[{ci}].ports", owner)):
                obj = _mapping(raw, f"spec.{field_name}[{ci}].ports[{pi}]", owner)
                port = obj.get("hostPort")
                if isinstance(port, int) and not isinstance(port, bool) and port > 0:
                    found.append(
                        HostPort(
                            port=port,
                            protocol=str(obj.get("protocol") or "TCP"),
                            host_ip=str(obj.get("hostIP") or "0.0.0.0"),
                        )
                    )
    return tuple(found)


@dataclass(frozen=True)
class NodeState:
    """A node as the predicates see it: its labels, taints, allocatable resources and what
    the (non-terminal) pods already on it request.

    Build it once per node with :meth:`build` and derive the next state with
    :meth:`with_pod` when placing pods one after another (the sim scheduler in one pass,
    the autoscaler's binpacking).
    """

    node: Mapping[str, Any]
    name: str
    labels: Mapping[str, str]
    unschedulable: bool
    taints: tuple[Taint, ...]
    allocatable: Resources
    allowed_pods: int
    requested: Resources
    nonzero_requested: Resources
    pods: tuple[Mapping[str, Any], ...]
    host_ports: tuple[HostPort, ...] = field(default=())

    @classmethod
    def build(cls, node: Mapping[str, Any], pods: Iterable[Mapping[str, Any]] = ()) -> NodeState:
        if not isinstance(node, Mapping):
            raise PodSpecError(f"a node must be an object, not {type(node).__name__}")
        name = node_name(node)
        owner = f"node {name}"
        meta = _mapping(node.get("metadata"), "metadata", owner)
        labels = {str(k): str(v) for k, v in _mapping(meta.get("labels"), "labels", owner).items()}
        spec = _mapping(node.get("spec"), "spec", owner)
        allocatable, allowed_pods = node_allocatable(node)
        state = cls(
            node=node,
            name=name,
            labels=labels,
            unschedulable=spec.get("unschedulable") is True,
            taints=effective_taints(node),
            allocatable=allocatable,
            allowed_pods=allowed_pods,
            requested=Resources(),
            nonzero_requested=Resources(),
            pods=(),
        )
        for pod in pods:
            state = state.with_pod(pod)
        return state

    def with_parsed_pods(
        self,
        items: Iterable[tuple[Mapping[str, Any], Resources, Resources, tuple[HostPort, ...]]],
    ) -> NodeState:
        """This node with many already-read pods placed at once (one new state, not one per
        pod): ``items`` are (pod, requests, nonzero requests, host ports); terminal pods are
        the caller's to leave out."""
        pods = list(self.pods)
        ports = list(self.host_ports)
        totals = [0] * 6
        extended: dict[str, int] = {}
        for pod, requests, nonzero, host_ports in items:
            pods.append(pod)
            if host_ports:
                ports.extend(host_ports)
            totals[0] += requests.cpu_millicores
            totals[1] += requests.memory_bytes
            totals[2] += requests.ephemeral_storage_bytes
            totals[3] += nonzero.cpu_millicores
            totals[4] += nonzero.memory_bytes
            totals[5] += nonzero.ephemeral_storage_bytes
            for name, amount in requests.extended:
                extended[name] = extended.get(name, 0) + amount
        requested = self.requested + Resources(
            totals[0], totals[1], totals[2], tuple(sorted(extended.items()))
        )
        nonzero_requested = self.nonzero_requested + Resources(
            totals[3], totals[4], totals[5], tuple(sorted(extended.items()))
        )
        return NodeState(
            node=self.node,
            name=self.name,
            labels=self.labels,
            unschedulable=self.unschedulable,
            taints=self.taints,
            allocatable=self.allocatable,
            allowed_pods=self.allowed_pods,
            requested=requested,
            nonzero_requested=nonzero_requested,
            pods=tuple(pods),
            host_ports=tuple(ports),
        )

    def with_pod(self, pod: Mapping[str, Any]) -> NodeState:
        """This node with ``pod`` placed on it (terminal pods change nothing)."""
        if is_terminal(pod):
            return self
        return self.with_parsed(pod, pod_requests(pod), nonzero_requests(pod), pod_host_ports(pod))

    def with_parsed(
        self,
        pod: Mapping[str, Any],
        requests: Resources,
        nonzero: Resources,
        host_ports: tuple[HostPort, ...],
        count: int = 1,
    ) -> NodeState:
        """:meth:`with_pod` for a pod already read (binpacking places the same pod shape
        thousands of times); ``count`` places that many copies at once."""
        if count > 1:
            requests = Resources.from_amounts({k: v * count for k, v in requests.amounts().items()})
            nonzero = Resources.from_amounts({k: v * count for k, v in nonzero.amounts().items()})
            host_ports = host_ports * count
        return NodeState(
            node=self.node,
            name=self.name,
            labels=self.labels,
            unschedulable=self.unschedulable,
            taints=self.taints,
            allocatable=self.allocatable,
            allowed_pods=self.allowed_pods,
            requested=self.requested + requests,
            nonzero_requested=self.nonzero_requested + nonzero,
            pods=(*self.pods, *((pod,) * count)),
            host_ports=(*self.host_ports, *host_ports),
        )
