"""The node autoscaler's loop: Cluster Autoscaler's ``RunOnce``, around the pure planner.

Every ``--scan-interval`` (10 s), on the event loop's clock — and, with
``--frequent-loops-enabled`` (podscaler's default), two seconds after pods turn unschedulable,
so pods a workload autoscaler just added get their nodes without waiting for the scan — one
pass (reference/cluster-autoscaler.md §1):

1. the provider refreshes (on AWS at most once a minute) and the groups are read, with the
   Nodes each holds and the removals in flight;
2. failed scale-ups the provider noticed (a failed launch activity, capacity that never
   came) back their group off and give the capacity back (``ScaleUpFailed``); scale-ups whose
   nodes did not register within ``--max-node-provision-time`` are reverted
   (``ScaleUpTimedOut``);
3. with too many unready nodes (``--ok-total-unready-count`` and
   ``--max-total-unready-percentage``) the pass stops there (``ClusterUnhealthy``);
4. :func:`~podscaler.nodes.plan_scale_up` over the informers' snapshot; the chosen groups
   grow (``ScaledUpGroup``; a refusal backs the group off, ``FailedToScaleUpGroup``); pods get
   ``TriggeredScaleUp`` or, in a pass without a scale-up, ``NotTriggerScaleUp`` with the
   reasons per group;
5. :func:`~podscaler.nodes.plan_scale_down`; each node that may go now is handed to the
   :class:`~podscaler.controllers.nodes.actuation.ScaleDownActuator` (taint, re-check,
   evict, delete) while the loop goes on; an under-used node kept by something a person can
   change gets ``ScaleDownBlocked`` naming it; unneeded nodes get the soft taint
   ``DeletionCandidateOfClusterAutoscaler:PreferNoSchedule`` and nodes needed again lose it
   (:mod:`.softtaint`);
6. the ``cluster-autoscaler-status`` ConfigMap and the ``cluster_autoscaler_*`` metrics.

Events repeat at most every five minutes (CA's de-duplication; ``--record-duplicated-events``
turns that off). The state the planner remembers (scale-up requests, backoffs, unneeded
timers) lives here, as one immutable value replaced each pass. A pass never raises: a failure
is logged, counted in ``cluster_autoscaler_errors_total`` and the next pass tries again.

Run it under leader election (``podscaler run --leader-elect``): two node autoscalers would
provision twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from podscaler.api.meta import GROUP_VERSION
from podscaler.api.reasons import EventType, Reason
from podscaler.controllers.nodes.actuation import ScaleDownActuator
from podscaler.controllers.nodes.inputs import ClusterInputs, PriorityTracker
from podscaler.controllers.nodes.providers import NodeProvider
from podscaler.controllers.nodes.softtaint import SoftTainter, SoftTaintResult
from podscaler.controllers.nodes.status import (
    LAST_UPDATED_ANNOTATION,
    Health,
    NodeCounts,
    StatusBook,
    StatusTemplate,
    blocking_reasons,
    count_nodes,
    dump,
    format_status_time,
    node_explanations,
    pod_explanations,
)
from podscaler.controllers.triggers.headroom import HeadroomBoard, placeholder_owner
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.events import EventRecorder
from podscaler.nodes import (
    AutoscalerState,
    NodeAutoscalerOptions,
    NodeGroupState,
    ScaleDownPlan,
    ScaleUpPlan,
    ScaleUpResult,
    plan_scale_down,
    plan_scale_up,
)
from podscaler.nodes.limits import Usage
from podscaler.nodes.nodestate import NodeState, PodSpecError
from podscaler.nodes.options import CONSTANTS
from podscaler.nodes.pending import is_unschedulable
from podscaler.nodes.plans import UnremovableReason
from podscaler.nodes.priority import PriorityConfig
from podscaler.nodes.providers.base import NodeGroupError
from podscaler.observability.nodemetrics import NodeAutoscalerMetrics

__all__ = ["NodeAutoscaler", "NodeAutoscalerSettings", "PassReport"]

log = logging.getLogger(__name__)

#: CA's event de-duplication window.
DUPLICATE_EVENT_SECONDS: Final = 300.0
#: The status ConfigMap is rewritten when what it says changed, and otherwise only this often
#: (a heartbeat: its ``time``, probe times and last-updated annotation), rather than at the
#: end of every pass as CA does (reference/cluster-autoscaler.md §5.1). Every write is an
#: etcd revision and a watch event to each ConfigMap watcher; the probe times say only "the
#: loop still runs", which five minutes answers as well as ten seconds: a day of an
#: unchanged cluster costs 288 writes instead of CA's 8,640.
STATUS_REFRESH_SECONDS: Final = 300.0


@dataclass(frozen=True)
class NodeAutoscalerSettings:
    """How the loop runs. ``namespace`` holds the status ConfigMap and the priority
    expander's ConfigMap (CA: its own namespace)."""

    options: NodeAutoscalerOptions = field(default_factory=NodeAutoscalerOptions)
    namespace: str = "podscaler"
    dry_run: bool = False
    #: the random expander's seed (replayable simulations)
    seed: int = 0
    sync_timeout_seconds: float | None = None


