"""The simulated cloud's node groups: the :class:`~podscaler.nodes.providers.base.NodeGroup`
protocol for the embedded cluster.

A :class:`SimCloud` is what an EC2 Auto Scaling account is to the AWS provider: it holds each
group's bounds and target size and the instances converging to it. It only keeps the books;
turning instances into Node objects (after the group's boot delay) and deleting the Nodes of
terminated instances is the embedded cluster's job (``podscaler.sim.world.cloud``), which reads
:meth:`SimCloud.instances` on every step. The node autoscaler holds the same objects through the
protocol, so its requests take effect in the world exactly as ASG requests do in AWS: later,
after a boot delay.

Failures are injected the way clouds fail: :meth:`SimCloud.fail_launches` makes a group take
a raised target but launch nothing, and report the failed launch (an error code such as
``InsufficientInstanceCapacity``) as an ASG's scaling activity would — the autoscaler reads
it from :meth:`SimCloud.scale_up_failures` and gives the capacity back; a group whose
``NodeGroupSpec.registers`` is False launches instances whose Nodes never appear (a broken
bootstrap), which only ``--max-node-provision-time`` notices.

Simplifications versus a real cloud, deliberate: capacity is otherwise unlimited up to
``max_size``, and terminating is instant for the books (the world deletes the Node on its
next step). Unlike moto, MinSize/MaxSize *are* enforced, as AWS does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podscaler.nodes.providers.base import InstanceState, NodeGroupError, NodeInstance

__all__ = [
    "LaunchFailure",
    "NodeGroupSpec",
    "SimCloud",
    "SimInstance",
    "SimNodeGroup",
    "node_object",
]

#: Labels every node of a group carries, as EKS managed node groups set them.
LABEL_INSTANCE_TYPE = "node.kubernetes.io/instance-type"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_NODE_GROUP = "podscaler.io/node-group"

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class NodeGroupSpec:
    """One group as a scenario declares it. Quantities are Kubernetes strings (``"2"``,
    ``"8Gi"``); ``allocatable`` defaults to ``capacity`` (no system reservation modelled
    unless given)."""

    name: str
    instance_type: str = "m5.large"
    capacity: Mapping[str, str] = field(
        default_factory=lambda: {"cpu": "2", "memory": "8Gi", "pods": "29"}
    )
    allocatable: Mapping[str, str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, str]] = ()
    min_size: int = 0
    max_size: int = 10
    initial_size: int = 1
    boot_seconds: float = 60.0
    zone: str = "sim-a"
    price_per_hour: float = 0.0
    #: False: instances launch but their Nodes never register (a broken bootstrap)
    registers: bool = True


@dataclass(frozen=True)
class LaunchFailure:
    """Instances a group was asked for and could not launch, as a failed scaling activity
    reports them: the error code (``InsufficientInstanceCapacity``), a message, how many."""

    group: str
    error_code: str
    message: str
    failed_nodes: int


def node_object(spec: NodeGroupSpec, name: str, provider_id: str) -> dict[str, Any]:
    """The Node a machine of ``spec`` registers as (Ready is the kubelet's to report)."""
    labels = {
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        LABEL_HOSTNAME: name,
        LABEL_INSTANCE_TYPE: spec.instance_type,
        LABEL_ZONE: spec.zone,
        LABEL_NODE_GROUP: spec.name,
        **spec.labels,
    }
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": provider_id},
        "status": {
            "capacity": dict(spec.capacity),
            "allocatable": dict(spec.allocatable or spec.capacity),
        },
    }
    if spec.taints:
        node["spec"]["taints"] = [dict(t) for t in spec.taints]
    return node


@dataclass
class SimInstance:
    """One machine: booting until ``boot_due_seconds`` (loop time), then registered."""

    instance_id: str
    group: str
    node_name: str
    state: str
    requested_at_seconds: float
    boot_due_seconds: float

    @property
    def provider_id(self) -> str:
        return f"sim:///{self.group}/{self.instance_id}"


