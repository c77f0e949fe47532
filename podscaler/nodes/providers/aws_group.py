"""One EC2 Auto Scaling group as a :class:`~podscaler.nodes.providers.base.NodeGroup`.

The group object holds the cached description of its ASG and what podscaler itself did to it
(the last size change, since when instances are missing, which failures were reported); it
asks its cloud (:class:`GroupCloud`, satisfied by :class:`~podscaler.nodes.providers.aws.AwsCloud`,
the one seam to AWS) to send requests. Bounds are checked here, before any request: moto does
not enforce MinSize/MaxSize and AWS's own refusal is less helpful.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from podscaler.nodes.asgtags import options_from_tags
from podscaler.nodes.instancetypes import InstanceType
from podscaler.nodes.options import GroupOptions, NodeGroupBounds
from podscaler.nodes.providers.aws_errors import NodeGroupVanished
from podscaler.nodes.providers.aws_model import (
    AsgDescription,
    AsgInstance,
    effective_bounds,
    placeholder_ids,
    provider_id,
)
from podscaler.nodes.providers.base import InstanceState, NodeGroupError, NodeInstance
from podscaler.nodes.templates import asg_template_node

__all__ = ["AwsNodeGroup", "GroupCloud"]

log = logging.getLogger(__name__)


class GroupCloud(Protocol):
    """What a group asks of the cloud that registered it: the writes (sent under the cloud's
    lock, which also updates the caches) and the lookups the cloud's caches answer. Declared
    here so that the group does not import the cloud that imports it."""

    async def _set_desired(self, group: AwsNodeGroup, desired: int) -> None: ...

    async def _terminate(self, group: AwsNodeGroup, instance_id: str) -> None: ...

    def instance_id_of(self, ref: str) -> str | None: ...

    def node_name_of(self, pid: str) -> str: ...

    def instance_type_of(self, group: AwsNodeGroup) -> tuple[InstanceType | None, str]: ...


class AwsNodeGroup:
    """One ASG as a :class:`~podscaler.nodes.providers.base.NodeGroup`. Reads come from the
    cloud's caches; writes go to AWS and update the caches at once."""

    def __init__(
        self, cloud: GroupCloud, name: str, explicit: NodeGroupBounds | None, now: float
    ) -> None:
        self._cloud = cloud
        self._name = name
        self._explicit = explicit
        self._desc: AsgDescription | None = None
        self._min = explicit.min_size if explicit else 0
        self._max = explicit.max_size if explicit else 0
        self._desired = 0
        self._vanished = False
        self.bounds_warning: str | None = None
        self._registered_at = now
        self._last_size_change: float | None = None
        self._shortfall_since: float | None = None
        self._timeout_reported = False
        self._reported_activities: set[str] = set()

    def __repr__(self) -> str:
        return f"AwsNodeGroup({self._name!r}, {self._min}..{self._max}, desired={self._desired})"

    # --- NodeGroup protocol

    def id(self) -> str:
        return self._name

    def min_size(self) -> int:
        return self._min

    def max_size(self) -> int:
        return self._max

    async def target_size(self) -> int:
        return self._desired

    async def increase_size(self, delta: int) -> None:
        """``SetDesiredCapacity(desired + delta)``; refused here, without a request, when
        ``delta`` is not positive or the result would pass ``max_size``."""
        self._check_present()
        if delta <= 0:
            raise NodeGroupError(f"size increase must be positive, not {delta}")
        new = self._desired + delta
        if new > self._max:
            raise NodeGroupError(
                f"size increase too large: desired {new}, max {self._max} "
                f"for node group {self._name}"
            )
        await self._cloud._set_desired(self, max(new, self._min))

    async def delete_nodes(self, node_names: Sequence[str]) -> None:
        """Terminate exactly these nodes' instances, lowering the desired capacity with each.
        Entries are Node names (mapped to instances through their ``spec.providerID``, see
        :meth:`AwsCloud.observe_nodes`) or provider IDs; a placeholder's provider ID gives its
        unfulfilled capacity back instead. Refused as a whole when a node is not in this group
        or the group would go below its minimum."""
        self._check_present()
        mine = {i.instance_id for i in self.instances() if i.live}
        placeholders = set(placeholder_ids(self._name, max(0, self.shortfall())))
        real: list[str] = []
        cancelled = 0
        unknown: list[str] = []
        for ref in node_names:
            instance_id = self._cloud.instance_id_of(ref)
            if instance_id in mine:
                real.append(instance_id)
            elif instance_id in placeholders:
                cancelled += 1
            else:
                unknown.append(ref)
        if unknown:
            raise NodeGroupError(f"nodes {unknown} do not belong to node group {self._name}")
        if real and self._desired - cancelled - len(real) < self._min:
            raise NodeGroupError(
                f"cannot delete {len(real)} nodes: node group {self._name} would go below its "
                f"minimum size {self._min} (desired {self._desired})"
            )
        for instance_id in dict.fromkeys(real):
            await self._cloud._terminate(self, instance_id)
        if cancelled:
            await self.cancel_unfulfilled()

    async def nodes(self) -> Sequence[NodeInstance]:
        """Every instance (with its Node name once :meth:`AwsCloud.observe_nodes` has seen
        it), plus a ``Creating`` placeholder per instance the ASG still lacks."""
        found = [
            NodeInstance(i.provider_id, self._cloud.node_name_of(i.provider_id), i.state)
            for i in self.instances()
        ]
        zone = self.zones()[0] if self.zones() else ""
        found.extend(
            NodeInstance(provider_id(zone, pid), "", InstanceState.CREATING)
            for pid in placeholder_ids(self._name, max(0, self.shortfall()))
        )
        return found

    def template_node(self) -> Mapping[str, Any]:
        """The Node a new instance would register as (CA's ``buildNodeFromTemplate``: the
        instance type's capacity, generic labels, the node-template tags). Raises
        :class:`NodeGroupError` when the instance type is unknown."""
        instance_type, reason = self._cloud.instance_type_of(self)
        if instance_type is None:
            raise NodeGroupError(f"node group {self._name} has no template: {reason}")
        desc = self._desc
        return asg_template_node(
            instance_type,
            self._name,
            desc.zones if desc else (),
            desc.tags if desc else {},
            name=f"template-node-for-{self._name}",
        )

    # --- beyond the protocol

    async def decrease_target_size(self, delta: int) -> None:
        """Lower the desired capacity by ``delta`` without terminating anything (CA's
        ``DecreaseTargetSize``, used to revert a timed-out scale-up): refused when it would
        drop below the instances the group has."""
        self._check_present()
        if delta <= 0:
            raise NodeGroupError(f"size decrease must be positive, not {delta}")
        live = len(self.live_instances())
        new = self._desired - delta
        if new < live:
            raise NodeGroupError(
                f"attempt to delete existing nodes: node group {self._name} has {live} "
                f"instances, desired {self._desired}, decrease {delta}"
            )
        new = max(new, self._min)
        if new != self._desired:
            await self._cloud._set_desired(self, new)

    async def cancel_unfulfilled(self) -> int:
        """Give back the capacity that has no instance (CA deletes its placeholders: the
        desired capacity drops to the live instances, not below the minimum). Returns how
        many nodes were cancelled."""
        self._check_present()
        target = max(self._min, len(self.live_instances()))
        cancelled = self._desired - target
        if cancelled > 0:
            await self._cloud._set_desired(self, target)
            return cancelled
        return 0

    @property
    def vanished(self) -> bool:
        """The ASG was not found at the last refresh (or a write said it is gone)."""
        return self._vanished

    @property
    def explicit(self) -> bool:
        """Registered by ``--nodes`` (kept when it vanishes) rather than discovered."""
        return self._explicit is not None

    @property
    def description(self) -> AsgDescription | None:
        return self._desc

    def tags(self) -> Mapping[str, str]:
        return self._desc.tags if self._desc else {}

    def zones(self) -> tuple[str, ...]:
        return self._desc.zones if self._desc else ()

    def instances(self) -> tuple[AsgInstance, ...]:
        return self._desc.instances if self._desc else ()

    def live_instances(self) -> tuple[AsgInstance, ...]:
        return self._desc.live_instances if self._desc else ()

    def shortfall(self) -> int:
        """Instances the group should have and does not."""
        return self._desired - len(self.live_instances())

    def options(self) -> GroupOptions:
        """Per-group overrides from the ``…/autoscaling-options/*`` tags."""
        return options_from_tags(self.tags())[0]

    def instance_type(self) -> InstanceType | None:
        return self._cloud.instance_type_of(self)[0]

    def _check_present(self) -> None:
        if self._vanished:
            raise NodeGroupVanished(
                "NodeGroup",
                "NotFound",
                f"Auto Scaling group {self._name} was not found at the last refresh",
                group=self._name,
            )

    # --- cache updates (the cloud's)

    def _update(self, desc: AsgDescription, now: float) -> None:
        self._desc = desc
        self._vanished = False
        self._desired = desc.desired_capacity
        self._min, self._max, warning = effective_bounds(desc, self._explicit)
        if warning and warning != self.bounds_warning:
            log.warning("node group %s: %s", self._name, warning)
        self.bounds_warning = warning
        self._note_shortfall(now)

    def _note_shortfall(self, now: float) -> None:
        if self.shortfall() > 0:
            if self._shortfall_since is None:
                self._shortfall_since = now
        else:
            self._shortfall_since = None
            self._timeout_reported = False

    def _sized(self, desired: int, now: float) -> None:
        previous_shortfall = self.shortfall()
        self._desired = desired
        self._last_size_change = now
        if self.shortfall() > max(0, previous_shortfall):
            # a scale-up: its provision time starts now
            self._shortfall_since = now
            self._timeout_reported = False
        self._note_shortfall(now)

    def _terminated(self, instance_id: str, now: float) -> None:
        if self._desc is not None:
            instances = tuple(
                replace(i, lifecycle_state="Terminating") if i.instance_id == instance_id else i
                for i in self._desc.instances
            )
            self._desc = replace(self._desc, instances=instances)
        self._desired -= 1
        self._last_size_change = now
        self._note_shortfall(now)

    def _activity_since(self) -> float:
        return (
            self._last_size_change if self._last_size_change is not None else (self._registered_at)
        )
