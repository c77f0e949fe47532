"""The AWS provider's pure parts: provider IDs, ASG descriptions and launch specs, bounds,
instance types, failed scaling activities, error classification, credential redaction, and
the world's instance → Node bookkeeping.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.options import NodeGroupBounds
from podscaler.nodes.providers.aws_errors import (
    AwsAccessDenied,
    AwsRequestRefused,
    AwsThrottled,
    AwsUnavailable,
    NodeGroupVanished,
    classify,
)
from podscaler.nodes.providers.aws_model import (
    AsgDescription,
    LaunchTemplateRef,
    ScalingActivity,
    activity_error_code,
    effective_bounds,
    failed_scale_up_activities,
    instance_state,
    parse_instance_types,
    parse_provider_id,
    provider_id,
)
from podscaler.nodes.providers.aws_redaction import REDACTED, CredentialRedactor, redact
from podscaler.nodes.providers.aws_world import InstanceNodes, node_name
from podscaler.nodes.providers.base import InstanceState


def _asg(**overrides: Any) -> dict[str, Any]:
    group: dict[str, Any] = {
        "AutoScalingGroupName": "general",
        "MinSize": 1,
        "MaxSize": 6,
        "DesiredCapacity": 2,
        "AvailabilityZones": ["eu-west-1a", "eu-west-1b"],
        "Tags": [{"Key": "k8s.io/cluster-autoscaler/enabled", "Value": "true"}],
        "Instances": [
            {
                "InstanceId": "i-0a",
                "AvailabilityZone": "eu-west-1a",
                "LifecycleState": "InService",
                "InstanceType": "m5.large",
            },
            {
                "InstanceId": "i-0b",
                "AvailabilityZone": "eu-west-1b",
                "LifecycleState": "Pending",
                "InstanceType": "m5.large",
            },
        ],
        "LaunchTemplate": {"LaunchTemplateName": "nodes"},
    }
    group.update(overrides)
    return group


# --- provider IDs and states

_ZONE = st.from_regex(r"[a-z]{2}-[a-z]+-[0-9][a-z]", fullmatch=True)
_INSTANCE = st.from_regex(r"i-[0-9a-f]{8,17}", fullmatch=True)


@settings(deadline=None)
@given(_ZONE, _INSTANCE)
def test_provider_ids_round_trip(zone: str, instance_id: str) -> None:
    assert parse_provider_id(provider_id(zone, instance_id)) == (zone, instance_id)


@settings(deadline=None)
@given(st.text(max_size=40))
def test_anything_else_is_not_an_aws_provider_id(text: str) -> None:
    parsed = parse_provider_id(text)
    if parsed is not None:
        assert text == provider_id(*parsed)


@pytest.mark.parametrize(
    "value",
    ["aws://eu-west-1a/i-0123", "gce://p/z/n", "aws:///eu-west-1a/", "aws:///eu-west-1a/x-1"],
)
def test_provider_id_rejects(value: str) -> None:
    assert parse_provider_id(value) is None


def test_lifecycle_states_map_to_ca_states() -> None:
    assert instance_state("Pending:Wait") == InstanceState.CREATING
    assert instance_state("InService") == InstanceState.RUNNING
    assert instance_state("Standby") == InstanceState.RUNNING
    assert instance_state("Terminating:Proceed") == InstanceState.DELETING


# --- descriptions and launch specs


def test_description_reads_sizes_tags_instances() -> None:
    desc = AsgDescription.from_api(_asg())
    assert (desc.min_size, desc.max_size, desc.desired_capacity) == (1, 6, 2)
    assert desc.tags == {"k8s.io/cluster-autoscaler/enabled": "true"}
    assert [i.provider_id for i in desc.instances] == [
        "aws:///eu-west-1a/i-0a",
        "aws:///eu-west-1b/i-0b",
    ]
    assert desc.launch.launch_template == LaunchTemplateRef(None, "nodes", "$Default")
    assert desc.launch.launch_template.request() == {
        "LaunchTemplateName": "nodes",
        "Versions": ["$Default"],
    }


def test_mixed_instances_first_override_wins() -> None:
    policy = {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1", "Version": "3"},
            "Overrides": [
                {"InstanceType": "c5.xlarge"},
                {"InstanceType": "c5a.xlarge"},
            ],
        }
    }
    desc = AsgDescription.from_api(_asg(MixedInstancesPolicy=policy, LaunchTemplate=None))
    assert desc.launch.override_instance_type == "c5.xlarge"
    assert desc.launch.launch_template == LaunchTemplateRef("lt-1", None, "3")

    policy["LaunchTemplate"]["Overrides"] = [{"InstanceRequirements": {"VCpuCount": {"Min": 2}}}]
    by_attributes = AsgDescription.from_api(_asg(MixedInstancesPolicy=policy))
    assert by_attributes.launch.override_requirements
    assert by_attributes.launch.override_instance_type is None


def test_launch_configuration_when_no_template() -> None:
    desc = AsgDescription.from_api(_asg(LaunchTemplate=None, LaunchConfigurationName="lc"))
    assert (desc.launch.launch_configuration, desc.launch.launch_template) == ("lc", None)


def test_bounds_from_the_asg_or_narrowed_nodes_flag() -> None:
    desc = AsgDescription.from_api(_asg())
    assert effective_bounds(desc, None) == (1, 6, None)
    assert effective_bounds(desc, NodeGroupBounds(2, 4, "general")) == (2, 4, None)
    low, high, warning = effective_bounds(desc, NodeGroupBounds(0, 10, "general"))
    assert (low, high) == (1, 6)
    assert warning is not None
    assert "1..6" in warning


def test_instance_types_from_describe_answers() -> None:
    answer = [
        {
            "InstanceType": "p4d.24xlarge",
            "VCpuInfo": {"DefaultVCpus": 96},
            "MemoryInfo": {"SizeInMiB": 1179648},
            "GpuInfo": {"Gpus": [{"Count": 4}, {"Count": 4}]},
            "ProcessorInfo": {"SupportedArchitectures": ["x86_64"]},
        },
        {
            "InstanceType": "m7g.large",
            "VCpuInfo": {"DefaultVCpus": 2},
            "MemoryInfo": {"SizeInMiB": 8192},
            "ProcessorInfo": {"SupportedArchitectures": ["arm64"]},
        },
        {"InstanceType": "broken.large", "VCpuInfo": {}},
    ]
    shapes = {t.name: t for t in parse_instance_types(answer)}
    assert set(shapes) == {"p4d.24xlarge", "m7g.large"}
    assert (shapes["p4d.24xlarge"].gpu, shapes["p4d.24xlarge"].vcpu) == (8, 96)
    assert shapes["m7g.large"].architecture == "arm64"


# --- scaling activities


def _activity(code: str, start: float, message: str = "", activity_id: str = "") -> ScalingActivity:
    return ScalingActivity.from_api(
        {
            "ActivityId": activity_id or f"a-{start}",
            "AutoScalingGroupName": "spot",
            "StatusCode": code,
            "StatusMessage": message,
            "StartTime": datetime.fromtimestamp(start, UTC),
        }
    )


def test_failed_activities_after_the_last_size_change() -> None:
    activities = [
        _activity("Failed", 90.0, "old failure"),
        _activity("Successful", 110.0),
        _activity("Failed", 120.0, "Could not launch On-Demand Instances. VcpuLimitExceeded - "),
        _activity("Failed", 130.0, "InsufficientInstanceCapacity - We currently do not have"),
        _activity("Cancelled", 140.0),
    ]
    found = failed_scale_up_activities(activities, since=100.0)
    assert [a.start_time for a in found] == [120.0, 130.0]
    assert [activity_error_code(a) for a in found] == [
        "VcpuLimitExceeded",
        "InsufficientInstanceCapacity",
    ]
    assert failed_scale_up_activities(activities, 100.0, ["a-120.0", "a-130.0"]) == []
    assert activity_error_code(_activity("Failed", 1.0, "no idea")) == "ScalingActivityFailed"


# --- errors


def _client_error(code: str, message: str = "m", status: int = 400) -> ClientError:
    answer = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(answer, "SetDesiredCapacity")


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (_client_error("Throttling", "Rate exceeded"), AwsThrottled, True),
        (_client_error("RequestLimitExceeded"), AwsThrottled, True),
        (_client_error("AccessDenied", status=403), AwsAccessDenied, False),
        (_client_error("UnauthorizedOperation"), AwsAccessDenied, False),
        (
            _client_error("ValidationError", "AutoScalingGroup name not found - null"),
            NodeGroupVanished,
            False,
        ),
        (_client_error("ValidationError", "DesiredCapacity above max"), AwsRequestRefused, False),
        (_client_error("ScalingActivityInProgress"), AwsRequestRefused, True),
        (_client_error("InternalFailure", status=500), AwsUnavailable, True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), AwsUnavailable, True),
        (NoCredentialsError(), AwsAccessDenied, False),
    ],
)
def test_errors_are_classified(error: Exception, kind: type[Exception], retryable: bool) -> None:
    typed = classify("SetDesiredCapacity", error, group="general")
    assert type(typed) is kind
    assert typed.retryable is retryable
    assert str(typed).startswith("SetDesiredCapacity (node group general): ")


def test_error_messages_drop_key_ids_and_stay_short() -> None:
    typed = classify(
        "DescribeAutoScalingGroups",
        _client_error("InvalidClientTokenId", "The key AKIAABCDEFGHIJKLMNOP is bad " + "x" * 500),
    )
    assert "AKIAABCDEFGHIJKLMNOP" not in str(typed)
    assert len(typed.aws_message) <= 300


# --- redaction

_KEY_ID = st.from_regex(r"(AKIA|ASIA)[A-Z0-9]{16}", fullmatch=True)
_SECRET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SECRET = st.text(alphabet=_SECRET_CHARS, min_size=20, max_size=40)


@settings(deadline=None)
@given(_KEY_ID, _SECRET, st.text(max_size=30))
def test_redact_removes_key_ids_and_known_secrets(key_id: str, secret: str, noise: str) -> None:
    header = (
        f"{{'Authorization': b'AWS4-HMAC-SHA256 Credential={key_id}/20260101/eu-west-1/"
        f"autoscaling/aws4_request, SignedHeaders=host, Signature=abc123', "
        f"'X-Amz-Security-Token': b'{secret}'}} {noise} secret={secret}"
    )
    out = redact(header, [secret])
    assert key_id not in out
    assert secret not in out
    assert REDACTED in out


def test_filter_rewrites_records_with_arguments_and_exceptions() -> None:
    redactor = CredentialRedactor()
    redactor.add_secrets(["s3cr3t-value-123", "short"])
    try:
        raise RuntimeError("boom with s3cr3t-value-123")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "botocore.endpoint",
        logging.DEBUG,
        __file__,
        1,
        "Sending %s with key %s",
        ("AKIAABCDEFGHIJKLMNOP", "s3cr3t-value-123"),
        exc_info,
    )
    assert redactor.filter(record)
    assert record.getMessage() == f"Sending {REDACTED} with key {REDACTED}"
    assert record.exc_text is not None
    assert "s3cr3t-value-123" not in record.exc_text
    # secrets under 8 characters would redact ordinary words: the filter ignores them
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "a short word", None, None)
    assert redactor.filter(plain)
    assert plain.getMessage() == "a short word"


# --- the world's instance → Node bookkeeping


def _world_group(*instances: tuple[str, str], name: str = "general") -> AsgDescription:
    return AsgDescription.from_api(
        _asg(
            AutoScalingGroupName=name,
            Instances=[
                {
                    "InstanceId": iid,
                    "AvailabilityZone": "eu-west-1a",
                    "LifecycleState": state,
                    "InstanceType": "m5.large",
                }
                for iid, state in instances
            ],
            Tags=[{"Key": "k8s.io/cluster-autoscaler/node-template/label/pool", "Value": "a"}],
        )
    )


def test_instances_become_nodes_after_the_boot_delay() -> None:
    book = InstanceNodes(region="eu-west-1", boot_seconds=60)
    group = _world_group(("i-0a", "Pending"))
    assert book.step([group], INSTANCE_TYPES, [], now=0).create == []
    assert book.next_due([group]) == 60
    group = _world_group(("i-0a", "InService"))
    assert book.step([group], INSTANCE_TYPES, [], now=59).create == []
    [node] = book.step([group], INSTANCE_TYPES, [], now=60).create
    assert node["metadata"]["name"] == "i-0a.eu-west-1.compute.internal"
    assert node["spec"]["providerID"] == "aws:///eu-west-1a/i-0a"
    labels = node["metadata"]["labels"]
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["topology.kubernetes.io/zone"] == "eu-west-1a"
    assert labels["pool"] == "a"
    assert node["status"]["capacity"]["cpu"] == "2"
    assert "conditions" not in node["status"], "Ready is the kubelet's to report"
    assert book.next_due([group]) is None

    # registered: nothing more; terminated: the Node goes
    assert book.step([group], INSTANCE_TYPES, [node], now=61).create == []
    gone = _world_group(("i-0a", "Terminating"))
    changes = book.step([gone], INSTANCE_TYPES, [node], now=62)
    assert (changes.create, changes.delete) == ([], ["i-0a.eu-west-1.compute.internal"])
    assert book.step([], INSTANCE_TYPES, [node], now=63).delete == [node["metadata"]["name"]]


def test_groups_that_never_register_and_unknown_types() -> None:
    book = InstanceNodes(region="us-east-1", boot_seconds=0, boot_seconds_by_group={"bad": None})
    bad = _world_group(("i-0b", "InService"), name="bad")
    assert book.step([bad], INSTANCE_TYPES, [], now=1000).create == []
    assert book.next_due([bad]) is None

    odd = AsgDescription.from_api(
        _asg(
            Instances=[
                {
                    "InstanceId": "i-0c",
                    "AvailabilityZone": "us-east-1a",
                    "LifecycleState": "InService",
                    "InstanceType": "z9.huge",
                }
            ]
        )
    )
    changes = book.step([odd], INSTANCE_TYPES, [], now=1)
    assert changes.create == []
    assert len(changes.problems) == 1
    assert "z9.huge" in changes.problems[0]
    assert book.step([odd], INSTANCE_TYPES, [], now=2).problems == [], "reported once"
    assert node_name("i-0c", "us-east-1") == "i-0c.ec2.internal"


def test_seeded_instances_register_at_once() -> None:
    book = InstanceNodes(region="eu-west-1", boot_seconds=120)
    group = _world_group(("i-0a", "InService"), ("i-0b", "InService"))
    book.seed([group], now=0, boot_seconds=120)
    assert len(book.step([group], INSTANCE_TYPES, [], now=0).create) == 2
