"""The updater's decisions as pure functions: which pods to update, in what order, how many.

Upstream's updater (``pkg/updater``) each minute, per VerticalScaler in an evicting mode:

1. scores every live pod against the (capped) recommendation — :func:`update_priority`:
   *scale up* (some target above its request, or a request missing), *outside the recommended
   range* (a request below lowerBound or above upperBound), and the *resource diff*
   ``Σ_resources |Σ requests - Σ targets| / Σ requests`` over the pod's containers;
2. admits a pod to the update list — :func:`admit_for_update` — when it is outside the range,
   or had a *quick OOM* (:func:`had_quick_oom`: OOMKilled less than 10 minutes after starting),
   or has lived 12 hours and its diff is at least 10 %; a pod inside [lowerBound, upperBound]
   is never touched while young;
3. orders the list: scale-ups first, then larger diffs (:func:`order_for_update`), and filters
   it through ``evictionRequirements`` (:func:`meets_eviction_requirements`);
4. evicts in that order while the pod's replica group allows (:class:`EvictionBudget`): never a
   group with fewer live pods than ``minReplicas``; at most ``int(replicas * 0.5)`` at once, but
   always at least one when that rounds to zero; pending pods always, for free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from podscaler.engine.vpa.amounts import CPU, RESOURCE_NAMES, ResourceName, Resources

__all__ = [
    "DEFAULT_UPDATE",
    "ChangeRequirement",
    "ContainerRequests",
    "ContainerTermination",
    "EvictionBudget",
    "EvictionRequirement",
    "PodPriority",
    "UpdateCandidate",
    "UpdateMode",
    "UpdateSettings",
    "admit_for_update",
    "eviction_budget",
    "evicts_pods",
    "had_quick_oom",
    "meets_eviction_requirements",
    "order_for_update",
    "update_priority",
]

OOM_KILLED: Final = "OOMKilled"


class UpdateMode(StrEnum):
    """``spec.updatePolicy.updateMode``; unset means Recreate."""

    OFF = "Off"
    INITIAL = "Initial"
    RECREATE = "Recreate"
    IN_PLACE_OR_RECREATE = "InPlaceOrRecreate"
    #: Resize in place only, never evict (upstream's alpha ``InPlace``, AEP-8818).
    IN_PLACE = "InPlace"
    #: Deprecated upstream; the same as Recreate.
    AUTO = "Auto"


def evicts_pods(mode: UpdateMode | None) -> bool:
    """Whether the updater acts on running pods in *mode* (``None``: the default, Recreate);
    in ``InPlace`` mode it acts by resizing only, never by evicting."""
    return mode in (
        None,
        UpdateMode.RECREATE,
        UpdateMode.AUTO,
        UpdateMode.IN_PLACE_OR_RECREATE,
        UpdateMode.IN_PLACE,
    )


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    """The updater's flags, with upstream's defaults."""

    #: ``--pod-update-threshold``: the least resource diff worth an update of an in-range pod.
    min_change_priority: float = 0.1
    #: ``--in-recommendation-bounds-eviction-lifetime-threshold`` (12 h).
    pod_lifetime_update_threshold_seconds: float = 12 * 3600.0
    #: ``--evict-after-oom-threshold`` (10 min).
    evict_after_oom_threshold_seconds: float = 600.0
    #: ``--eviction-tolerance``.
    eviction_tolerance_fraction: float = 0.5
    #: ``--min-replicas``: groups with fewer live pods are never touched.
    min_replicas: int = 2


DEFAULT_UPDATE: Final = UpdateSettings()


# ------------------------------------------------------------------------------- priority


@dataclass(frozen=True, slots=True)
class ContainerRequests:
    """A pod's container as the updater sees it: requests in milli-units, as upstream compares
    ``Quantity.MilliValue()`` (millicores; memory in *milli*-bytes, so ``100m`` of memory
    — a tenth of a byte, a classic typo — is still told apart)."""

    name: str
    cpu_request_millicores: int | None = None
    memory_request_millibytes: int | None = None

    def request_milli(self, resource: ResourceName) -> int | None:
        return self.cpu_request_millicores if resource == CPU else self.memory_request_millibytes


def _milli(resources: Resources, resource: ResourceName) -> int | None:
    amount = resources.get(resource)
    if amount is None:
        return None
    return amount if resource == CPU else amount * 1000


@dataclass(frozen=True, slots=True, order=False)
class PodPriority:
    outside_recommended_range: bool
    scale_up: bool
    resource_diff: float

    def sort_key(self) -> tuple[bool, float]:
        """Larger key = updated sooner (upstream's ``PodPriority.Less`` reversed)."""
        return (self.scale_up, self.resource_diff)


@dataclass(frozen=True, slots=True)
class _Bounds:
    target: Resources
    lower_bound: Resources | None
    upper_bound: Resources | None


def update_priority(
    containers: Sequence[ContainerRequests],
    targets: Mapping[str, Resources],
    lower_bounds: Mapping[str, Resources] | None = None,
    upper_bounds: Mapping[str, Resources] | None = None,
    observed_containers: frozenset[str] | None = None,
) -> PodPriority:
    """Score a pod against the recommendation (``GetUpdatePriority``).

    *targets* / *lower_bounds* / *upper_bounds* map container names to the capped
    recommendation; a container without a target is not scored. *observed_containers* is the
    pod's ``vpaObservedContainers`` annotation, when it has one: other containers are ignored.
    """
    lower_bounds = lower_bounds or {}
    upper_bounds = upper_bounds or {}
    outside = scale_up = False
    total_request: dict[ResourceName, int] = {}
    total_target: dict[ResourceName, int] = {}
    for container in containers:
        if observed_containers is not None and container.name not in observed_containers:
            continue
        target = targets.get(container.name)
        if target is None:
            continue
        low = lower_bounds.get(container.name, Resources())
        high = upper_bounds.get(container.name, Resources())
        for resource in target.names():
            recommended = _milli(target, resource)
            assert recommended is not None
            total_target[resource] = total_target.get(resource, 0) + recommended
            request = container.request_milli(resource)
            if request is None:
                scale_up = outside = True
                continue
            total_request[resource] = total_request.get(resource, 0) + request
            if recommended > request:
                scale_up = True
            low_milli, high_milli = _milli(low, resource), _milli(high, resource)
            if (low_milli is not None and request < low_milli) or (
                high_milli is not None and request > high_milli
            ):
                outside = True
    diff = 0.0
    for resource in RESOURCE_NAMES:  # a fixed order: float sums depend on it
        if resource not in total_target:
            continue
        request_total = max(float(total_request.get(resource, 0)), 1.0)
        diff += abs(request_total - float(total_target[resource])) / request_total
    return PodPriority(outside, scale_up, diff)


# ------------------------------------------------------------------------------- admission


@dataclass(frozen=True, slots=True)
class ContainerTermination:
    """A container's ``lastState.terminated``: why, and how long it had run."""

    container_name: str
    reason: str
    started_seconds: float
    finished_seconds: float


def had_quick_oom(
    terminations: Iterable[ContainerTermination],
    threshold_seconds: float = DEFAULT_UPDATE.evict_after_oom_threshold_seconds,
    observed_containers: frozenset[str] | None = None,
    off_containers: frozenset[str] = frozenset(),
) -> bool:
    """Some considered container was OOMKilled less than *threshold_seconds* after it started.

    Containers outside *observed_containers* and containers in ``mode: Off`` do not count.
    """
    for termination in terminations:
        name = termination.container_name
        if observed_containers is not None and name not in observed_containers:
            continue
        if name in off_containers:
            continue
        run = termination.finished_seconds - termination.started_seconds
        if termination.reason == OOM_KILLED and run < threshold_seconds:
            return True
    return False


@dataclass(frozen=True, slots=True)
class UpdateCandidate:
    """A live pod considered for update."""

    name: str
    priority: PodPriority
    #: ``status.startTime`` (``None`` when the pod has none yet).
    start_seconds: float | None
    quick_oom: bool = False


def admit_for_update(
    candidate: UpdateCandidate, now_seconds: float, settings: UpdateSettings = DEFAULT_UPDATE
) -> bool:
    """Whether the pod goes on the update list (``UpdatePriorityCalculator.AddPod``)."""
    priority = candidate.priority
    if not priority.outside_recommended_range and not candidate.quick_oom:
        if candidate.start_seconds is None:
            return False
        if now_seconds < candidate.start_seconds + settings.pod_lifetime_update_threshold_seconds:
            return False
        if priority.resource_diff < settings.min_change_priority:
            return False
    # After a quick OOM, update only if the resources would actually change.
    return not (candidate.quick_oom and priority.resource_diff == 0)


def order_for_update(
    candidates: Iterable[UpdateCandidate],
    now_seconds: float,
    settings: UpdateSettings = DEFAULT_UPDATE,
) -> list[UpdateCandidate]:
    """The admitted candidates, scale-ups first, then by larger resource diff (stable)."""
    admitted = [c for c in candidates if admit_for_update(c, now_seconds, settings)]
    return sorted(admitted, key=lambda c: c.priority.sort_key(), reverse=True)


class ChangeRequirement(StrEnum):
    TARGET_HIGHER_THAN_REQUESTS = "TargetHigherThanRequests"
    TARGET_LOWER_THAN_REQUESTS = "TargetLowerThanRequests"


@dataclass(frozen=True, slots=True)
class EvictionRequirement:
    """``updatePolicy.evictionRequirements[]``: met when any listed resource changes so."""

    resources: tuple[ResourceName, ...]
    change_requirement: ChangeRequirement


def meets_eviction_requirements(
    containers: Sequence[ContainerRequests],
    targets: Mapping[str, Resources],
    requirements: Sequence[EvictionRequirement],
) -> bool:
    """Whether some container satisfies every requirement (a container missing a CPU or memory
    request always does). No requirements: always."""
    if not requirements:
        return True
    for container in containers:
        target = targets.get(container.name)
        if target is None:
            continue
        if container.cpu_request_millicores is None or container.memory_request_millibytes is None:
            return True
        if all(_requirement_met(container, target, req) for req in requirements):
            return True
    return False


def _requirement_met(
    container: ContainerRequests, target: Resources, requirement: EvictionRequirement
) -> bool:
    for resource in requirement.resources:
        request = container.request_milli(resource) or 0
        recommended = _milli(target, resource) or 0
        if requirement.change_requirement == ChangeRequirement.TARGET_HIGHER_THAN_REQUESTS:
            if recommended > request:
                return True
        elif recommended < request:
            return True
    return False


# ------------------------------------------------------------------------------- budget


@dataclass(frozen=True, slots=True)
class EvictionBudget:
    """What one replica group (one owning controller's pods) still allows this pass."""

    configured: int
    running: int
    pending: int
    tolerance: int
    evicted: int = 0

    def can_evict(self, phase: str) -> bool:
        """``CanEvict``: pending pods always; others while enough would stay alive, or one when
        the tolerance rounds to zero and the group is whole."""
        if phase == "Pending":
            return True
        should_be_alive = self.configured - self.tolerance
        if self.running - self.evicted > should_be_alive:
            return True
        return self.configured == self.running and self.tolerance == 0 and self.evicted == 0

    def after_eviction(self, phase: str) -> EvictionBudget:
        """The budget once a pod in *phase* was evicted (pending pods cost nothing)."""
        if phase == "Pending":
            return self
        return replace(self, evicted=self.evicted + 1)


def eviction_budget(
    configured_replicas: int,
    pod_phases: Sequence[str],
    settings: UpdateSettings = DEFAULT_UPDATE,
    min_replicas: int | None = None,
) -> EvictionBudget | None:
    """The budget of a group whose live pods are in *pod_phases*; ``None`` when the group has
    fewer live pods than ``minReplicas`` (the VerticalScaler's, else the operator's) and must
    not be touched at all."""
    required = settings.min_replicas if min_replicas is None else min_replicas
    if len(pod_phases) < required:
        return None
    pending = sum(1 for phase in pod_phases if phase == "Pending")
    tolerance = math.trunc(configured_replicas * settings.eviction_tolerance_fraction)
    return EvictionBudget(
        configured=configured_replicas,
        running=len(pod_phases) - pending,
        pending=pending,
        tolerance=tolerance,
    )
