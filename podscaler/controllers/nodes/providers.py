"""Where node groups come from, behind one interface the node autoscaler's loop drives.

The planner (:mod:`podscaler.nodes`) sees node groups as :class:`NodeGroupState` values; the
loop resizes them through the :class:`~podscaler.nodes.providers.base.NodeGroup` protocol. A
:class:`NodeProvider` bridges the two and adds what a loop needs from a cloud beyond the
protocol: a refresh of its caches, the failed scale-ups it noticed (a failed launch, capacity
that never came), and the two corrections after one — lowering a target whose nodes did not
register (CA's ``DecreaseTargetSize``), and giving back capacity that cannot be launched.

* :class:`AwsProvider` — EC2 Auto Scaling groups through
  :class:`~podscaler.nodes.providers.aws.AwsCloud` (``--cloud-provider=aws``), in a cluster
  or against moto in the embedded one;
* :class:`SimProvider` — the embedded cluster's simulated groups
  (:mod:`podscaler.nodes.providers.sim`), for runs without moto.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.providers.aws import AwsCloud
from podscaler.nodes.providers.base import NodeGroup, NodeGroupError
from podscaler.nodes.providers.sim import SimCloud, SimNodeGroup
from podscaler.nodes.snapshot import NodeGroupState

__all__ = ["AwsProvider", "GroupFailure", "NodeProvider", "SimProvider"]


@dataclass(frozen=True)
class GroupFailure:
    """A scale-up that will not complete: ``failed_nodes`` nodes of ``group`` will not come
    (``error_code``: the cloud's, e.g. ``InsufficientInstanceCapacity``, or ``timeout``)."""

    group: str
    error_code: str
    message: str
    failed_nodes: int


class NodeProvider(Protocol):
    """What the loop asks of a cloud (see the module docstring)."""

    name: str

    async def refresh(self) -> None:
        """Bring the provider's view of its groups up to date (raises NodeGroupError)."""
        ...

    def wants_refresh(self) -> bool:
        """Whether reading the groups showed the view to be out of date (a Node of an
        instance no group was known to hold): the loop refreshes again in the same pass."""
        ...

    def group_states(
        self, nodes: Sequence[Mapping[str, Any]], deleting: Mapping[str, int]
    ) -> list[NodeGroupState]:
        """The groups as the planner sees them, with the registered ``nodes`` each holds;
        ``deleting`` counts per group the nodes whose removal is in flight."""
        ...

    def node_group(self, group_id: str) -> NodeGroup | None: ...

    def failures(self, now: float, options: NodeAutoscalerOptions) -> list[GroupFailure]:
        """Failed scale-ups noticed since the last call, each reported once."""
        ...

    async def revert(self, group_id: str, delta: int) -> None:
        """Take back ``delta`` nodes of ``group_id`` that did not register: instances without
        a Node are terminated, the rest of the target lowered; a registered node is never
        deleted."""
        ...

    async def give_back(self, group_id: str) -> int:
        """Lower ``group_id``'s target to the instances it has; returns how many."""
        ...

    async def aclose(self) -> None: ...


class AwsProvider:
    """Auto Scaling groups through an :class:`AwsCloud` (started by the caller; closed here)."""

    name = "aws"

    def __init__(self, cloud: AwsCloud) -> None:
        self.cloud = cloud

    async def refresh(self) -> None:
        await self.cloud.refresh()

    def wants_refresh(self) -> bool:
        return self.cloud.stale

    def group_states(
        self, nodes: Sequence[Mapping[str, Any]], deleting: Mapping[str, int]
    ) -> list[NodeGroupState]:
        return self.cloud.group_states(nodes, deleting=deleting)

    def node_group(self, group_id: str) -> NodeGroup | None:
        return self.cloud.node_group(group_id)

    def failures(self, now: float, options: NodeAutoscalerOptions) -> list[GroupFailure]:
        return [
            GroupFailure(f.group, f.error_code, f.message, f.failed_nodes)
            for f in self.cloud.scale_up_failures(now, options.max_node_provision_time_seconds)
        ]

    async def revert(self, group_id: str, delta: int) -> None:
        """Instances that are up but never registered a Node are terminated (exactly those,
        lowering the desired capacity: CA's removal of long-unregistered nodes); what is left
        of ``delta`` lowers the desired capacity without touching any instance."""
        group = self.cloud.node_group(group_id)
        if group is None:
            raise NodeGroupError(f"node group {group_id} is not registered")
        unregistered = [
            i.provider_id
            for i in group.live_instances()
            if not self.cloud.node_name_of(i.provider_id)
        ][:delta]
        if unregistered:
            await group.delete_nodes(unregistered)
        if delta > len(unregistered):
            await group.decrease_target_size(delta - len(unregistered))

    async def give_back(self, group_id: str) -> int:
        group = self.cloud.node_group(group_id)
        if group is None:
            return 0
        return await group.cancel_unfulfilled()

    async def aclose(self) -> None:
        await self.cloud.close()


class SimProvider:
    """The simulated cloud's groups (the embedded cluster's ``nodeGroups``)."""

    name = "sim"

    def __init__(self, groups: Iterable[SimNodeGroup]) -> None:
        self.groups = {g.id(): g for g in groups}

    @property
    def _clouds(self) -> list[SimCloud]:
        clouds: dict[int, SimCloud] = {}
        for group in self.groups.values():
            clouds.setdefault(id(group.cloud), group.cloud)
        return list(clouds.values())

    async def refresh(self) -> None:
        return None

    def wants_refresh(self) -> bool:
        return False

    def group_states(
        self, nodes: Sequence[Mapping[str, Any]], deleting: Mapping[str, int]
    ) -> list[NodeGroupState]:
        present = {str((n.get("metadata") or {}).get("name")) for n in nodes}
        by_group: dict[str, list[str]] = {name: [] for name in self.groups}
        for cloud in self._clouds:
            for instance in cloud.instances():
                if instance.group in by_group and instance.node_name in present:
                    by_group[instance.group].append(instance.node_name)
        states = []
        for name, group in sorted(self.groups.items()):
            spec = group.spec
            states.append(
                NodeGroupState(
                    id=name,
                    min_size=spec.min_size,
                    max_size=spec.max_size,
                    target_size=group._target,
                    node_names=tuple(sorted(by_group[name])),
                    template=group.template_node(),
                    price_per_hour=spec.price_per_hour or None,
                    deleting=deleting.get(name, 0),
                )
            )
        return states

    def node_group(self, group_id: str) -> NodeGroup | None:
        return self.groups.get(group_id)

    def failures(self, now: float, options: NodeAutoscalerOptions) -> list[GroupFailure]:
        found = [
            GroupFailure(f.group, f.error_code, f.message, f.failed_nodes)
            for cloud in self._clouds
            for f in cloud.scale_up_failures()
        ]
        return [f for f in found if f.group in self.groups]

    async def revert(self, group_id: str, delta: int) -> None:
        group = self.groups.get(group_id)
        if group is None:
            raise NodeGroupError(f"node group {group_id} is not registered")
        await group.decrease_target_size(delta)

    async def give_back(self, group_id: str) -> int:
        group = self.groups.get(group_id)
        return 0 if group is None else await group.cancel_unfulfilled()

    async def aclose(self) -> None:
        return None
