"""The AWS provider's view of EC2 Auto Scaling, as plain values read from API answers.

Pure: these functions turn the dicts aiobotocore returns into frozen dataclasses and decide
from them (provider IDs, bounds, which scaling activities are failed scale-ups). The I/O is
in :mod:`podscaler.nodes.providers.aws`.

Facts from AWS and Cluster Autoscaler kept here:

* a Node's ``spec.providerID`` is ``aws:///<availability-zone>/<instance-id>`` (the kubelet's
  ``--provider-id``); CA maps Nodes to ASGs by it, and so do we;
* the instance type of a group is, in CA's order: a MixedInstancesPolicy's **first**
  override, else its launch template's type, else the ASG's launch template, else its launch
  configuration;
* a desired capacity above the number of instances means instances are on their way; CA
  stands placeholders ``i-placeholder-<asg>-<n>`` in for them;
* a scaling activity with ``StatusCode`` ``Failed`` that started after the group's last size
  change is a failed scale-up (CA, kubernetes/autoscaler#4489), usually
  ``InsufficientInstanceCapacity`` in its ``StatusMessage``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from podscaler.nodes.instancetypes import InstanceType
from podscaler.nodes.options import NodeGroupBounds
from podscaler.nodes.providers.base import InstanceState

__all__ = [
    "PLACEHOLDER_PREFIX",
    "AsgDescription",
    "AsgInstance",
    "LaunchSpec",
    "LaunchTemplateRef",
    "ScaleUpFailure",
    "ScalingActivity",
    "activity_error_code",
    "effective_bounds",
    "failed_scale_up_activities",
    "instance_state",
    "parse_instance_types",
    "parse_provider_id",
    "placeholder_ids",
    "provider_id",
]

PROVIDER_ID_PREFIX: Final = "aws:///"
PLACEHOLDER_PREFIX: Final = "i-placeholder-"
_PROVIDER_ID: Final = re.compile(r"aws:///([-0-9a-z]*)/(i-[^/\s]+)")

PENDING_STATES: Final = frozenset({"Pending", "Pending:Wait", "Pending:Proceed", "Warmed:Pending"})
TERMINATING_STATES: Final = frozenset(
    {"Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}
)

#: EC2 launch error codes that show up in a failed scaling activity's StatusMessage.
LAUNCH_ERROR_CODES: Final = (
    "InsufficientInstanceCapacity",
    "InstanceLimitExceeded",
    "VcpuLimitExceeded",
    "MaxSpotInstanceCountExceeded",
    "SpotMaxPriceTooLow",
    "InsufficientCapacity",
    "InsufficientFreeAddressesInSubnet",
    "InvalidParameterCombination",
    "UnfulfillableCapacity",
    "Unsupported",
)
_LAUNCH_ERROR: Final = re.compile(r"\b(" + "|".join(LAUNCH_ERROR_CODES) + r")\b")
#: Error code of a failed activity whose message names none of the codes above.
GENERIC_ACTIVITY_FAILURE: Final = "ScalingActivityFailed"


def provider_id(zone: str, instance_id: str) -> str:
    return f"{PROVIDER_ID_PREFIX}{zone}/{instance_id}"


def parse_provider_id(value: str) -> tuple[str, str] | None:
    """(zone, instance id) of ``aws:///<zone>/<instance-id>``, or None for anything else."""
    match = _PROVIDER_ID.fullmatch(value)
    return (match.group(1), match.group(2)) if match else None


def instance_state(lifecycle_state: str) -> str:
    """CA's instance state for an ASG lifecycle state: Pending* → Creating, Terminating* →
    Deleting, anything else (InService, Standby, Detaching, ...) → Running."""
    if lifecycle_state in PENDING_STATES:
        return InstanceState.CREATING
    if lifecycle_state in TERMINATING_STATES:
        return InstanceState.DELETING
    return InstanceState.RUNNING


@dataclass(frozen=True)
class AsgInstance:
    instance_id: str
    zone: str
    lifecycle_state: str
    instance_type: str | None = None
    health_status: str = "Healthy"

    @property
    def provider_id(self) -> str:
        return provider_id(self.zone, self.instance_id)

    @property
    def state(self) -> str:
        return instance_state(self.lifecycle_state)

    @property
    def live(self) -> bool:
        """Counts toward the group's size (not on its way out)."""
        return self.lifecycle_state not in TERMINATING_STATES

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> AsgInstance:
        return cls(
            instance_id=str(item["InstanceId"]),
            zone=str(item.get("AvailabilityZone") or ""),
            lifecycle_state=str(item.get("LifecycleState") or ""),
            instance_type=str(item["InstanceType"]) if item.get("InstanceType") else None,
            health_status=str(item.get("HealthStatus") or "Healthy"),
        )


