"""The simulated world's side of ASGs on a moto server: instances become Nodes, terminated
instances lose them.

A real cluster learns of an instance when its kubelet registers a Node, a boot after the
instance was launched; the Node carries ``spec.providerID = aws:///<zone>/<instance-id>``,
the instance type and zone labels, and the capacity of the machine. When the instance is
terminated the cloud node controller deletes the Node. This module holds that behaviour as
pure values, for the embedded cluster to apply:

* :func:`instance_node` — the Node an instance registers as (capacity, labels and taints as
  the group's template describes them: the same shape the autoscaler planned with, so a
  simulated cluster behaves as the plan assumed; in a real cluster the bootstrap script
  must make that true, CA's README says the same);
* :class:`InstanceNodes` — the bookkeeping: when each instance was first seen, which are
  due to register (after the boot delay, per group; ``None`` for instances that never
  register), which Nodes lost their instance. It never talks to anyone: the world calls
  :meth:`InstanceNodes.step` with what :meth:`AwsCloud.describe_all` returned, the Nodes it
  has and its clock, and creates/deletes what the answer says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.nodes.instancetypes import InstanceType
from podscaler.nodes.providers.aws_model import (
    TERMINATING_STATES,
    AsgDescription,
    AsgInstance,
    parse_provider_id,
)
from podscaler.nodes.templates import asg_template_node

__all__ = ["LABEL_NODE_GROUP", "InstanceNodes", "NodeChanges", "instance_node", "node_name"]

#: The label the simulated cloud's nodes carry naming their group (as in ``sim.py``).
LABEL_NODE_GROUP: Final = "podscaler.io/node-group"


def node_name(instance_id: str, region: str) -> str:
    """EC2's resource-based hostname: ``i-0123….eu-west-1.compute.internal`` (``ec2.internal``
    in us-east-1), which EKS uses as the Node name."""
    if region == "us-east-1":
        return f"{instance_id}.ec2.internal"
    return f"{instance_id}.{region}.compute.internal"


def instance_node(
    group: AsgDescription,
    instance: AsgInstance,
    instance_type: InstanceType,
    *,
    region: str,
) -> dict[str, Any]:
    """The Node ``instance`` of ``group`` registers as. Ready is the kubelet's to report, so
    the Node comes without conditions."""
    name = node_name(instance.instance_id, region)
    node = asg_template_node(instance_type, group.name, [instance.zone], group.tags, name=name)
    node["metadata"]["labels"][LABEL_NODE_GROUP] = group.name
    node["spec"]["providerID"] = instance.provider_id
    node["status"].pop("conditions", None)
    return node


@dataclass
class NodeChanges:
    """What the world should do now: Nodes to create, Node names to delete, and problems
    (an instance whose type is unknown cannot become a Node) to report."""

    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class InstanceNodes:
    """Which ASG instances have become Nodes. ``boot_seconds`` is the delay from first
    seeing an instance to its Node registering; ``boot_seconds_by_group`` overrides it per
    ASG, ``None`` meaning the group's instances never register (a bootstrap that fails).
    ``now`` is any clock, the same on every call."""

    region: str
    boot_seconds: float = 60.0
    boot_seconds_by_group: Mapping[str, float | None] = field(default_factory=dict)
    _first_seen: dict[str, float] = field(default_factory=dict)
    _reported: set[str] = field(default_factory=set)
    _has_node: set[str] = field(default_factory=set)

    def _delay(self, group: str) -> float | None:
        if group in self.boot_seconds_by_group:
            return self.boot_seconds_by_group[group]
        return self.boot_seconds

    def seed(self, groups: Iterable[AsgDescription], now: float, boot_seconds: float) -> None:
        """Mark the instances that exist now as seen ``boot_seconds`` ago (a cluster starts
        with its nodes up: pass the boot delay)."""
        for group in groups:
            for instance in group.instances:
                self._first_seen.setdefault(instance.instance_id, now - boot_seconds)

    def step(
        self,
        groups: Iterable[AsgDescription],
        instance_types: Mapping[str, InstanceType],
        nodes: Iterable[Mapping[str, Any]],
        now: float,
    ) -> NodeChanges:
        changes = NodeChanges()
        registered: dict[str, str] = {}
        for node in nodes:
            pid = (node.get("spec") or {}).get("providerID")
            name = (node.get("metadata") or {}).get("name")
            if isinstance(pid, str) and isinstance(name, str) and parse_provider_id(pid):
                registered[pid] = name
        live: set[str] = set()
        for group in groups:
            delay = self._delay(group.name)
            for instance in group.instances:
                if instance.lifecycle_state in TERMINATING_STATES:
                    continue
                live.add(instance.provider_id)
                first = self._first_seen.setdefault(instance.instance_id, now)
                if instance.provider_id in registered:
                    self._has_node.add(instance.instance_id)
                    continue
                self._has_node.discard(instance.instance_id)
                if delay is None:
                    continue
                if instance.lifecycle_state != "InService" or now < first + delay:
                    continue
                shape = instance_types.get(instance.instance_type or "")
                if shape is None:
                    if instance.instance_id not in self._reported:
                        self._reported.add(instance.instance_id)
                        changes.problems.append(
                            f"instance {instance.instance_id} of {group.name} has the unknown "
                            f"instance type {instance.instance_type!r}: no Node"
                        )
                    continue
                changes.create.append(instance_node(group, instance, shape, region=self.region))
                self._has_node.add(instance.instance_id)
        for pid, name in registered.items():
            if pid not in live:
                changes.delete.append(name)
        parsed = (parse_provider_id(pid) for pid in live)
        alive = {p[1] for p in parsed if p}
        for instance_id in [i for i in self._first_seen if i not in alive]:
            del self._first_seen[instance_id]
            self._reported.discard(instance_id)
            self._has_node.discard(instance_id)
        return changes

    def next_due(self, groups: Iterable[AsgDescription]) -> float | None:
        """When the next instance without a Node finishes booting (the world wakes then), or
        None. A time in the past means at once (an instance not yet InService)."""
        due: list[float] = []
        for group in groups:
            delay = self._delay(group.name)
            if delay is None:
                continue
            for instance in group.instances:
                first = self._first_seen.get(instance.instance_id)
                waiting = instance.live and instance.instance_id not in self._has_node
                if first is not None and waiting:
                    due.append(first + delay)
        return min(due) if due else None
