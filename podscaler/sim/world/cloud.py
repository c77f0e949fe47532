"""The simulated cloud's side in the cluster: instances become Nodes, terminated ones vanish.

:class:`~podscaler.nodes.providers.sim.SimCloud` keeps the books (target sizes, instances and
when each finishes booting); this module makes the cluster follow them: an instance whose boot
delay has passed registers its Node (NotReady; the kubelet reports Ready shortly after), and an
instance marked for deletion loses its Node — its pods are then deleted by the pod garbage
collector and recreated elsewhere by their controllers, as when a cloud instance is terminated
under a real cluster.

Simplifications: no cordon/drain here (draining is the node autoscaler's job before it asks the
group to delete a node); a deleted Node is gone at once.
"""

from __future__ import annotations

import math

from podscaler.nodes.providers.base import InstanceState
from podscaler.nodes.providers.sim import SimCloud, node_object
from podscaler.sim.world.context import WorldContext

__all__ = ["CloudSync"]

COMPONENT = "cloud-node-controller"


class CloudSync:
    def __init__(self, ctx: WorldContext, cloud: SimCloud) -> None:
        self.ctx = ctx
        self.cloud = cloud

    def next_due(self) -> float | None:
        """When the next booting instance registers (the world wakes then)."""
        due = [
            i.boot_due_seconds
            for i in self.cloud.instances()
            if i.state == InstanceState.CREATING and math.isfinite(i.boot_due_seconds)
        ]
        return min(due) if due else None

    def sync(self) -> None:
        now = self.ctx.monotonic()
        nodes = self.ctx.kinds.nodes
        for instance in self.cloud.instances():
            if instance.state == InstanceState.CREATING and instance.boot_due_seconds <= now:
                group = self.cloud.groups[instance.group]
                node = node_object(group.spec, instance.node_name, instance.provider_id)
                if instance.boot_due_seconds <= instance.requested_at_seconds:
                    self.ctx.state.nodes_up_at_start.add(instance.node_name)
                entry = self.ctx.writer.create(nodes, node)
                instance.state = InstanceState.RUNNING
                self.ctx.events.record(
                    entry.obj,
                    "Normal",
                    "RegisteredNode",
                    f"Node {instance.node_name} event: Registered Node {instance.node_name} "
                    f"in Controller",
                    COMPONENT,
                )
            elif instance.state == InstanceState.DELETING:
                self.ctx.writer.delete(nodes, "", instance.node_name)
                self.cloud.forget(instance)