@dataclass
class PassReport:
    """What one pass did (tests and logs)."""

    at: float
    scale_up: ScaleUpPlan | None = None
    scale_down: ScaleDownPlan | None = None
    scaled: dict[str, int] = field(default_factory=dict)
    removals_started: list[str] = field(default_factory=list)
    soft_taints: SoftTaintResult | None = None
    skipped: str = ""


class NodeAutoscaler:
    """See the module docstring. ``now`` is the wall clock (the sim's under simulation)."""

    def __init__(
        self,
        kube: Kube,
        provider: NodeProvider,
        *,
        now: Callable[[], datetime],
        settings: NodeAutoscalerSettings | None = None,
        recorder: EventRecorder | None = None,
        metrics: NodeAutoscalerMetrics | None = None,
    ) -> None:
        self.kube = kube
        self.provider = provider
        self.now = now
        self.settings = settings or NodeAutoscalerSettings()
        self.options = self.settings.options
        self.recorder = recorder
        self.metrics = metrics or NodeAutoscalerMetrics()
        self.inputs = ClusterInputs(kube, namespace=self.settings.namespace)
        self.inputs.decisions = self.options.scale_up_from_decisions
        self.state = AutoscalerState.initial(self.options)
        self.actuator = ScaleDownActuator(
            kube=kube,
            options=self.options,
            clock=self._unix,
            node_of=lambda name: self.inputs.nodes.get(None, name),
            pods_on=self.inputs.pods_on,
            pdbs=self.inputs.pdbs.items,
            delete_node=self._delete_node,
            emit=self._emit,
            metrics=self.metrics,
            dry_run=self.settings.dry_run,
        )
        self.soft_taints = SoftTainter(
            kube=kube, options=self.options, clock=self._unix, dry_run=self.settings.dry_run
        )
        self.book = StatusBook()
        self.priority = PriorityTracker()
        self.passes = 0
        #: The node groups of the last pass (``group_summary``).
        self.groups: list[NodeGroupState] = []
        self.last: PassReport | None = None
        #: the last pass's "why" per node and per pending pod (status ConfigMap, explain)
        self.explanation: dict[str, Any] = {"nodes": {}, "pods": {}}
        self._status_configmap: dict[str, Any] | None = None
        #: the ``nodes`` and ``pods`` texts last written to the status ConfigMap
        self._written: dict[str, Any] = {}
        #: the status text without its probe times (rendered once per change), and when the
        #: status was last written (loop time)
        self._status_template = StatusTemplate()
        self._status_essence: Any = None
        self._status_written_at = -math.inf
        self._emitted: dict[tuple[str, str, str], float] = {}
        #: each node's capacity (by uid and resourceVersion) as last read (``_node_metrics``)
        self._node_usage: dict[tuple[str, str], Usage | None] = {}
        #: node → (pod, drain rule) that last kept it (explain, between re-checks)
        self._blocked: dict[str, tuple[str, str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        #: set when pods turned unschedulable (``--frequent-loops-enabled``): a pass runs now
        self._wake = asyncio.Event()
        self._wake_timer: asyncio.TimerHandle | None = None
        #: passes run early because pods turned unschedulable (tests, the hand-over figure)
        self.early_passes = 0

    def _unix(self) -> float:
        return self.now().timestamp()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the informers and the loop (the first pass once they have listed)."""
        await self.inputs.start()
        if self.options.frequent_loops_enabled:
            self.inputs.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated)
        if self.options.scale_up_from_decisions:
            # The hand-over from pod autoscaling: a decided scale-up wakes a pass before its
            # pods exist (controllers/triggers/headroom.py).
            HeadroomBoard.for_running_loop().listen(self._scale_up_decided)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node-autoscaler")

    # ---------------------------------------------------------------- frequent loops

    async def _pod_added(self, pod: dict[str, Any]) -> None:
        if is_unschedulable(pod):
            self._pods_turned_unschedulable()

    async def _pod_updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if is_unschedulable(new) and not is_unschedulable(old):
            self._pods_turned_unschedulable()

    def _pods_turned_unschedulable(self) -> None:
        """The scheduler just gave up on a pod: run a pass soon rather than at the next scan
        (CA's ``--frequent-loops-enabled``). This is the hand-over from pod autoscaling: when
        a ScaledObject's scale-up makes pods that fit nowhere, the node module plans for them
        within seconds, not up to a scan interval later. The pass waits out the planner's
        buffer for a burst of pods to be seen together
        (``unschedulable_pod_time_buffer_seconds``); pods turning unschedulable meanwhile
        join the same pass."""
        if self._wake_timer is not None or self._wake.is_set() or not self.synced:
            return
        buffer = float(CONSTANTS["unschedulable_pod_time_buffer_seconds"])
        self._wake_timer = asyncio.get_running_loop().call_later(buffer, self._wake.set)

    def _scale_up_decided(self) -> None:
        """A ScaledObject decided more replicas (or a forecast asks for more): a pass now. No
        buffer to wait out: the decision is one event, its replicas are known in full."""
        if not self.synced:
            return
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
        self._wake.set()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        async with asyncio.timeout(timeout_seconds):
            await self._synced.wait()

    async def aclose(self) -> None:
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.actuator.aclose()
        await self.inputs.aclose()
        await self.provider.aclose()

    async def _run(self) -> None:
        await self.inputs.wait_synced(self.settings.sync_timeout_seconds)
        self._synced.set()
        loop = asyncio.get_running_loop()
        interval = max(0.1, self.options.scan_interval_seconds)
        log.info(
            "node autoscaler started: provider %s, scan interval %gs, expander %s%s",
            self.provider.name,
            interval,
            ",".join(self.options.expander),
            " (dry run)" if self.settings.dry_run else "",
        )
        await self._write_status(initializing=True)
        next_pass = loop.time()
        while True:
            await self.run_once()
            next_pass += interval
            delay = next_pass - loop.time()
            if delay < 0:  # a pass longer than the interval: start the next one now
                next_pass = loop.time()
                delay = 0.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            if self._wake.is_set():
                # an early pass; the regular cadence restarts from it
                self._wake.clear()
                self._wake_timer = None
                self.early_passes += 1
                next_pass = loop.time()

    # ---------------------------------------------------------------- one pass

    @contextmanager
    def _timed(self, function: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.observe(function, time.perf_counter() - started)

    async def run_once(self) -> PassReport:
        """One pass (see the module docstring). Never raises (but cancellation)."""
        now = self._unix()
        report = PassReport(now)
        self.passes += 1
        self.metrics.last_activity.labels(activity="main").set(now)
        try:
            with self._timed("main"):
                await self._pass(report, now)
            self.metrics.observe("mainSuccessful", 0.0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("node autoscaler pass failed")
            self.metrics.errors_total.labels(type="internalError").inc()
        self.last = report
        self._forget_old_events(now)
        return report

    async def _pass(self, report: PassReport, now: float) -> None:
        options = self.options
        for outcome in self.actuator.take_outcomes():
            if outcome.deleted:
                self.metrics.last_activity.labels(activity="scaleDown").set(outcome.at)
            else:
                self.state = self.state.scale_down_failed(outcome.at)
        with self._timed("cloudProviderRefresh"):
            try:
                await self.provider.refresh()
            except NodeGroupError as exc:
                log.warning("node groups could not be refreshed: %s", exc)
                self.metrics.errors_total.labels(type="cloudProviderError").inc()
                report.skipped = f"the cloud provider could not be read: {exc}"
                await self._write_status(message=report.skipped)
                return
        with self._timed("updateClusterState"):
            nodes = self.inputs.node_list()
            groups = self._groups(nodes)
            if self.provider.wants_refresh():
                # a Node of a just-launched instance the cached groups do not list yet
                with contextlib.suppress(NodeGroupError):
                    await self.provider.refresh()
                groups = self._groups(nodes)
            changed = await self._settle_failures(groups, now)
            if changed:
                groups = self._groups(nodes)
        deleting = set(self.actuator.in_flight)
        counts = count_nodes(nodes, now, options.max_node_startup_time_seconds, deleting)
        health = Health.of(
            counts, options.max_total_unready_percentage, options.ok_total_unready_count
        )
        self.metrics.cluster_safe_to_autoscale.set(1 if health.healthy else 0)
        self._node_metrics(nodes, groups, counts)
        if not health.healthy:
            message = (
                f"Cluster has {counts.unready} unready nodes out of {counts.total}; "
                "autoscaling waits until fewer are unready"
            )
            self._emit_cluster(Reason.ClusterUnhealthy, message)
            report.skipped = message
            await self._write_status(groups=groups, nodes=nodes, health=health, message=message)
            return
        snapshot = self.inputs.snapshot()
        unschedulable = sum(1 for p in snapshot.pods if is_unschedulable(p))
        self.metrics.unschedulable_pods_count.labels(type="unschedulable").set(unschedulable)
        priorities = self._priorities()
        with self._timed("scaleUp"):
            if unschedulable:
                up = plan_scale_up(
                    snapshot,
                    groups,
                    options,
                    now,
                    state=self.state,
                    priorities=priorities,
                    seed=self.settings.seed + self.passes,
                )
            else:  # nothing Pending for want of a node: no cluster to build for the answer
                up = ScaleUpPlan(ScaleUpResult.NOT_NEEDED)
        report.scale_up = up
        await self._scale_up(up, groups, now, report)
        for warning in up.warnings:
            log.warning("%s", warning)
        with self._timed("findUnneeded"):
            down = plan_scale_down(snapshot, groups, self.state, options, now, scale_up=up)
        report.scale_down = down
        self.state = down.state
        with self._timed("scaleDown"):
            self._scale_down(down, now, report)
            if options.max_bulk_soft_taint_count > 0:
                unneeded = {u.node for u in down.unneeded}
                report.soft_taints = await self.soft_taints.update(
                    nodes, unneeded, set(self.actuator.in_flight)
                )
        self._down_metrics(down)
        self._remember_blocking(down)
        self.explanation = {
            "nodes": node_explanations(groups, nodes, down, self.actuator.steps(), self._blocked),
            "pods": pod_explanations(up),
        }
        self.metrics.last_activity.labels(activity="autoscaling").set(now)
        await self._write_status(groups=groups, nodes=nodes, health=health, scale_down=down)

    def _remember_blocking(self, down: ScaleDownPlan) -> None:
        kept = {}
        for entry in down.unremovable:
            if entry.blocking_pod and entry.blocking_rule:
                kept[entry.node] = (entry.blocking_pod, entry.blocking_rule.value)
            elif (
                entry.reason is UnremovableReason.RECENTLY_UNREMOVABLE
                and entry.node in self._blocked
            ):
                kept[entry.node] = self._blocked[entry.node]
        self._blocked = kept

    def _groups(self, nodes: list[dict[str, Any]]) -> list[NodeGroupState]:
        return self.provider.group_states(nodes, self.actuator.deleting_by_group())

    async def _settle_failures(self, groups: list[NodeGroupState], now: float) -> bool:
        """Failed and timed-out scale-ups: back off, give capacity back. True when a group's
        size changed."""
        changed = False
        for failure in self.provider.failures(now, self.options):
            self.state = self.state.scale_up_failed(
                failure.group, failure.error_code, failure.message, now, failure.failed_nodes
            )
            self.metrics.failed_scale_up(failure.error_code)
            self._emit_cluster(Reason.ScaleUpFailed, failure.message)
            log.warning("scale-up of %s failed: %s", failure.group, failure.message)
            if not self.settings.dry_run:
                try:
                    changed = bool(await self.provider.give_back(failure.group)) or changed
                except NodeGroupError as exc:
                    log.warning("could not give back the capacity of %s: %s", failure.group, exc)
        self.state, timeouts = self.state.observe(groups, now)
        for timeout in timeouts:
            message = (
                f"Nodes added to group {timeout.group} failed to register within "
                f"{self.options.max_node_provision_time_seconds:g}s"
            )
            self.metrics.failed_scale_up("timeout")
            self._emit_cluster(Reason.ScaleUpTimedOut, message)
            log.warning("%s", message)
            if self.settings.dry_run:
                continue
            try:
                await self.provider.revert(timeout.group, timeout.increase)
                changed = True
            except NodeGroupError as exc:
                self._emit_cluster(
                    Reason.FailedToRevertScaleUp,
                    f"Failed to revert the scale-up of {timeout.group}: {exc}",
                )
        return changed

    def _priorities(self) -> PriorityConfig | None:
        """The priority expander's configuration: the last good one; a ConfigMap that just
        turned unreadable gets ``PriorityConfigMapInvalid``."""
        configmap = self.inputs.priority_configmap_object()
        update = self.priority.read(configmap)
        if update.error is not None and configmap is not None:
            self._emit(configmap, Reason.PriorityConfigMapInvalid, update.error.message)
            log.warning("%s", update.error.message)
        return update.config

    async def _scale_up(
        self, up: ScaleUpPlan, groups: list[NodeGroupState], now: float, report: PassReport
    ) -> None:
        for event in up.events:
            target = self.inputs.priority_configmap_object()
            if event.reason.startswith("PriorityConfigMap") and target is not None:
                self._emit(target, event.reason, event.message, event.type)
            else:
                self._emit_cluster(event.reason, event.message, event.type)
        done = []
        for change in up.scale_ups:
            if self.settings.dry_run:
                continue
            group = self.provider.node_group(change.group)
            try:
                if group is None:
                    raise NodeGroupError(f"node group {change.group} is not registered")
                await group.increase_size(change.delta)
            except NodeGroupError as exc:
                self.state = self.state.scale_up_failed(
                    change.group, "cloudProviderError", str(exc), now
                )
                self.metrics.failed_scale_up("cloudProviderError")
                self._emit_cluster(
                    Reason.FailedToScaleUpGroup,
                    f"Scale-up failed for group {change.group}: {exc}",
                )
                log.warning("scale-up of %s failed: %s", change.group, exc)
                continue
            self.state = self.state.scaled_up(change.group, change.delta, now, self.options)
            self.metrics.scaled_up(change.delta)
            self.metrics.last_activity.labels(activity="scaleUp").set(now)
            self._emit_cluster(
                Reason.ScaledUpGroup,
                f"Scale-up: group {change.group} size set to {change.new_size} instead of "
                f"{change.current_size} (max: {change.max_size})",
            )
            log.info(
                "scale-up: node group %s %d -> %d (max %d) for %d pods",
                change.group,
                change.current_size,
                change.new_size,
                change.max_size,
                len(up.triggered),
            )
            report.scaled[change.group] = change.delta
            done.append(change)
        pods = self._pods_by_key()
        if done and len(done) == len(up.scale_ups):
            message = up.triggered_message()
            owners: set[tuple[str, str]] = set()
            for key in up.triggered:
                pod = pods.get(key)
                if pod is not None:
                    self._emit(pod, Reason.TriggeredScaleUp, message)
                    continue
                namespace, _, name = key.partition("/")
                owner = placeholder_owner(name)
                if owner is not None:
                    owners.add((namespace, owner))
            for namespace, owner in sorted(owners):
                # Placeholders stood for pods not created yet: the Event goes to the
                # ScaledObject whose decision (or forecast) they stood for.
                scaled_object = {
                    "apiVersion": GROUP_VERSION,
                    "kind": "ScaledObject",
                    "metadata": {"namespace": namespace, "name": owner},
                }
                self._emit(scaled_object, Reason.TriggeredScaleUp, message)
        elif up.emits_not_triggered:
            for outcome in up.remaining:
                pod = pods.get(outcome.pod)
                if pod is not None:
                    self._emit(pod, Reason.NotTriggerScaleUp, up.not_triggered_message(outcome))

    def _pods_by_key(self) -> dict[str, dict[str, Any]]:
        found = {}
        for pod in self.inputs.pods.items():
            meta = pod.get("metadata") or {}
            found[f"{meta.get('namespace')}/{meta.get('name')}"] = pod
        return found

    def _scale_down(self, down: ScaleDownPlan, now: float, report: PassReport) -> None:
        started = []
        for removal in down.removals:
            if self.actuator.start(removal):
                started.append(removal.node)
                report.removals_started.append(removal.node)
                util = removal.utilization
                if removal.empty:
                    self._emit_cluster(
                        Reason.ScaleDownEmpty, f"Scale-down: removing empty node {removal.node}"
                    )
                else:
                    self._emit_cluster(
                        Reason.ScaleDown,
                        f"Scale-down: removing node {removal.node}, utilization: "
                        f"{{cpu: {util.cpu:.3f}, memory: {util.memory:.3f}}}, pods to reschedule: "
                        + ",".join(removal.pods_to_move),
                    )
                log.info(
                    "scale-down: removing %s node %s (%s)",
                    removal.reason,
                    removal.node,
                    removal.group,
                )
        if started and not self.settings.dry_run:
            self.state = self.state.scaled_down(started, now)
        blocking = blocking_reasons()
        for kept in down.unremovable:
            if kept.reason not in blocking:
                continue
            node = self.inputs.nodes.get(None, kept.node)
            if node is None:
                continue
            what = kept.detail or kept.reason.value
            if kept.blocking_pod:
                rule = kept.blocking_rule.value if kept.blocking_rule else kept.reason.value
                note = f"node is not removed: pod {kept.blocking_pod} blocks it ({rule}): {what}"
            else:
                note = f"node is not removed ({kept.reason.value}): {what}"
            self._emit(node, Reason.ScaleDownBlocked, note)

    async def _delete_node(self, group_id: str, node: str) -> None:
        group = self.provider.node_group(group_id)
        if group is None:
            raise NodeGroupError(f"node group {group_id} is not registered")
        await group.delete_nodes([node])

    # ---------------------------------------------------------------- metrics

    def group_summary(self) -> list[dict[str, Any]]:
        """Each node group at the last pass, with its backoff (``podscaler status``)."""
        now = self._unix()
        summary = []
        for group in self.groups:
            backoff = self.state.backoff.status(group.id, now)
            summary.append(
                {
                    "name": group.id,
                    "min": group.min_size,
                    "max": group.max_size,
                    "target": group.target_size,
                    "registered": len(group.node_names),
                    "backoff": (backoff.error_code or "unknown") if backoff.backed_off else None,
                }
            )
        return summary

    def _node_metrics(
        self, nodes: list[dict[str, Any]], groups: list[NodeGroupState], counts: NodeCounts
    ) -> None:
        unregistered = sum(max(0, g.target_size - g.registered) for g in groups)
        self.metrics.set_nodes(
            {
                "ready": counts.ready,
                "unready": counts.unready,
                "notStarted": counts.not_started,
                "unregistered": unregistered,
            }
        )
        self.groups = groups
        self.metrics.node_groups_count.labels(node_group_type="autoscaled").set(len(groups))
        self.metrics.max_nodes_count.set(sum(g.max_size for g in groups))
        usage = Usage()
        known: dict[tuple[str, str], Usage | None] = {}
        for node in nodes:
            meta = node.get("metadata") or {}
            key = (str(meta.get("uid") or meta.get("name")), str(meta.get("resourceVersion")))
            if key in self._node_usage:
                of_node = self._node_usage[key]
            else:
                try:
                    of_node = Usage.of_node(NodeState.build(node))
                except PodSpecError:
                    of_node = None
            known[key] = of_node
            if of_node is not None:
                usage = usage + of_node
        # a node's capacity is read again only when the node changed (most passes: none did)
        self._node_usage = known
        self.metrics.cluster_cpu_current_cores.set(usage.cores)
        self.metrics.cluster_memory_current_bytes.set(usage.memory_bytes)
        o = self.options
        self.metrics.cpu_limits_cores.labels(direction="minimum").set(o.cores_total[0])
        self.metrics.cpu_limits_cores.labels(direction="maximum").set(o.cores_total[1])
        self.metrics.memory_limits_bytes.labels(direction="minimum").set(o.memory_total_bytes[0])
        self.metrics.memory_limits_bytes.labels(direction="maximum").set(o.memory_total_bytes[1])
        now = self._unix()
        backed = {}
        for group in groups:
            status = self.state.backoff.status(group.id, now)
            if status.backed_off:
                backed[group.id] = status.error_code or "unknown"
        self.metrics.set_backoffs(backed)
        if o.emit_per_nodegroup_metrics:
            self.metrics.set_groups(
                {g.id: (g.min_size, g.max_size, g.target_size, True) for g in groups}
            )

    def _down_metrics(self, down: ScaleDownPlan) -> None:
        self.metrics.unneeded_nodes_count.set(len(down.unneeded))
        reasons: dict[str, int] = {}
        for kept in down.unremovable:
            reasons[kept.reason.value] = reasons.get(kept.reason.value, 0) + 1
        self.metrics.set_unremovable(reasons)
        self.metrics.scale_down_in_cooldown.set(1 if down.cooldown else 0)

    # ---------------------------------------------------------------- events and status

    def _emit(
        self,
        regarding: Mapping[str, Any],
        reason: Reason | str,
        note: str,
        type_: EventType | str | None = None,
    ) -> None:
        if self.recorder is None:
            return
        meta = regarding.get("metadata") or {}
        identity = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
        key = (identity, str(reason), note)
        now = self._unix()
        if not self.options.record_duplicated_events:
            last = self._emitted.get(key)
            if last is not None and now - last < DUPLICATE_EVENT_SECONDS:
                return
            self._emitted[key] = now
        self.recorder.record(regarding, reason, note, type_=type_, action="Autoscale")

    def _emit_cluster(
        self, reason: Reason | str, note: str, type_: EventType | str | None = None
    ) -> None:
        """An Event on the status ConfigMap (CA's ``LogRecorder``)."""
        if self._status_configmap is not None:
            self._emit(self._status_configmap, reason, note, type_)

    def _forget_old_events(self, now: float) -> None:
        if len(self._emitted) < 1024:
            return
        self._emitted = {
            k: t for k, t in self._emitted.items() if now - t < DUPLICATE_EVENT_SECONDS
        }

    async def _write_status(
        self,
        *,
        groups: list[NodeGroupState] | None = None,
        nodes: list[dict[str, Any]] | None = None,
        health: Health | None = None,
        scale_down: ScaleDownPlan | None = None,
        initializing: bool = False,
        message: str = "",
    ) -> None:
        if not self.options.write_status_configmap:
            return
        moment = self.now().astimezone(UTC)
        nodes = nodes if nodes is not None else self.inputs.node_list()
        groups = groups if groups is not None else []
        deleting = set(self.actuator.in_flight)
        if health is None:
            counts = count_nodes(
                nodes, moment.timestamp(), self.options.max_node_startup_time_seconds, deleting
            )
            health = Health.of(
                counts,
                self.options.max_total_unready_percentage,
                self.options.ok_total_unready_count,
            )
        document = self.book.status(
            moment,
            groups=groups,
            nodes=nodes,
            state=self.state,
            scale_down=scale_down,
            options_startup_seconds=self.options.max_node_startup_time_seconds,
            health=health,
            deleting=deleting,
            initializing=initializing,
            message=message,
        )
        stamp = format_status_time(moment)
        # The why per node and pod is rewritten only when it changed: at a thousand nodes it
        # is most of the ConfigMap, and every write is an etcd revision and a watch event.
        # Compared as values, dumped only when changed: most passes change neither.
        explained = {"nodes": self.explanation["nodes"], "pods": self.explanation["pods"]}
        changed = [
            key
            for key, value in explained.items()
            if self._status_configmap is None or self._written.get(key) != value
        ]
        self._status_template.update(document)
        # the template keeps its essence object until the status says something else
        said_else = self._status_template.essence is not self._status_essence
        loop_now = asyncio.get_running_loop().time()
        if (
            not changed
            and not initializing
            and not said_else
            and loop_now - self._status_written_at < STATUS_REFRESH_SECONDS
        ):
            return
        data = {"status": self._status_template.text()}
        data.update({key: dump(explained[key]) for key in changed})
        name = self.options.status_config_map_name
        namespace = self.settings.namespace
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        body = {
            "metadata": {"annotations": {LAST_UPDATED_ANNOTATION: stamp}},
            "data": data,
        }
        try:
            try:
                written = await self.kube.request(
                    "PATCH", f"{path}/{name}", body=body, content_type=MERGE_PATCH
                )
            except NotFound:
                created = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "annotations": {LAST_UPDATED_ANNOTATION: stamp},
                    },
                    "data": data,
                }
                written = await self.kube.request("POST", path, body=created)
        except KubeError as exc:
            log.warning("could not write the status ConfigMap %s/%s: %s", namespace, name, exc)
            self.metrics.errors_total.labels(type="apiCallError").inc()
            return
        self._status_configmap = written
        self._status_essence = self._status_template.essence
        self._status_written_at = loop_now
        written_data = written.get("data") or {}
        # what the server holds now, as values (a key the write did not carry is unchanged)
        self._written = {k: explained[k] for k in explained if k in written_data}
