"""Resource policy: which containers and resources are recommended, within which bounds, and
how a recommendation becomes requests and limits.

Upstream's rules (``utils/vpa``):

- ``containerPolicies`` are matched by exact ``containerName``; a container without its own
  entry takes the ``"*"`` entry. A named entry replaces ``"*"`` entirely (no field merging).
- ``mode: Off`` removes the container from recommendation (and from the minimum split).
- ``minAllowed`` / ``maxAllowed`` clamp target, lower and upper bound: first up to the minimum,
  then down to the maximum, so a maximum below the minimum wins. A zero quantity is no bound.
  A container's ``maxAllowed`` takes precedence, per resource, over the operator-wide maximum.
- ``controlledValues: RequestsAndLimits`` (default) moves limits in proportion to requests;
  ``RequestsOnly`` leaves limits alone and never recommends above the existing limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from podscaler.engine.vpa.amounts import (
    CPU,
    MEMORY,
    RESOURCE_NAMES,
    ResourceName,
    Resources,
)

__all__ = [
    "DEFAULT_CONTAINER_POLICY_NAME",
    "CappedResources",
    "ContainerPolicy",
    "ContainerScalingMode",
    "ControlledValues",
    "ResourcePolicy",
    "cap_to_limits",
    "cap_to_policy",
    "controlled",
    "proportional_limit",
    "round_up",
]

#: The ``containerName`` of the policy entry that applies to containers without their own.
DEFAULT_CONTAINER_POLICY_NAME: Final = "*"
_MAX_INT64: Final = 2**63 - 1


class ContainerScalingMode(StrEnum):
    AUTO = "Auto"
    OFF = "Off"


class ControlledValues(StrEnum):
    REQUESTS_AND_LIMITS = "RequestsAndLimits"
    REQUESTS_ONLY = "RequestsOnly"


@dataclass(frozen=True, slots=True)
class ContainerPolicy:
    """One ``containerPolicies`` entry, in engine units."""

    container_name: str = DEFAULT_CONTAINER_POLICY_NAME
    mode: ContainerScalingMode = ContainerScalingMode.AUTO
    min_allowed: Resources = field(default_factory=Resources)
    max_allowed: Resources = field(default_factory=Resources)
    controlled_resources: tuple[ResourceName, ...] = RESOURCE_NAMES
    controlled_values: ControlledValues = ControlledValues.REQUESTS_AND_LIMITS
    #: Per-container OOM bump overrides (upstream's PerVPAConfig); ``None`` = operator flags.
    oom_bump_up_ratio: float | None = None
    oom_min_bump_up_bytes: int | None = None


_DEFAULT_POLICY: Final = ContainerPolicy()
_NO_BOUNDS: Final = Resources()


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """``spec.resourcePolicy``: the container policies in the order written."""

    container_policies: tuple[ContainerPolicy, ...] = ()

    def for_container(self, container_name: str) -> ContainerPolicy | None:
        """The entry for *container_name*, else the ``"*"`` entry, else ``None``."""
        fallback = None
        for policy in self.container_policies:
            if policy.container_name == container_name:
                return policy
            if policy.container_name == DEFAULT_CONTAINER_POLICY_NAME and fallback is None:
                fallback = policy
        return fallback

    def effective(self, container_name: str) -> ContainerPolicy:
        """The entry that applies, or the defaults (Auto, cpu+memory, RequestsAndLimits)."""
        return self.for_container(container_name) or _DEFAULT_POLICY

    def is_off(self, container_name: str) -> bool:
        policy = self.for_container(container_name)
        return policy is not None and policy.mode == ContainerScalingMode.OFF


@dataclass(frozen=True, slots=True)
class CappedResources:
    """Amounts after capping, and for each resource capped, the bound that did it."""

    resources: Resources
    #: ``(resource, "minAllowed" | "maxAllowed" | "limit")`` for each cap applied, in order.
    capped_by: tuple[tuple[ResourceName, str], ...] = ()


def _bound(amounts: Resources, resource: ResourceName) -> int | None:
    amount = amounts.get(resource)
    return amount if amount else None  # zero means "no bound", as upstream


def cap_to_policy(
    resources: Resources,
    policy: ContainerPolicy | None,
    global_max: Resources | None = None,
) -> CappedResources:
    """Clamp every present resource to the policy's min, then max (``applyVPAPolicy``)."""
    if policy is None and (global_max is None or global_max == _NO_BOUNDS):
        return CappedResources(resources)
    result = resources
    capped: list[tuple[ResourceName, str]] = []
    for resource, amount in resources.items():
        low = _bound(policy.min_allowed, resource) if policy else None
        high = _bound(policy.max_allowed, resource) if policy else None
        if high is None and global_max is not None:
            high = _bound(global_max, resource)
        if low is not None and amount < low:
            amount = low
            capped.append((resource, "minAllowed"))
        if high is not None and amount > high:
            amount = high
            capped.append((resource, "maxAllowed"))
        result = result.with_amount(resource, amount)
    return CappedResources(result, tuple(capped))


def cap_to_limits(resources: Resources, limits: Resources) -> CappedResources:
    """``RequestsOnly``: never recommend a request above the container's existing limit."""
    result = resources
    capped: list[tuple[ResourceName, str]] = []
    for resource, amount in resources.items():
        limit = limits.get(resource)
        if limit is not None and limit > 0 and amount > limit:
            result = result.with_amount(resource, limit)
            capped.append((resource, "limit"))
    return CappedResources(result, tuple(capped))


def round_up(amount: int, multiple: int) -> int:
    """Round *amount* up to a multiple of *multiple* (``--round-cpu-millicores`` and friends)."""
    if multiple <= 1 or amount == 0:
        return amount
    return -(-amount // multiple) * multiple


def proportional_limit(
    original_limit: int | None,
    original_request: int | None,
    new_request: int,
    default_limit: int | None = None,
) -> int | None:
    """The limit that keeps the original limit/request ratio (``GetProportionalLimit``).

    Amounts are millicores for CPU and bytes for memory. No limit (and no LimitRange default,
    *default_limit*) or no new request gives no limit; a limit with no request, or equal to
    it, follows the new request; otherwise ``limit * new_request / request``, truncated and
    capped at int64.
    """
    limit = original_limit if original_limit else default_limit
    if not limit or not new_request:
        return None
    if not original_request or limit == original_request:
        return new_request
    scaled = limit * new_request // original_request
    return min(scaled, _MAX_INT64)


def controlled(resources: Resources, names: Sequence[ResourceName]) -> Resources:
    """Only the controlled resources (``FilterControlledResources``)."""
    if len(names) == 2 and CPU in names and MEMORY in names:
        return resources
    return Resources(
        resources.cpu_millicores if CPU in names else None,
        resources.memory_bytes if MEMORY in names else None,
    )