@dataclass(frozen=True)
class LaunchTemplateRef:
    """``LaunchTemplateId`` or ``LaunchTemplateName``, and a version (``$Default`` when the
    ASG names none, as EC2 does)."""

    template_id: str | None
    name: str | None
    version: str = "$Default"

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> LaunchTemplateRef | None:
        template_id = item.get("LaunchTemplateId")
        name = item.get("LaunchTemplateName")
        if not template_id and not name:
            return None
        return cls(
            str(template_id) if template_id else None,
            str(name) if name else None,
            str(item.get("Version") or "$Default"),
        )

    def request(self) -> dict[str, Any]:
        """The DescribeLaunchTemplateVersions parameters naming this version."""
        named: dict[str, Any] = (
            {"LaunchTemplateId": self.template_id}
            if self.template_id
            else {"LaunchTemplateName": self.name}
        )
        return {**named, "Versions": [self.version]}


@dataclass(frozen=True)
class LaunchSpec:
    """Where a group's instance type comes from. ``override_instance_type`` is the first
    MixedInstancesPolicy override (it wins); ``override_requirements`` says the first override
    uses attribute-based selection (InstanceRequirements) instead."""

    launch_configuration: str | None = None
    launch_template: LaunchTemplateRef | None = None
    override_instance_type: str | None = None
    override_requirements: bool = False

    @classmethod
    def from_api(cls, group: Mapping[str, Any]) -> LaunchSpec:
        policy = group.get("MixedInstancesPolicy")
        if isinstance(policy, Mapping):
            template = policy.get("LaunchTemplate") or {}
            spec = template.get("LaunchTemplateSpecification") or {}
            overrides = template.get("Overrides") or []
            ref = LaunchTemplateRef.from_api(spec)
            if overrides:
                first = overrides[0]
                override_ref = LaunchTemplateRef.from_api(
                    first.get("LaunchTemplateSpecification") or {}
                )
                return cls(
                    launch_template=override_ref or ref,
                    override_instance_type=(
                        str(first["InstanceType"]) if first.get("InstanceType") else None
                    ),
                    override_requirements="InstanceRequirements" in first,
                )
            return cls(launch_template=ref)
        ref = LaunchTemplateRef.from_api(group.get("LaunchTemplate") or {})
        if ref is not None:
            return cls(launch_template=ref)
        name = group.get("LaunchConfigurationName")
        return cls(launch_configuration=str(name) if name else None)


def _frozen_tags(items: Iterable[Mapping[str, Any]]) -> Mapping[str, str]:
    return MappingProxyType(
        {str(t["Key"]): str(t.get("Value") or "") for t in items if isinstance(t, Mapping)}
    )


@dataclass(frozen=True)
class AsgDescription:
    """One Auto Scaling group as DescribeAutoScalingGroups answered."""

    name: str
    min_size: int
    max_size: int
    desired_capacity: int
    zones: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    instances: tuple[AsgInstance, ...] = ()
    launch: LaunchSpec = field(default_factory=LaunchSpec)
    arn: str = ""
    #: the API answer it was read from (for rules that read it whole)
    raw: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    @classmethod
    def from_api(cls, group: Mapping[str, Any]) -> AsgDescription:
        return cls(
            name=str(group["AutoScalingGroupName"]),
            min_size=int(group.get("MinSize") or 0),
            max_size=int(group.get("MaxSize") or 0),
            desired_capacity=int(group.get("DesiredCapacity") or 0),
            zones=tuple(str(z) for z in group.get("AvailabilityZones") or ()),
            tags=_frozen_tags(group.get("Tags") or ()),
            instances=tuple(AsgInstance.from_api(i) for i in group.get("Instances") or ()),
            launch=LaunchSpec.from_api(group),
            arn=str(group.get("AutoScalingGroupARN") or ""),
            raw=group,
        )

    @property
    def live_instances(self) -> tuple[AsgInstance, ...]:
        return tuple(i for i in self.instances if i.live)