class SimNodeGroup:
    """A :class:`NodeGroup` of the simulated cloud."""

    def __init__(self, cloud: SimCloud, spec: NodeGroupSpec) -> None:
        self.cloud = cloud
        self.spec = spec
        self._target = 0

    # --- NodeGroup protocol

    def id(self) -> str:
        return self.spec.name

    def min_size(self) -> int:
        return self.spec.min_size

    def max_size(self) -> int:
        return self.spec.max_size

    async def target_size(self) -> int:
        return self._target

    async def increase_size(self, delta: int) -> None:
        if delta <= 0:
            raise NodeGroupError(f"size increase must be positive, not {delta}")
        if self._target + delta > self.spec.max_size:
            raise NodeGroupError(
                f"size increase too large: desired {self._target + delta}, "
                f"max {self.spec.max_size} for node group {self.spec.name}"
            )
        self.set_target_size(self._target + delta)

    async def decrease_target_size(self, delta: int) -> None:
        """Lower the target by ``delta`` without deleting a registered node (CA's
        ``DecreaseTargetSize``, reverting a scale-up whose nodes did not come): refused when
        it would go below the instances that have registered."""
        if delta <= 0:
            raise NodeGroupError(f"size decrease must be positive, not {delta}")
        running = sum(1 for i in self.live_instances() if i.state == InstanceState.RUNNING)
        new = self._target - delta
        if new < running:
            raise NodeGroupError(
                f"attempt to delete existing nodes: node group {self.spec.name} has {running} "
                f"registered nodes, target {self._target}, decrease {delta}"
            )
        self.set_target_size(new)

    async def cancel_unfulfilled(self) -> int:
        """Give back the target that has no instance (after a failed launch): the target drops
        to the live instances, not below the minimum. Returns how many were given back."""
        live = len(self.live_instances())
        target = max(self.spec.min_size, live)
        cancelled = self._target - target
        if cancelled > 0:
            self._target = target
            self.cloud.changed()
            return cancelled
        return 0

    async def delete_nodes(self, node_names: Sequence[str]) -> None:
        mine = {i.node_name: i for i in self.live_instances()}
        unknown = [n for n in node_names if n not in mine]
        if unknown:
            raise NodeGroupError(f"nodes {unknown} do not belong to node group {self.spec.name}")
        if self._target - len(node_names) < self.spec.min_size:
            raise NodeGroupError(
                f"cannot delete {len(node_names)} nodes: node group {self.spec.name} would go "
                f"below its minimum size {self.spec.min_size}"
            )
        for name in node_names:
            mine[name].state = InstanceState.DELETING
        self._target -= len(node_names)
        self.cloud.changed()

    async def nodes(self) -> Sequence[NodeInstance]:
        return [
            NodeInstance(i.provider_id, i.node_name, i.state)
            for i in self.cloud.instances()
            if i.group == self.spec.name
        ]

    def template_node(self) -> Mapping[str, Any]:
        name = f"template-node-for-{self.spec.name}"
        node = node_object(self.spec, name, f"sim:///{self.spec.name}/template")
        node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
        return node

    # --- the simulation's own controls (a scenario, `kubectl`-less resizing)

    def live_instances(self) -> list[SimInstance]:
        return [
            i
            for i in self.cloud.instances()
            if i.group == self.spec.name and i.state != InstanceState.DELETING
        ]

    def set_target_size(self, size: int) -> None:
        """Converge to ``size`` (clamped to the bounds): launch instances, or terminate the
        newest ones first (booting instances before registered ones), as an ASG scale-in with
        the ``NewestInstance`` policy does."""
        size = max(self.spec.min_size, min(self.spec.max_size, size))
        live = self.live_instances()
        failure = self.cloud.launch_failure(self.spec.name)
        if failure is not None and size > len(live):
            self.cloud.launch_failed(self, size - len(live), *failure)
        else:
            for _ in range(size - len(live)):
                self.cloud.launch(self)
        if size < len(live):
            doomed = sorted(
                live,
                key=lambda i: (i.state == InstanceState.CREATING, i.requested_at_seconds),
                reverse=True,
            )[: len(live) - size]
            for instance in doomed:
                instance.state = InstanceState.DELETING
        self._target = size
        self.cloud.changed()


