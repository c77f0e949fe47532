"""The AWS node-group provider against moto server, through a recording front.

Covers auto-discovery by tags (untagged and half-tagged ASGs ignored, vanished ones
unregistered), ``--nodes`` bounds, SetDesiredCapacity within bounds (asserted on the requests
podscaler sent, since moto does not enforce MinSize/MaxSize), terminating exactly a drained
node's instance, scale-from-zero templates from tags, instance types from
DescribeInstanceTypes / launch configurations / mixed-instances overrides and the static
fallback, failed scale-ups (a failed scaling activity during a capacity shortage, and the
provision timeout) handed to the planner's backoff, throttling, access denied and vanished
ASGs as typed errors without a crash, and credentials absent from botocore's debug logs.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from podscaler.nodes import AutoscalerState, NodeAutoscalerOptions
from podscaler.nodes.options import NodeGroupBounds
from podscaler.nodes.providers.aws import AwsCloud
from podscaler.nodes.providers.aws_errors import (
    AwsAccessDenied,
    AwsError,
    AwsThrottled,
    NodeGroupVanished,
)
from podscaler.nodes.providers.aws_front import AwsFront
from podscaler.nodes.providers.aws_model import parse_provider_id
from podscaler.nodes.providers.base import InstanceState, NodeGroup, NodeGroupError
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.integration.aws_nodes.conftest import Admin, Clock, MakeCloud

LABEL = "k8s.io/cluster-autoscaler/node-template/label/"
TAINT = "k8s.io/cluster-autoscaler/node-template/taint/"
RESOURCE = "k8s.io/cluster-autoscaler/node-template/resources/"
OPTION = "k8s.io/cluster-autoscaler/node-template/autoscaling-options/"


def _nodes_for(cloud: AwsCloud, group: str) -> list[dict[str, Any]]:
    """Node objects as the kubelets of the group's instances would register them."""
    found = cloud.node_group(group)
    assert found is not None
    return [
        {
            "metadata": {"name": f"node-{i.instance_id}"},
            "spec": {"providerID": i.provider_id},
        }
        for i in found.instances()
    ]


def _desired_sent(front: AwsFront, group: str) -> list[int]:
    return [
        int(c.params["DesiredCapacity"])
        for c in front.calls_of("SetDesiredCapacity")
        if c.params["AutoScalingGroupName"] == group
    ]