def effective_bounds(
    group: AsgDescription, explicit: NodeGroupBounds | None
) -> tuple[int, int, str | None]:
    """(min, max, warning). Auto-discovered groups use the ASG's own bounds; ``--nodes``
    bounds must lie within them (CA's rule) — outside, they are narrowed to the ASG's and a
    warning says so, since AWS itself would refuse a desired capacity beyond the ASG's."""
    if explicit is None:
        return group.min_size, group.max_size, None
    low = max(explicit.min_size, group.min_size)
    high = min(explicit.max_size, group.max_size)
    if high < low:
        high = low
    if (low, high) == (explicit.min_size, explicit.max_size):
        return low, high, None
    return (
        low,
        high,
        f"--nodes={explicit.min_size}:{explicit.max_size}:{explicit.name} lies outside the "
        f"ASG's own bounds {group.min_size}..{group.max_size}; using {low}..{high}",
    )


def placeholder_ids(group: str, count: int) -> list[str]:
    """CA's stand-ins for instances the group should have and does not (yet)."""
    return [f"{PLACEHOLDER_PREFIX}{group}-{n}" for n in range(count)]


def parse_instance_types(items: Iterable[Mapping[str, Any]]) -> list[InstanceType]:
    """DescribeInstanceTypes entries → shapes: ``DefaultVCpus``, ``SizeInMiB``, the sum of
    the GPUs' counts, ``arm64`` when that is among the supported architectures. Entries
    lacking vCPU or memory are skipped."""
    shapes: list[InstanceType] = []
    for item in items:
        name = item.get("InstanceType")
        vcpu = (item.get("VCpuInfo") or {}).get("DefaultVCpus")
        memory = (item.get("MemoryInfo") or {}).get("SizeInMiB")
        if not name or not isinstance(vcpu, int) or not isinstance(memory, int):
            continue
        gpus = (item.get("GpuInfo") or {}).get("Gpus") or ()
        gpu = sum(int(g.get("Count") or 0) for g in gpus if isinstance(g, Mapping))
        architectures = (item.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ()
        architecture = "arm64" if "arm64" in architectures else "amd64"
        shapes.append(InstanceType(str(name), vcpu, memory, gpu, architecture))
    return shapes


def _unix(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True)
class ScalingActivity:
    activity_id: str
    group: str
    status_code: str
    status_message: str = ""
    description: str = ""
    #: Unix seconds
    start_time: float | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> ScalingActivity:
        return cls(
            activity_id=str(item.get("ActivityId") or ""),
            group=str(item.get("AutoScalingGroupName") or ""),
            status_code=str(item.get("StatusCode") or ""),
            status_message=str(item.get("StatusMessage") or ""),
            description=str(item.get("Description") or ""),
            start_time=_unix(item.get("StartTime")),
        )


def activity_error_code(activity: ScalingActivity) -> str:
    """The EC2 error a failed activity reports (``InsufficientInstanceCapacity``, ...), or
    ``ScalingActivityFailed`` when its message names none."""
    match = _LAUNCH_ERROR.search(f"{activity.status_message} {activity.description}")
    return match.group(1) if match else GENERIC_ACTIVITY_FAILURE


def failed_scale_up_activities(
    activities: Iterable[ScalingActivity], since: float, already_reported: Iterable[str] = ()
) -> list[ScalingActivity]:
    """Activities with status ``Failed`` that started at or after ``since`` (Unix seconds:
    the group's last size change) and were not reported before, oldest first."""
    seen = set(already_reported)
    found = [
        a
        for a in activities
        if a.status_code == "Failed"
        and a.start_time is not None
        and a.start_time >= since
        and a.activity_id not in seen
    ]
    return sorted(found, key=lambda a: a.start_time or 0.0)


@dataclass(frozen=True)
class ScaleUpFailure:
    """A scale-up of ``group`` that will not complete: ``failed_nodes`` instances will not
    come. The caller backs the group off (``AutoscalerState.scale_up_failed(group,
    error_code, message, now, failed_nodes)``), then gives the capacity back
    (:meth:`AwsNodeGroup.cancel_unfulfilled`) so the next expander choice can win.

    ``error_code`` is the EC2 launch error (``InsufficientInstanceCapacity``, ...),
    ``ScalingActivityFailed``, or ``timeout`` (``--max-node-provision-time`` passed with
    instances still missing)."""

    group: str
    error_code: str
    message: str
    failed_nodes: int
    activity_ids: Sequence[str] = ()
