"""The NodeGroup protocol: what the node autoscaler may ask of a group of identical nodes.

Cluster Autoscaler's cloud-provider interface is the model: a group has bounds, a target size
it can be asked to raise, nodes it can be asked to delete, and a *template* node describing
what a new node would look like, so binpacking can simulate nodes that do not exist yet. The
AWS provider implements it over EC2 Auto Scaling (aiobotocore); the simulated provider
(:mod:`podscaler.nodes.providers.sim`) implements it for the embedded cluster, so the same
autoscaler code drives both.

Every method that talks to a cloud is ``async``; ``id``, bounds and the template are cheap
reads of cached state. Errors are :class:`NodeGroupError` (the message is safe for Events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["InstanceState", "NodeGroup", "NodeGroupError", "NodeInstance"]


class NodeGroupError(Exception):
    """A request the group refused or could not carry out (bounds, unknown node, API error)."""


class InstanceState:
    """Lifecycle of an instance as Cluster Autoscaler's ``InstanceStatus`` names it."""

    CREATING = "Creating"
    RUNNING = "Running"
    DELETING = "Deleting"


@dataclass(frozen=True, slots=True)
class NodeInstance:
    """One machine of a group: its provider ID (as in ``Node.spec.providerID``), the Node name
    it registers as (empty until known) and its state."""

    provider_id: str
    node_name: str
    state: str


@runtime_checkable
class NodeGroup(Protocol):
    """A group of identical nodes the autoscaler can resize."""

    def id(self) -> str:
        """Stable identifier (the ASG name), used in ``--nodes=min:max:id`` and Events."""
        ...

    def min_size(self) -> int: ...

    def max_size(self) -> int: ...

    async def target_size(self) -> int:
        """The size the group is converging to (booting instances count)."""
        ...

    async def increase_size(self, delta: int) -> None:
        """Raise the target by ``delta`` > 0; refuse (NodeGroupError) beyond ``max_size``."""
        ...

    async def delete_nodes(self, node_names: Sequence[str]) -> None:
        """Terminate these nodes and lower the target accordingly; refuse below ``min_size``
        or for nodes that are not in this group."""
        ...

    async def nodes(self) -> Sequence[NodeInstance]:
        """The group's instances, including those still booting."""
        ...

    def template_node(self) -> Mapping[str, Any]:
        """A Node object (plain API dict) as a new node of this group would register:
        labels, taints, capacity and allocatable. For binpacking only; never stored."""
        ...
