"""The simulated world's side of ASGs on moto: instances become Nodes after the boot delay,
with the provider IDs, labels and capacity the autoscaler plans with; a node the autoscaler
deletes loses its instance and then its Node. The autoscaler and the world each use their
own AwsCloud, as the operator and the embedded cluster would.
"""

from __future__ import annotations

from typing import Any

from podscaler.nodes.providers.aws_front import AwsFront
from podscaler.nodes.providers.aws_model import parse_provider_id
from podscaler.nodes.providers.aws_world import InstanceNodes
from tests.fixtures.moto import REGION
from tests.integration.aws_nodes.conftest import Admin, Clock, MakeCloud


async def test_asg_instances_come_and_go_as_nodes(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", min_size=1, max_size=4, desired=1, instance_type="c5.xlarge")
    clock = Clock()
    autoscaler = await make_cloud(clock=clock)
    world = await make_cloud(discovery=(), clock=clock)
    book = InstanceNodes(region=REGION, boot_seconds=90)
    nodes: dict[str, dict[str, Any]] = {}

    async def world_step() -> None:
        groups = await world.describe_all()
        await world.lookup_instance_types(
            i.instance_type or "" for g in groups for i in g.instances
        )
        changes = book.step(groups, world.instance_types, nodes.values(), clock())
        assert changes.problems == []
        for node in changes.create:
            nodes[node["metadata"]["name"]] = node
        for name in changes.delete:
            del nodes[name]

    await world_step()
    assert nodes == {}, "booting"
    clock.advance(90)
    await world_step()
    [first] = nodes.values()
    described = await admin.describe("general")
    [instance] = described["Instances"]
    assert parse_provider_id(first["spec"]["providerID"]) == (
        instance["AvailabilityZone"],
        instance["InstanceId"],
    )
    assert first["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "c5.xlarge"
    assert first["status"]["allocatable"]["cpu"] == "4"
    assert world.instance_types_source == "DescribeInstanceTypes"

    # the autoscaler scales up; the new instances register after their boot
    await autoscaler.refresh()
    group = autoscaler.node_group("general")
    assert group is not None
    await group.increase_size(2)
    await world_step()
    assert len(nodes) == 1
    clock.advance(90)
    await world_step()
    assert len(nodes) == 3
    await autoscaler.refresh()  # its minute is over: it sees the new instances
    [state] = autoscaler.group_states(nodes.values())
    assert state.target_size == 3
    assert sorted(state.node_names) == sorted(nodes)

    # the autoscaler removes one drained node: exactly that instance, then its Node
    victim = sorted(nodes)[1]
    await group.delete_nodes([victim])
    await world_step()
    assert victim not in nodes
    assert len(nodes) == 2
    assert len(front.calls_of("TerminateInstanceInAutoScalingGroup")) == 1