class SimCloud:
    """All node groups and their instances; ``now`` is the loop clock (seconds)."""

    def __init__(self, now: Callable[[], float], rng: random.Random | None = None) -> None:
        self._now = now
        self._rng = rng or random.Random(0)
        self.groups: dict[str, SimNodeGroup] = {}
        self._instances: dict[str, SimInstance] = {}
        self._serial = 0
        #: group → (error code, message) while its launches fail
        self._failing: dict[str, tuple[str, str]] = {}
        self._failures: list[LaunchFailure] = []
        #: Called whenever the books change, so the world can act at once.
        self.on_change: list[Callable[[], None]] = []

    def add_group(self, spec: NodeGroupSpec) -> SimNodeGroup:
        if spec.name in self.groups:
            raise NodeGroupError(f"node group {spec.name} already exists")
        if not 0 <= spec.min_size <= spec.max_size:
            raise NodeGroupError(f"node group {spec.name}: need 0 <= min <= max")
        group = self.groups[spec.name] = SimNodeGroup(self, spec)
        group.set_target_size(spec.initial_size)
        # The nodes a cluster starts with are up already: no boot delay for them.
        for instance in group.live_instances():
            instance.boot_due_seconds = instance.requested_at_seconds
        return group

    def instances(self) -> list[SimInstance]:
        return list(self._instances.values())

    # --- failures

    def fail_launches(
        self, group: str, error_code: str = "InsufficientInstanceCapacity", message: str = ""
    ) -> None:
        """From now on ``group`` launches nothing: a raised target is accepted and each
        attempt is reported as a failure (see :meth:`scale_up_failures`)."""
        text = message or (
            f"{error_code} - We currently do not have sufficient capacity in the Availability "
            "Zone you requested. Launching EC2 instance failed."
        )
        self._failing[group] = (error_code, text)

    def restore_launches(self, group: str) -> None:
        """``group`` launches again; its missing instances come (as a held desired capacity
        is fulfilled once EC2 has capacity)."""
        if self._failing.pop(group, None) is None:
            return
        node_group = self.groups.get(group)
        if node_group is not None:
            node_group.set_target_size(node_group._target)

    def launch_failure(self, group: str) -> tuple[str, str] | None:
        return self._failing.get(group)

    def launch_failed(self, group: SimNodeGroup, missing: int, code: str, message: str) -> None:
        self._failures.append(
            LaunchFailure(
                group.spec.name,
                code,
                f"Failed adding {missing} nodes to group {group.spec.name}: {message}",
                missing,
            )
        )

    def scale_up_failures(self) -> list[LaunchFailure]:
        """Failed launches since the last call, each reported once."""
        found, self._failures = self._failures, []
        return found

    def launch(self, group: SimNodeGroup) -> SimInstance:
        self._serial += 1
        suffix = "".join(self._rng.choice(_NAME_ALPHABET) for _ in range(5))
        now = self._now()
        instance = SimInstance(
            instance_id=f"i-{self._serial:08x}{suffix}",
            group=group.spec.name,
            node_name=f"{group.spec.name}-{suffix}",
            state=InstanceState.CREATING,
            requested_at_seconds=now,
            boot_due_seconds=now + group.spec.boot_seconds if group.spec.registers else math.inf,
        )
        self._instances[instance.instance_id] = instance
        return instance

    def forget(self, instance: SimInstance) -> None:
        """Drop a terminated instance from the books (its Node is gone)."""
        self._instances.pop(instance.instance_id, None)

    def changed(self) -> None:
        for callback in self.on_change:
            callback()