async def test_auto_discovery_takes_only_groups_with_every_tag(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", min_size=1, max_size=6, desired=2)
    await admin.asg(
        "other-cluster", discoverable=False, tags={"k8s.io/cluster-autoscaler/enabled": "true"}
    )
    await admin.asg("untagged", discoverable=False)
    cloud = await make_cloud(use_static_instance_list=True)
    await cloud.refresh()

    assert [g.id() for g in cloud.node_groups()] == ["general"]
    group = cloud.node_groups()[0]
    as_protocol: NodeGroup = group  # the provider's group is the planner's NodeGroup
    assert isinstance(as_protocol, NodeGroup)
    assert (group.min_size(), group.max_size(), await group.target_size()) == (1, 6, 2)
    assert len(await group.nodes()) == 2
    # discovery asked AWS to filter by both tag keys
    [describe] = front.calls_of("DescribeAutoScalingGroups")
    assert {
        describe.params["Filters.member.1.Values.member.1"],
        describe.params["Filters.member.2.Values.member.1"],
    } == {
        "k8s.io/cluster-autoscaler/enabled",
        "k8s.io/cluster-autoscaler/demo",
    }

    # within the refresh interval nothing is asked again
    await cloud.refresh()
    assert len(front.calls_of("DescribeAutoScalingGroups")) == 1

    await admin.autoscaling.delete_auto_scaling_group(
        AutoScalingGroupName="general", ForceDelete=True
    )
    await cloud.refresh(force=True)
    assert cloud.node_groups() == []
    assert group.vanished
    calls = len(front.calls)
    with pytest.raises(NodeGroupVanished):
        await group.increase_size(1)
    assert len(front.calls) == calls, "a vanished group sends nothing"


async def test_explicit_nodes_bounds_narrowed_to_the_asg(
    admin: Admin, make_cloud: MakeCloud
) -> None:
    await admin.asg("fixed", min_size=1, max_size=8, desired=1, discoverable=False)
    await admin.asg("wide", min_size=0, max_size=3, desired=0, discoverable=False)
    cloud = await make_cloud(
        nodes=[NodeGroupBounds(2, 5, "fixed"), NodeGroupBounds(0, 10, "wide")],
        use_static_instance_list=True,
    )
    await cloud.refresh()
    fixed, wide = cloud.node_group("fixed"), cloud.node_group("wide")
    assert fixed is not None
    assert wide is not None
    assert (fixed.min_size(), fixed.max_size(), fixed.bounds_warning) == (2, 5, None)
    assert (wide.min_size(), wide.max_size()) == (0, 3)
    assert wide.bounds_warning is not None
    assert "outside the ASG's own bounds" in wide.bounds_warning


async def test_increase_sends_set_desired_capacity_within_bounds(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", min_size=1, max_size=3, desired=1)
    cloud = await make_cloud(use_static_instance_list=True)
    await cloud.refresh()
    group = cloud.node_group("general")
    assert group is not None

    await group.increase_size(2)
    [sent] = front.calls_of("SetDesiredCapacity")
    assert sent.params == {
        "Action": "SetDesiredCapacity",
        "Version": "2011-01-01",
        "AutoScalingGroupName": "general",
        "DesiredCapacity": "3",
        "HonorCooldown": "false",
    }
    assert await group.target_size() == 3, "the cache follows our own write at once"

    with pytest.raises(NodeGroupError, match="max 3"):
        await group.increase_size(1)
    with pytest.raises(NodeGroupError, match="positive"):
        await group.increase_size(0)
    # moto would have accepted 4 (it does not enforce MaxSize): nothing was sent
    assert _desired_sent(front, "general") == [3]
    assert (await admin.describe("general"))["DesiredCapacity"] == 3

    await cloud.refresh(force=True)
    assert [n.state for n in await group.nodes()] == [InstanceState.RUNNING] * 3


async def test_delete_nodes_terminates_exactly_those_instances(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", min_size=1, max_size=5, desired=3)
    cloud = await make_cloud(use_static_instance_list=True)
    await cloud.refresh()
    group = cloud.node_group("general")
    assert group is not None
    nodes = _nodes_for(cloud, "general")
    cloud.observe_nodes(nodes)
    victim = nodes[1]
    victim_id = parse_provider_id(victim["spec"]["providerID"])
    assert victim_id is not None

    await group.delete_nodes([victim["metadata"]["name"]])
    [sent] = front.calls_of("TerminateInstanceInAutoScalingGroup")
    assert sent.params["InstanceId"] == victim_id[1]
    assert sent.params["ShouldDecrementDesiredCapacity"] == "true"
    assert front.calls_of("SetDesiredCapacity") == [], "never a lower desired capacity"
    assert await group.target_size() == 2

    described = await admin.describe("general")
    assert described["DesiredCapacity"] == 2
    remaining = {i["InstanceId"] for i in described["Instances"]}
    assert victim_id[1] not in remaining
    kept = [parse_provider_id(n["spec"]["providerID"]) for n in (nodes[0], nodes[2])]
    assert remaining == {k[1] for k in kept if k}

    # the minimum holds: 2 → 0 would pass min 1, and nothing is sent
    with pytest.raises(NodeGroupError, match="minimum size 1"):
        await group.delete_nodes([nodes[0]["metadata"]["name"], nodes[2]["metadata"]["name"]])
    with pytest.raises(NodeGroupError, match="do not belong"):
        await group.delete_nodes(["some-other-node"])
    assert len(front.calls_of("TerminateInstanceInAutoScalingGroup")) == 1


async def test_scale_from_zero_template_from_tags(admin: Admin, make_cloud: MakeCloud) -> None:
    await admin.asg(
        "gpu",
        min_size=0,
        max_size=4,
        desired=0,
        instance_type="g4dn.xlarge",
        tags={
            f"{LABEL}workload": "training",
            f"{TAINT}nvidia.com/gpu": "present:NoSchedule",
            f"{RESOURCE}ephemeral-storage": "100G",
            f"{OPTION}scaledownunneededtime": "20m",
        },
    )
    cloud = await make_cloud()
    await cloud.refresh()
    [state] = cloud.group_states([])
    assert (state.id, state.target_size, state.node_names) == ("gpu", 0, ())
    template = state.template
    assert template is not None
    labels = template["metadata"]["labels"]
    assert labels["workload"] == "training"
    assert labels["node.kubernetes.io/instance-type"] == "g4dn.xlarge"
    assert labels["topology.kubernetes.io/zone"] == f"{REGION}a"
    assert template["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    capacity = template["status"]["capacity"]
    assert (capacity["cpu"], capacity["memory"], capacity["nvidia.com/gpu"]) == (
        "4",
        str(16 * 1024**3),
        "1",
    )
    assert capacity["ephemeral-storage"] == "100G"
    assert state.options.scale_down_unneeded_time_seconds == 1200
    assert state.price_per_hour is not None


async def test_instance_types_from_describe_launch_configs_and_mixed_policies(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    # x2iedn.xlarge is not in the static table: only DescribeInstanceTypes knows it
    await admin.asg("memory", instance_type="x2iedn.xlarge")
    await admin.autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc-c5", ImageId="ami-12c6146b", InstanceType="c5.2xlarge"
    )
    await admin.asg("legacy", LaunchConfigurationName="lc-c5")
    await admin.asg(
        "mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateName": await admin.template("m5.large"),
                    "Version": "$Latest",
                },
                "Overrides": [{"InstanceType": "r5.xlarge"}, {"InstanceType": "r5a.xlarge"}],
            }
        },
    )
    cloud = await make_cloud()
    await cloud.refresh()
    assert cloud.instance_types_source == "DescribeInstanceTypes"
    # one call for the types the groups use, not the whole catalogue
    [types] = front.calls_of("DescribeInstanceTypes")
    assert sorted(v for k, v in types.params.items() if k.startswith("InstanceType.")) == [
        "c5.2xlarge",
        "r5.xlarge",
        "x2iedn.xlarge",
    ]
    shapes = {g.id(): g.instance_type() for g in cloud.node_groups()}
    memory, legacy, mixed = shapes["memory"], shapes["legacy"], shapes["mixed"]
    assert memory is not None
    assert (memory.vcpu, memory.memory_mib) == (4, 131072)
    assert legacy is not None
    assert legacy.name == "c5.2xlarge"
    assert mixed is not None
    assert mixed.name == "r5.xlarge", "the first override, as CA"
    assert len(front.calls_of("DescribeLaunchConfigurations")) == 1

    # the instance-type cache holds: a refresh does not re-read templates
    reads = len(front.calls_of("DescribeLaunchTemplateVersions"))
    await cloud.refresh(force=True)
    assert len(front.calls_of("DescribeLaunchTemplateVersions")) == reads

    # EC2 refuses DescribeInstanceTypes: the static table stands in
    front.fail("DescribeInstanceTypes", "UnauthorizedOperation", status=403)
    fallback = await make_cloud()
    await fallback.refresh()
    assert fallback.instance_types_source == "fallback"
    assert isinstance(fallback.last_error, AwsAccessDenied)
    legacy_group = fallback.node_group("legacy")
    memory_group = fallback.node_group("memory")
    assert legacy_group is not None
    assert memory_group is not None
    assert legacy_group.template_node()["status"]["capacity"]["cpu"] == "8"
    with pytest.raises(NodeGroupError, match=r"unknown EC2 instance type 'x2iedn\.xlarge'"):
        memory_group.template_node()


async def test_failed_scaling_activity_is_a_failed_scale_up(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("spot", min_size=1, max_size=10, desired=1)
    clock = Clock()
    cloud = await make_cloud(clock=clock, use_static_instance_list=True)
    await cloud.refresh()
    group = cloud.node_group("spot")
    assert group is not None
    front.shortage("spot")

    await group.increase_size(3)
    assert _desired_sent(front, "spot") == [4]
    clock.advance(30)
    await cloud.refresh(force=True)
    assert await group.target_size() == 4, "AWS keeps the desired capacity"
    creating = [n for n in await group.nodes() if n.state == InstanceState.CREATING]
    assert len(creating) == 3
    assert all("i-placeholder-spot-" in n.provider_id for n in creating)

    [failure] = cloud.scale_up_failures(clock())
    assert (failure.group, failure.error_code, failure.failed_nodes) == (
        "spot",
        "InsufficientInstanceCapacity",
        3,
    )
    assert "Failed adding 3 nodes to group spot" in failure.message
    await cloud.refresh(force=True)
    assert cloud.scale_up_failures(clock()) == [], "each failure is reported once"

    # the planner backs the group off: 5 min, doubling per failure after expiry, up to 30 min
    options = NodeAutoscalerOptions()
    state = AutoscalerState.initial(options).scaled_up("spot", 3, clock() - 30, options)
    durations = []
    now = clock()
    for _ in range(5):
        state = state.scale_up_failed("spot", failure.error_code, failure.message, now, 3)
        status = state.backoff.status("spot", now)
        assert status.backed_off
        assert status.error_code == "InsufficientInstanceCapacity"
        assert status.until is not None
        durations.append(status.until - now)
        now = status.until + 1
    assert durations == [300, 600, 1200, 1800, 1800]

    # the capacity that will not come is given back (CA deletes its placeholders)
    assert await group.cancel_unfulfilled() == 3
    assert _desired_sent(front, "spot") == [4, 1]
    assert (await admin.describe("spot"))["DesiredCapacity"] == 1


async def test_instances_missing_past_the_provision_time_time_out(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("stuck", min_size=0, max_size=5, desired=0)
    clock = Clock()
    cloud = await make_cloud(clock=clock, use_static_instance_list=True)
    await cloud.refresh()
    group = cloud.node_group("stuck")
    assert group is not None
    front.shortage("stuck", report_activity=False)
    await group.increase_size(2)
    clock.advance(60)
    await cloud.refresh(force=True)
    assert cloud.scale_up_failures(clock()) == []
    assert cloud.scale_up_failures(clock() + 840 - 1) == [], "15 minutes not over yet"
    [timeout] = cloud.scale_up_failures(clock() + 841)
    assert (timeout.error_code, timeout.failed_nodes) == ("timeout", 2)
    assert cloud.scale_up_failures(clock() + 2000) == []

    # capacity returns: moto launches the held instances, the shortfall ends
    await front.end_shortage("stuck")
    await cloud.refresh(force=True)
    assert group.shortfall() == 0
    assert len(group.live_instances()) == 2


async def test_throttling_and_access_denied_are_typed_and_survivable(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", min_size=0, max_size=5, desired=1)
    cloud = await make_cloud(use_static_instance_list=True)
    await cloud.refresh()

    front.fail("DescribeAutoScalingGroups", "Throttling", "Rate exceeded", times=1)
    with pytest.raises(AwsThrottled) as caught:
        await cloud.refresh(force=True)
    assert caught.value.retryable
    assert caught.value.operation == "DescribeAutoScalingGroups"
    assert type(caught.value.__cause__).__name__ == "ClientError"
    assert [g.id() for g in cloud.node_groups()] == ["general"], "the last good state stays"
    # the failed attempt forces the next refresh even inside the interval
    await cloud.refresh()
    assert cloud.last_error is None

    group = cloud.node_group("general")
    assert group is not None
    front.fail("SetDesiredCapacity", "AccessDenied", "not authorized", status=403)
    with pytest.raises(AwsAccessDenied) as denied:
        await group.increase_size(1)
    assert not denied.value.retryable
    assert "AccessDenied" in str(denied.value)
    assert await group.target_size() == 1, "a refused write changes nothing"
    await group.increase_size(1)
    assert _desired_sent(front, "general") == [2, 2]


async def test_botocore_retries_a_throttled_call(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", desired=1)
    cloud = await make_cloud(use_static_instance_list=True, max_attempts=2)
    front.fail("DescribeAutoScalingGroups", "Throttling", "Rate exceeded", times=1)
    await cloud.refresh()
    assert [g.id() for g in cloud.node_groups()] == ["general"]
    described = front.calls_of("DescribeAutoScalingGroups")
    assert [c.intercepted for c in described] == [True, False]


async def test_vanished_groups_are_typed_errors_not_crashes(
    admin: Admin, front: AwsFront, make_cloud: MakeCloud
) -> None:
    await admin.asg("explicit", min_size=0, max_size=5, desired=1, discoverable=False)
    cloud = await make_cloud(
        nodes=[NodeGroupBounds(0, 5, "explicit")], use_static_instance_list=True
    )
    await cloud.refresh()
    group = cloud.node_group("explicit")
    assert group is not None

    # AWS's answer for a group deleted behind our back
    front.fail(
        "SetDesiredCapacity",
        "ValidationError",
        "AutoScalingGroup name not found - AutoScalingGroup 'explicit' not found",
    )
    with pytest.raises(NodeGroupVanished) as caught:
        await group.increase_size(1)
    assert caught.value.__cause__ is not None
    assert group.vanished

    await admin.autoscaling.delete_auto_scaling_group(
        AutoScalingGroupName="explicit", ForceDelete=True
    )
    await cloud.refresh()
    assert [g.id() for g in cloud.node_groups()] == ["explicit"], "--nodes groups stay"
    assert group.vanished
    assert cloud.group_states([]) == []
    with pytest.raises(NodeGroupVanished):
        await group.delete_nodes(["x"])

    # moto answers an unknown group's SetDesiredCapacity with an HTML 500: still typed
    await admin.asg("gone", desired=1)
    discovered = await make_cloud(use_static_instance_list=True)
    await discovered.refresh()
    gone = discovered.node_group("gone")
    assert gone is not None
    await admin.autoscaling.delete_auto_scaling_group(AutoScalingGroupName="gone", ForceDelete=True)
    with pytest.raises(AwsError) as unavailable:
        await gone.increase_size(1)
    assert unavailable.value.retryable
    await discovered.refresh()
    assert discovered.node_groups() == []
    assert gone.vanished


async def test_credentials_never_reach_botocore_debug_logs(
    admin: Admin, make_cloud: MakeCloud
) -> None:
    await admin.asg("general", desired=1)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    botocore = logging.getLogger("botocore")
    previous = botocore.level
    botocore.setLevel(logging.DEBUG)
    try:
        cloud = await make_cloud(use_static_instance_list=True)
        await cloud.refresh()
        group = cloud.node_group("general")
        assert group is not None
        await group.increase_size(1)
    finally:
        botocore.setLevel(previous)
        root.removeHandler(handler)
    text = buffer.getvalue()
    assert "SetDesiredCapacity" in text, "botocore did log the request"
    assert "Authorization" in text, "botocore did log the headers"
    assert ACCESS_KEY_ID not in text
    assert SECRET_ACCESS_KEY not in text
    assert "[redacted]" in text
