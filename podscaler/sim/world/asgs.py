"""Node groups that are EC2 Auto Scaling groups on a moto server (``cloud: aws``).

The embedded cluster plays the part of EC2 and the kubelets: :func:`create_asgs` creates the
scenario's groups in moto (a launch template per instance type, CA's auto-discovery tags, the
node-template tags for labels and taints), and :class:`AsgSync` keeps the Nodes in step with
the instances — every few seconds it describes the groups (``DescribeAutoScalingGroups``, its
own :class:`~podscaler.nodes.providers.aws.AwsCloud`, straight to moto), and
:class:`~podscaler.nodes.providers.aws_world.InstanceNodes` says which instances have booted
(a Node registers, ``providerID aws:///<zone>/<instance-id>``) and which are gone (their Node
is deleted, its pods then garbage-collected). The node autoscaler drives the same groups
through the AWS provider, over real HTTP, as it would in a cluster.

moto answers in real time from another process, so while a describe is in flight the
simulated clock flows at the real pace (``podscaler.sim.clock``); polling every
:data:`POLL_SECONDS` of simulated time keeps that cost small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.nodes.asgtags import LABEL_PREFIX, TAINT_PREFIX
from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.providers.aws import AwsCloud, AwsSettings
from podscaler.nodes.providers.aws_world import InstanceNodes, instance_node
from podscaler.nodes.providers.base import NodeGroupError
from podscaler.sim.world.context import WorldContext

__all__ = [
    "AMI",
    "ENABLED_TAG",
    "POLL_SECONDS",
    "AsgSpec",
    "AsgSync",
    "cluster_tag",
    "create_asgs",
]

log = logging.getLogger(__name__)

COMPONENT: Final = "cloud-node-controller"
#: How often (simulated seconds) the world looks at the groups' instances.
POLL_SECONDS: Final = 5.0
#: Any image id: moto launches it without looking.
AMI: Final = "ami-12c6146b"
ENABLED_TAG: Final = "k8s.io/cluster-autoscaler/enabled"
#: "Booted long ago": what the first instances are seeded with.
_FOREVER: Final = 1e9


@dataclass(frozen=True)
class AsgSpec:
    """An Auto Scaling group on moto (``cloud: aws``)."""

    name: str
    instance_type: str
    min_size: int
    max_size: int
    initial_size: int
    boot_seconds: float
    zone: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Mapping[str, str], ...] = ()
    registers: bool = True

    @property
    def price_per_hour(self) -> float:
        shape = INSTANCE_TYPES.get(self.instance_type)
        return (shape.price_per_hour or 0.0) if shape else 0.0


def cluster_tag(cluster: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster}"


async def create_asgs(settings: AwsSettings, specs: Sequence[AsgSpec], cluster: str) -> None:
    """Create ``specs`` in the AWS ``settings`` point at (moto), tagged for auto-discovery
    (``k8s.io/cluster-autoscaler/enabled``, ``k8s.io/cluster-autoscaler/<cluster>``)."""
    from aiobotocore.session import AioSession

    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else ""
    kwargs: dict[str, Any] = {
        "region_name": settings.region,
        "endpoint_url": settings.endpoint_url,
        "aws_access_key_id": settings.access_key_id,
        "aws_secret_access_key": secret,
    }
    session = AioSession()
    async with (
        session.create_client("ec2", **kwargs) as ec2,
        session.create_client("autoscaling", **kwargs) as autoscaling,
    ):
        templates: dict[str, str] = {}
        for spec in specs:
            template = templates.get(spec.instance_type)
            if template is None:
                template = f"podscaler-{spec.instance_type.replace('.', '-')}"
                try:
                    await ec2.create_launch_template(
                        LaunchTemplateName=template,
                        LaunchTemplateData={"InstanceType": spec.instance_type, "ImageId": AMI},
                    )
                except Exception as exc:  # a retried request that had worked the first time
                    if "AlreadyExists" not in str(exc):
                        raise
                templates[spec.instance_type] = template
            tags = {ENABLED_TAG: "true", cluster_tag(cluster): "owned"}
            tags.update({LABEL_PREFIX + k: v for k, v in spec.labels.items()})
            for taint in spec.taints:
                tags[TAINT_PREFIX + taint["key"]] = f"{taint.get('value', '')}:{taint['effect']}"
            await autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=spec.name,
                MinSize=spec.min_size,
                MaxSize=spec.max_size,
                DesiredCapacity=spec.initial_size,
                AvailabilityZones=[spec.zone],
                LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
                Tags=[
                    {
                        "Key": key,
                        "Value": value,
                        "PropagateAtLaunch": False,
                        "ResourceId": spec.name,
                        "ResourceType": "auto-scaling-group",
                    }
                    for key, value in tags.items()
                ],
            )


class AsgSync:
    """Nodes for the instances of the groups in ``cloud`` (see the module docstring)."""

    def __init__(
        self,
        ctx: WorldContext,
        cloud: AwsCloud,
        book: InstanceNodes,
        *,
        wake: Callable[[], None],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.ctx = ctx
        self.cloud = cloud
        self.book = book
        self.wake = wake
        self.poll_seconds = poll_seconds
        self.groups: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        #: problems reported (an unknown instance type), once each
        self.problems: list[str] = []

    async def seed(self) -> None:
        """The instances that exist now are the cluster's first nodes: up at once (also in
        a group whose later instances never register)."""
        groups = await self.cloud.describe_all()
        await self.cloud.lookup_instance_types(
            i.instance_type or "" for g in groups for i in g.instances
        )
        self.book.seed(groups, self.ctx.monotonic(), _FOREVER)
        for group in groups:
            if self.book.boot_seconds_by_group.get(group.name, 0.0) is not None:
                continue
            for instance in group.live_instances:
                shape = self.cloud.instance_types.get(instance.instance_type or "")
                if shape is not None:
                    node = instance_node(group, instance, shape, region=self.book.region)
                    self._register(node, at_start=True)
        await self.step(at_start=True)

    def _register(self, node: dict[str, Any], *, at_start: bool) -> None:
        name = node["metadata"]["name"]
        if at_start:
            self.ctx.state.nodes_up_at_start.add(name)
        entry = self.ctx.writer.create(self.ctx.kinds.nodes, node)
        self.ctx.events.record(
            entry.obj,
            "Normal",
            "RegisteredNode",
            f"Node {name} event: Registered Node {name} in Controller",
            COMPONENT,
        )

    async def step(self, *, at_start: bool = False) -> None:
        groups = await self.cloud.describe_all()
        await self.cloud.lookup_instance_types(
            i.instance_type or "" for g in groups for i in g.instances
        )
        self.groups = groups
        nodes_rt = self.ctx.kinds.nodes
        changes = self.book.step(
            groups, self.cloud.instance_types, self.ctx.state.nodes.values(), self.ctx.monotonic()
        )
        for problem in changes.problems:
            log.warning("%s", problem)
            self.problems.append(problem)
        for node in changes.create:
            self._register(node, at_start=at_start)
        for name in changes.delete:
            self.ctx.writer.delete(nodes_rt, "", name)
        if changes.create or changes.delete:
            self.wake()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.step()
            except NodeGroupError as exc:
                log.warning("describing the Auto Scaling groups failed: %s", exc)
            wait = self.poll_seconds
            due = self.book.next_due(self.groups)
            if due is not None:
                wait = min(wait, max(0.0, due - loop.time()))
            await asyncio.sleep(max(wait, 0.001))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.cloud.close()
