"""What a VerticalScaler's recommendation makes of one pod's container resources (pure).

Shared by the admission webhook (new pods) and in-place resize (running pods), so both set
the same numbers the way upstream's admission controller does (``GetContainersResources``):

* per container with a recommendation (``status.recommendation.containerRecommendations``,
  matched by name) whose policy is not ``mode: Off``: the target, capped again to the policy's
  ``minAllowed``/``maxAllowed``, only for ``controlledResources``;
* ``controlledValues: RequestsOnly`` keeps limits and caps the request at the existing limit;
  ``RequestsAndLimits`` (the default) scales each limit by the same factor as its request, so
  the limit/request ratio holds (``GetProportionalLimit``; a limit equal to the request, or
  without a request, follows the new request; no limit stays no limit);
* the annotation :data:`UPDATES_ANNOTATION` says what changed, as VPA's ``vpaUpdates``
  ("Pod resources updated by NAME: container 0: cpu request, memory request, cpu limit").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.api.quantities import Quantity, QuantityError, parse_quantity
from podscaler.api.verticalscaler import VerticalScaler
from podscaler.engine.vpa.amounts import CPU, ResourceName, Resources
from podscaler.engine.vpa.policy import (
    ContainerScalingMode,
    ControlledValues,
    cap_to_limits,
    cap_to_policy,
    proportional_limit,
)
from podscaler.engine.vpa.recommending import quantities_of
from podscaler.engine.vpa.specs import resource_policy_of, resources_of

__all__ = [
    "OBSERVED_CONTAINERS_ANNOTATION",
    "UPDATES_ANNOTATION",
    "ContainerUpdate",
    "admission_patch",
    "container_updates",
    "updates_annotation",
]

#: What admission changed on a pod (upstream: ``vpaUpdates``).
UPDATES_ANNOTATION: Final = "autoscaling.podscaler.io/updates"
#: The containers the scaler considered at admission (upstream: ``vpaObservedContainers``).
OBSERVED_CONTAINERS_ANNOTATION: Final = "autoscaling.podscaler.io/observed-containers"


@dataclass(frozen=True, slots=True)
class ContainerUpdate:
    """New resources for the container at ``index``, and what changed in words."""

    index: int
    name: str
    resources: dict[str, Any]
    changed: tuple[str, ...]


def _amount(resource: ResourceName, raw: Any) -> int | None:
    try:
        quantity = parse_quantity(raw)
    except (QuantityError, TypeError, ValueError):
        return None
    return quantity.milli_value() if resource == CPU else quantity.int_value()


def _amounts(values: Any) -> Resources:
    if not isinstance(values, Mapping):
        return Resources()
    return Resources(_amount("cpu", values.get("cpu")), _amount("memory", values.get("memory")))


def _text(resource: ResourceName, amount: int) -> str:
    return quantities_of(Resources().with_amount(resource, amount))[resource]


def container_updates(
    pod: Mapping[str, Any],
    scaler: VerticalScaler,
    targets: Mapping[str, Resources] | None = None,
) -> list[ContainerUpdate]:
    """The containers of ``pod`` whose resources the recommendation changes, and how.

    ``targets`` (container name → target) stand in for the scaler's published
    ``status.recommendation`` when given (the updater passes what it compared against)."""
    if targets is None:
        recommendation = scaler.status.recommendation if scaler.status else None
        published: dict[str, Resources] = {}
        for found in (recommendation.container_recommendations if recommendation else None) or ():
            if found.container_name:
                published[found.container_name] = resources_of(
                    {k: Quantity(v) for k, v in found.target.items()}
                )
        targets = published
    if not targets:
        return []
    policy = resource_policy_of(scaler.spec)
    updates: list[ContainerUpdate] = []
    containers = (pod.get("spec") or {}).get("containers") or ()
    for index, container in enumerate(containers):
        if not isinstance(container, Mapping):
            continue
        name = str(container.get("name"))
        target = targets.get(name)
        entry = policy.for_container(name)
        if target is None or (entry is not None and entry.mode == ContainerScalingMode.OFF):
            continue
        effective = policy.effective(name)
        target = cap_to_policy(target, entry).resources.only(effective.controlled_resources)
        resources = dict(container.get("resources") or {})
        requests = dict(resources.get("requests") or {})
        limits = dict(resources.get("limits") or {})
        old_requests, old_limits = _amounts(requests), _amounts(limits)
        if effective.controlled_values == ControlledValues.REQUESTS_ONLY:
            target = cap_to_limits(target, old_limits).resources
        changed: list[str] = []
        for resource, amount in target.items():
            old_request = old_requests.get(resource)
            if old_request != amount:
                # capped at the limit: the limit as written, else upstream's formatting
                same_as_limit = amount == old_limits.get(resource)
                requests[resource] = limits[resource] if same_as_limit else _text(resource, amount)
                changed.append(f"{resource} request")
            if effective.controlled_values != ControlledValues.REQUESTS_AND_LIMITS:
                continue
            new_limit = proportional_limit(old_limits.get(resource), old_request, amount)
            if new_limit is not None and new_limit != old_limits.get(resource):
                limits[resource] = _text(resource, new_limit)
                changed.append(f"{resource} limit")
        if not changed:
            continue
        resources["requests"] = requests
        if limits:
            resources["limits"] = limits
        updates.append(ContainerUpdate(index, name, resources, tuple(changed)))
    return updates


def updates_annotation(scaler_name: str, updates: Sequence[ContainerUpdate]) -> str:
    parts = [f"container {u.index}: {', '.join(u.changed)}" for u in updates]
    return f"Pod resources updated by {scaler_name}: {'; '.join(parts)}"


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def admission_patch(
    pod: Mapping[str, Any], scaler_name: str, updates: Sequence[ContainerUpdate]
) -> list[dict[str, Any]]:
    """The JSONPatch that gives ``pod`` the updates and says so in its annotations."""
    operations: list[dict[str, Any]] = []
    meta = pod.get("metadata") or {}
    if not isinstance(meta.get("annotations"), Mapping):
        operations.append({"op": "add", "path": "/metadata/annotations", "value": {}})
    names = [
        str(c.get("name"))
        for c in (pod.get("spec") or {}).get("containers") or ()
        if isinstance(c, Mapping)
    ]
    operations.append(
        {
            "op": "add",
            "path": f"/metadata/annotations/{_escape(OBSERVED_CONTAINERS_ANNOTATION)}",
            "value": ", ".join(names),
        }
    )
    if updates:
        operations.append(
            {
                "op": "add",
                "path": f"/metadata/annotations/{_escape(UPDATES_ANNOTATION)}",
                "value": updates_annotation(scaler_name, updates),
            }
        )
    for update in updates:
        operations.append(
            {
                "op": "add",
                "path": f"/spec/containers/{update.index}/resources",
                "value": update.resources,
            }
        )
    return operations
