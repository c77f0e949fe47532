"""ASG tags as CA reads them: node-template labels, taints and resources, autoscaling
options, auto-discovery specs; and the scale-from-zero template built from them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.quantities import parse_quantity
from podscaler.nodes.asgtags import (
    labels_from_tags,
    options_from_tags,
    parse_auto_discovery_spec,
    resources_from_tags,
    taints_from_tags,
)
from podscaler.nodes.instancetypes import INSTANCE_TYPES, InstanceType, merged
from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.options import OptionsError
from podscaler.nodes.templates import asg_template_node

PREFIX = "k8s.io/cluster-autoscaler/node-template/"


def test_options_from_tags_and_their_warnings() -> None:
    options, warnings = options_from_tags(
        {
            PREFIX + "autoscaling-options/scaledownutilizationthreshold": "0.7",
            PREFIX + "autoscaling-options/scaledownunneededtime": "20m",
            PREFIX + "autoscaling-options/ignoredaemonsetsutilization": "true",
            PREFIX + "autoscaling-options/scaledowngpuutilizationthreshold": "lots",
            "unrelated": "x",
        }
    )
    assert options.scale_down_utilization_threshold == 0.7
    assert options.scale_down_unneeded_time_seconds == 1200
    assert options.ignore_daemonsets_utilization is True
    assert options.scale_down_gpu_utilization_threshold is None
    assert len(warnings) == 1
    assert "not a number" in warnings[0]


def test_template_from_an_instance_type_and_tags() -> None:
    tags = {
        PREFIX + "label/workload": "batch",
        PREFIX + "taint/dedicated": "batch:NoSchedule",
        PREFIX + "resources/ephemeral-storage": "100Gi",
    }
    node = asg_template_node(INSTANCE_TYPES["m5.large"], "batch-a", ["eu-west-1b", "x"], tags)
    labels = node["metadata"]["labels"]
    assert labels["workload"] == "batch"
    assert labels["topology.kubernetes.io/zone"] == "eu-west-1b"
    assert labels["topology.kubernetes.io/region"] == "eu-west-1"
    assert node["spec"]["taints"] == [
        {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
    ]
    state = NodeState.build(node)
    assert state.allocatable.cpu_millicores == 2000
    assert state.allocatable.memory_bytes == 8 * 1024**3
    assert state.allocatable.ephemeral_storage_bytes == parse_quantity("100Gi").int_value()
    assert state.allowed_pods == 110


def test_reserved_resources_come_off_allocatable_only() -> None:
    node = asg_template_node(
        INSTANCE_TYPES["m5.large"], "a", ["z1a"], {}, reserved={"cpu": "100m", "memory": "1Gi"}
    )
    assert node["status"]["capacity"]["cpu"] == "2"
    state = NodeState.build(node)
    assert state.allocatable.cpu_millicores == 1900
    assert state.allocatable.memory_bytes == 7 * 1024**3


def test_described_types_win_over_the_table_and_keep_its_price() -> None:
    table = merged([InstanceType("m5.large", 2, 8000), InstanceType("x9.huge", 96, 10**6)])
    assert table["m5.large"].memory_mib == 8000
    assert table["m5.large"].price_per_hour == INSTANCE_TYPES["m5.large"].price_per_hour
    assert "x9.huge" in table
    assert "c5.xlarge" in table


def test_auto_discovery_matches_every_listed_tag() -> None:
    spec = parse_auto_discovery_spec(
        "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod=owned"
    )
    assert spec.matches(
        {"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/prod": "owned"}
    )
    assert not spec.matches({"k8s.io/cluster-autoscaler/enabled": "true"})
    assert not spec.matches(
        {"k8s.io/cluster-autoscaler/enabled": "1", "k8s.io/cluster-autoscaler/prod": "shared"}
    )


@pytest.mark.parametrize(
    "spec", ["tag=a", "mig:tag=a", "asg:tag=", "asg:=a", "asg:tag", "asg:label=a"]
)
def test_bad_auto_discovery_specs(spec: str) -> None:
    with pytest.raises(OptionsError):
        parse_auto_discovery_spec(spec)


tag_keys = st.one_of(
    st.text(max_size=20),
    st.builds(lambda k: PREFIX + "label/" + k, st.text(max_size=10)),
    st.builds(lambda k: PREFIX + "taint/" + k, st.text(max_size=10)),
    st.builds(lambda k: PREFIX + "resources/" + k, st.text(max_size=10)),
    st.builds(lambda k: PREFIX + "autoscaling-options/" + k, st.text(max_size=30)),
)


@settings(deadline=None)
@given(st.dictionaries(tag_keys, st.text(max_size=20), max_size=8))
def test_tag_readers_never_raise(tags: dict[str, str]) -> None:
    labels_from_tags(tags)
    for taint in taints_from_tags(tags):
        assert taint["effect"].startswith(("NoSchedule", "NoExecute", "PreferNoSchedule")) or (
            ":" in taint["effect"] or taint["effect"]
        )
    resources_from_tags(tags)
    options_from_tags(tags)


@settings(deadline=None)
@given(st.text(max_size=40))
def test_auto_discovery_parses_or_raises_options_error(spec: str) -> None:
    with contextlib.suppress(OptionsError):
        parse_auto_discovery_spec(spec)


def test_the_instance_type_of_an_asg_is_the_first_override_as_ca_assumes() -> None:
    from podscaler.nodes.templates import asg_instance_type

    mixed = {
        "MixedInstancesPolicy": {
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "lt"},
                "Overrides": [{"InstanceType": "m5.xlarge"}, {"InstanceType": "m5a.xlarge"}],
            }
        }
    }
    assert asg_instance_type(mixed) == "m5.xlarge"
    by_attributes = {
        "MixedInstancesPolicy": {
            "LaunchTemplate": {"Overrides": [{"InstanceRequirements": {"VCpuCount": {"Min": 2}}}]}
        }
    }
    assert asg_instance_type(by_attributes) is None
    plain = {"LaunchTemplate": {"LaunchTemplateName": "lt"}}
    assert asg_instance_type(plain, launch_template_data={"InstanceType": "c5.large"}) == "c5.large"
    assert asg_instance_type({}, launch_configuration={"InstanceType": "t3.small"}) == "t3.small"
    assert asg_instance_type({}) is None
