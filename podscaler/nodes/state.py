"""What the node autoscaler remembers between loops, as one immutable value.

Cluster Autoscaler keeps this in its ``ClusterStateRegistry`` and scale-down planner: scale-up
requests in flight (so the nodes they will bring count as *upcoming* capacity and pending pods
are not provisioned twice), each group's backoff, since when each node has been unneeded, which
nodes were recently found unremovable, and when the last scale-up / deletion / failed deletion
happened (the scale-down cooldowns). Here every change is a method returning a new
:class:`AutoscalerState`, with ``now`` passed in, so the controller owns the only mutable
reference and tests replay any sequence.

The controller calls, per loop: :meth:`AutoscalerState.observe` (requests that completed or
timed out), then the planners, then after acting :meth:`scaled_up`, :meth:`scale_up_failed`,
:meth:`scaled_down` or :meth:`scale_down_failed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from podscaler.nodes.backoff import Backoff, BackoffParams
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.snapshot import NodeGroupState

__all__ = ["AutoscalerState", "ScaleUpRequest", "ScaleUpTimeout", "Unremovable"]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ScaleUpRequest:
    """Nodes asked of a group and not all registered yet (CA's ``ScaleUpRequest``)."""

    group: str
    increase: int
    time: float
    expected_add_time: float


@dataclass(frozen=True)
class ScaleUpTimeout:
    """A request whose nodes did not register within ``max-node-provision-time``: the
    controller lowers the group's target by ``increase`` (CA's revert) and emits
    ``ScaleUpTimedOut``."""

    group: str
    increase: int
    requested_at: float


@dataclass(frozen=True)
class Unremovable:
    """A node found unremovable, not re-examined before ``until``
    (``--unremovable-node-recheck-timeout``); the reason stays for explain."""

    until: float
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class AutoscalerState:
    backoff: Backoff = field(default_factory=Backoff)
    scale_ups: Mapping[str, ScaleUpRequest] = field(default_factory=lambda: _frozen({}))
    #: node name → since when it has been unneeded
    unneeded_since: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    unremovable: Mapping[str, Unremovable] = field(default_factory=lambda: _frozen({}))
    last_scale_up: float | None = None
    last_scale_down_delete: float | None = None
    last_scale_down_failure: float | None = None

    @classmethod
    def initial(cls, options: NodeAutoscalerOptions) -> AutoscalerState:
        """A fresh state whose backoff follows ``options``."""
        return cls(
            backoff=Backoff(
                BackoffParams(
                    options.initial_node_group_backoff_duration_seconds,
                    options.max_node_group_backoff_duration_seconds,
                    options.node_group_backoff_reset_timeout_seconds,
                )
            )
        )

    # --- scale-up bookkeeping

    def upcoming(self, group: NodeGroupState, now: float) -> int:
        """Nodes of ``group`` on their way that pending pods may count on: target minus
        registered, but only while a scale-up request is active and the group is not backed
        off (a stuck group's phantom nodes must not absorb pods forever)."""
        if group.id not in self.scale_ups or self.backoff.status(group.id, now).backed_off:
            return 0
        return max(0, group.target_size - group.registered)

    def scaled_up(
        self, group: str, delta: int, now: float, options: NodeAutoscalerOptions
    ) -> AutoscalerState:
        """The controller raised ``group`` by ``delta`` at ``now``."""
        timeout = options.max_node_provision_time_seconds
        previous = self.scale_ups.get(group)
        increase = delta + (previous.increase if previous else 0)
        request = ScaleUpRequest(group, increase, now, now + timeout)
        return replace(
            self, scale_ups=_frozen({**self.scale_ups, group: request}), last_scale_up=now
        )

    def scale_up_failed(
        self,
        group: str,
        error_code: str,
        error_message: str,
        now: float,
        failed_nodes: int | None = None,
    ) -> AutoscalerState:
        """A scale-up of ``group`` failed (the API refused, or ``failed_nodes`` instances could
        not be created): back the group off and shrink (or drop) its request."""
        requests = dict(self.scale_ups)
        request = requests.get(group)
        if request is not None:
            left = 0 if failed_nodes is None else request.increase - failed_nodes
            if left > 0:
                requests[group] = replace(request, increase=left)
            else:
                del requests[group]
        return replace(
            self,
            scale_ups=_frozen(requests),
            backoff=self.backoff.backoff(group, now, error_code, error_message),
        )

    def observe(
        self, groups: Sequence[NodeGroupState], now: float
    ) -> tuple[AutoscalerState, tuple[ScaleUpTimeout, ...]]:
        """Settle requests against the groups as they are now: a request whose nodes all
        registered completes (and clears the group's backoff); one past its expected add time
        times out (backoff ``timeout``, returned for the controller to revert). Groups that
        disappeared drop their requests; stale backoffs are forgotten."""
        by_id = {g.id: g for g in groups}
        requests: dict[str, ScaleUpRequest] = {}
        backoff = self.backoff.remove_stale(now)
        timeouts: list[ScaleUpTimeout] = []
        for name, request in self.scale_ups.items():
            group = by_id.get(name)
            if group is None:
                continue
            if group.target_size <= group.registered:
                backoff = backoff.remove_backoff(name)
                continue
            if request.expected_add_time < now:
                timeouts.append(ScaleUpTimeout(name, request.increase, request.time))
                backoff = backoff.backoff(
                    name,
                    now,
                    "timeout",
                    f"Nodes added to group {name} failed to register within "
                    f"{request.expected_add_time - request.time:g}s",
                )
                continue
            requests[name] = request
        return replace(self, scale_ups=_frozen(requests), backoff=backoff), tuple(timeouts)

    # --- scale-down bookkeeping

    def scaled_down(self, nodes: Sequence[str], now: float) -> AutoscalerState:
        """The controller started deleting ``nodes`` at ``now``."""
        gone = set(nodes)
        return replace(
            self,
            last_scale_down_delete=now,
            unneeded_since=_frozen({n: t for n, t in self.unneeded_since.items() if n not in gone}),
        )

    def scale_down_failed(self, now: float) -> AutoscalerState:
        return replace(self, last_scale_down_failure=now)

    def with_unneeded(
        self, unneeded_since: Mapping[str, float], unremovable: Mapping[str, Unremovable]
    ) -> AutoscalerState:
        return replace(
            self, unneeded_since=_frozen(unneeded_since), unremovable=_frozen(unremovable)
        )
