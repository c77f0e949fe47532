"""The ProportionalScaler controller: add-on replicas follow the cluster's size, at once.

Inputs, all watched (no polling of the cluster):

* Nodes, through one informer (trimmed to what counting reads): every event updates the
  tallies of the node selectors in use (:mod:`.nodes`); a tally that moved wakes the scalers
  that count it. A node group growing by one reaches the add-on's ``/scale`` within
  milliseconds of the Node turning Ready.
* ProportionalScalers (one namespace or all): a new generation is resolved again.
* The CPA ConfigMaps they reference, each by name (:mod:`.configmaps`).
* Optionally CPA's own flags (:mod:`.flags`): targets scaled from one ConfigMap, as
  ``cluster-proportional-autoscaler`` would.

Per scaler, a decision is :func:`podscaler.engine.cpa.decide` over the tally. The target's
``/scale`` is read and written only when the decided count differs from the last one applied
(or the target changed), and every ``resync_seconds`` — so a replica count someone else changed
is put back, as upstream does on each poll. Status is written when it changes.

Parameters that do not parse — an invalid spec, a malformed ConfigMap, a missing one — leave
the last good parameters in force: the ``ParametersValid`` condition turns False with the
reason and CPA's error, and a Warning Event says so. (Upstream CPA drops its controller on a bad
ConfigMap and stops scaling until it is fixed; keeping the last good parameters keeps the
add-on sized to the cluster meanwhile.) With no good parameters ever, nothing is scaled and
``Ready`` is False.

Each scaler's work runs in its own task, one at a time per scaler; changes that arrive while
it runs make it run once more (coalesced), so a burst of node events costs one decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from podscaler.api.meta import API_GROUP, API_VERSION
from podscaler.api.proportionalscaler import (
    ProportionalScaler,
    node_label_selector,
    proportional_scaler_problems,
)
from podscaler.api.reasons import Reason
from podscaler.api.selectors import LabelSelector
from podscaler.controllers.proportional.configmaps import ConfigMapWatches
from podscaler.controllers.proportional.flags import CpaFlags, FlagTarget
from podscaler.controllers.proportional.nodes import NODES, NodeCounts, trim_node
from podscaler.controllers.proportional.status import Problem, compose_status
from podscaler.engine.cpa import (
    Decision,
    LadderParams,
    LinearParams,
    Params,
    ParamsError,
    check_ladder,
    check_linear,
    decide,
    parse_config_data,
)
from podscaler.kube.clients import Kube
from podscaler.kube.errors import AlreadyExists, KubeError, NoScaleSubresource, NotFound
from podscaler.kube.events import EventRecorder
from podscaler.kube.informers import Informer, compact
from podscaler.kube.kinds import CONFIGMAPS, PROPORTIONAL_SCALERS
from podscaler.kube.resources import Discovery
from podscaler.kube.scaling import ScaleClient, ScaleRef
from podscaler.kube.statuses import patch_status
from podscaler.observability.proportionalmetrics import ProportionalMetrics

__all__ = [
    "PROPORTIONAL_SCALERS",
    "ProportionalController",
    "ProportionalSettings",
    "ScalerState",
    "proportional_crd_installed",
    "start_proportional_controller",
]

log = logging.getLogger(__name__)


Key = tuple[str, str]
Obj = dict[str, Any]


@dataclass(frozen=True)
class ProportionalSettings:
    #: Watch ProportionalScaler objects (off when the CRD is not installed: CPA flags only).
    watch_scalers: bool = True
    dry_run: bool = False
    #: How often each target's /scale is re-read to put back a count changed behind our back
    #: (CPA's --poll-period-seconds; decisions themselves never wait for it).
    resync_seconds: float = 10.0
    #: Delay before retrying a target that could not be read or written.
    retry_seconds: float = 5.0
    #: CPA's own flags (--configmap/--target/...), or None.
    flags: CpaFlags | None = None


@dataclass(frozen=True)
class InForce:
    """The configuration a scaler is deciding with: the last good one."""

    target: ScaleRef
    selector_key: str
    params: Params
    source: str


@dataclass
class ScalerState:
    """One ProportionalScaler (``obj``), or one ``--target`` of CPA's flags (``flag``)."""

    key: Key
    obj: Obj | None = None
    flag: FlagTarget | None = None
    resolved_generation: int | None = None
    config_map: Key | None = None
    config_map_version: str | None = None
    in_force: InForce | None = None
    parameters_problem: Problem | None = None
    target_problem: Problem | None = None
    #: (target, replicas) last known to be on the target's /scale
    applied: tuple[ScaleRef, int] | None = None
    decision: Decision | None = None
    last_scale_time: datetime | None = None
    written_status: Obj | None = None
    needs_resolve: bool = True
    check_scale: bool = False
    again: bool = False
    task: asyncio.Task[None] | None = None
    retry: asyncio.TimerHandle | None = None
    acquired_selectors: list[str] = field(default_factory=list)

    @property
    def generation(self) -> int | None:
        value = ((self.obj or {}).get("metadata") or {}).get("generation")
        return value if isinstance(value, int) else None

    def describe(self) -> str:
        if self.flag is not None:
            return f"--target {self.flag}"
        return f"ProportionalScaler {self.key[0]}/{self.key[1]}"


def _params_from_spec(ps: ProportionalScaler) -> Params:
    spec = ps.spec
    if spec.linear is not None:
        linear = spec.linear
        return check_linear(
            LinearParams(
                cores_per_replica=linear.cores_per_replica or 0.0,
                nodes_per_replica=linear.nodes_per_replica or 0.0,
                min=linear.min or 0,
                max=linear.max or 0,
                prevent_single_point_failure=bool(linear.prevent_single_point_failure),
                include_unschedulable_nodes=bool(linear.include_unschedulable_nodes),
            )
        )
    assert spec.ladder is not None
    ladder = spec.ladder
    return check_ladder(
        LadderParams(
            cores_to_replicas=tuple((s[0], s[1]) for s in ladder.cores_to_replicas or ()),
            nodes_to_replicas=tuple((s[0], s[1]) for s in ladder.nodes_to_replicas or ()),
            include_unschedulable_nodes=bool(ladder.include_unschedulable_nodes),
        )
    )


async def proportional_crd_installed(kube: Kube) -> bool:
    """Whether the API serves ProportionalScalers (the CRD is installed)."""
    try:
        await Discovery(kube).resolve(f"{API_GROUP}/{API_VERSION}", "ProportionalScaler")
    except NotFound:
        return False
    return True


class ProportionalController:
    """Watches Nodes, ProportionalScalers and their ConfigMaps; see the module docstring."""

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None,
        now: Callable[[], datetime],
        settings: ProportionalSettings | None = None,
        recorder: EventRecorder | None = None,
        metrics: ProportionalMetrics | None = None,
    ) -> None:
        self.kube = kube
        self.metrics = metrics
        self.namespace = namespace
        self.now = now
        self.settings = settings or ProportionalSettings()
        self.recorder = recorder
        self.scales = ScaleClient(kube, Discovery(kube))
        self.counts = NodeCounts()
        self.node_informer = Informer(kube, NODES, transform=trim_node)
        self.scaler_informer: Informer | None = None
        if self.settings.watch_scalers:
            self.scaler_informer = Informer(
                kube, PROPORTIONAL_SCALERS, namespace=namespace, transform=compact
            )
        self.config_maps = ConfigMapWatches(kube, self._config_map_changed)
        self.states: dict[Key, ScalerState] = {}
        self._by_selector: dict[str, set[Key]] = {}
        self._ready = False
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Decisions made (for tests and metrics).
        self.decisions = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.node_informer.add_handler(
            on_add=self._node_added, on_update=self._node_updated, on_delete=self._node_deleted
        )
        self.node_informer.start()
        if self.scaler_informer is not None:
            self.scaler_informer.add_handler(
                on_add=self._scaler_added,
                on_update=self._scaler_updated,
                on_delete=self._scaler_deleted,
            )
            self.scaler_informer.start()
        flags = self.settings.flags
        if flags is not None:
            for target in flags.targets:
                key = (flags.namespace, f"--target {target}")
                self.states[key] = ScalerState(key, flag=target)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._when_synced(), name="proportional-sync"))

    async def _when_synced(self) -> None:
        """Decide nothing until the node counts are whole: a scaler that decided on a half-
        listed cluster would shrink its add-on."""
        await self.node_informer.wait_synced()
        await self.node_informer.drain()
        if self.scaler_informer is not None:
            await self.scaler_informer.wait_synced()
            await self.scaler_informer.drain()
        self._ready = True
        self._synced.set()
        log.info(
            "proportional controller synced: %d nodes, %d scalers", len(self.counts), len(self)
        )
        for state in list(self.states.values()):
            self._mark(state)
        if self.settings.resync_seconds > 0:
            while True:
                await asyncio.sleep(self.settings.resync_seconds)
                for state in list(self.states.values()):
                    state.check_scale = True
                    self._mark(state)

    def __len__(self) -> int:
        return len(self.states)

    @property
    def synced(self) -> bool:
        return self._ready

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        async with asyncio.timeout(timeout_seconds):
            await self._synced.wait()

    async def drain(self) -> None:
        """Wait until every queued event and decision has been handled (tests)."""
        await self.node_informer.drain()
        if self.scaler_informer is not None:
            await self.scaler_informer.drain()
        while True:
            tasks = [s.task for s in self.states.values() if s.task is not None]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.node_informer.aclose()
        if self.scaler_informer is not None:
            await self.scaler_informer.aclose()
        for state in list(self.states.values()):
            await self._forget(state)
        await self.config_maps.aclose()

    # ---------------------------------------------------------------- events in

    async def _node_added(self, node: Obj) -> None:
        self._counts_changed(self.counts.put(node))

    async def _node_updated(self, old: Obj, node: Obj) -> None:
        self._counts_changed(self.counts.put(node))

    async def _node_deleted(self, node: Obj) -> None:
        self._counts_changed(self.counts.remove(node))

    def _counts_changed(self, keys: set[str]) -> None:
        for selector_key in keys:
            for key in self._by_selector.get(selector_key, ()):
                state = self.states.get(key)
                if state is not None:
                    self._mark(state)

    async def _scaler_added(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = ScalerState(key, obj=obj)
        state.obj = obj
        state.needs_resolve = True
        self._mark(state)

    async def _scaler_updated(self, old: Obj, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        state = self.states.get(key)
        if state is None:
            await self._scaler_added(obj)
            return
        state.obj = obj
        # Our own status writes come back as updates: only a new generation is news.
        if state.generation != state.resolved_generation:
            state.needs_resolve = True
            self._mark(state)

    async def _scaler_deleted(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        state = self.states.pop(key, None)
        if state is not None:
            await self._forget(state)

    def _config_map_changed(self, config_map: Key) -> None:
        for state in list(self.states.values()):
            if state.config_map == config_map:
                state.needs_resolve = True
                self._mark(state)

    async def _forget(self, state: ScalerState) -> None:
        if state.retry is not None:
            state.retry.cancel()
        task, state.task = state.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._set_selector(state, None)
        if self.metrics is not None:
            self.metrics.forget(*state.key)
        if state.config_map is not None:
            await self.config_maps.release(state.config_map)
            state.config_map = None

    # ---------------------------------------------------------------- the work queue

    def _mark(self, state: ScalerState) -> None:
        """Run *state*'s reconcile soon: now, or once more after the running one."""
        if not self._ready or self.states.get(state.key) is not state:
            return
        if state.task is not None:
            state.again = True
            return
        state.task = asyncio.get_running_loop().create_task(
            self._run(state), name=f"proportional-{state.key[0]}/{state.key[1]}"
        )

    async def _run(self, state: ScalerState) -> None:
        try:
            while True:
                state.again = False
                try:
                    await self._reconcile(state)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s: reconcile failed", state.describe())
                    self._retry_later(state)
                if not state.again:
                    return
        finally:
            state.task = None

    def _retry_later(self, state: ScalerState) -> None:
        if state.retry is not None:
            state.retry.cancel()

        def fire() -> None:
            state.retry = None
            state.check_scale = True
            self._mark(state)

        state.retry = asyncio.get_running_loop().call_later(self.settings.retry_seconds, fire)

    # ---------------------------------------------------------------- resolving parameters

    def _set_selector(self, state: ScalerState, selector: LabelSelector | None) -> str | None:
        """Count the nodes *selector* matches for *state* (releasing what it counted before)."""
        key = None if selector is None else str(selector)
        if state.acquired_selectors == ([key] if key is not None else []):
            return key
        for old in state.acquired_selectors:
            self.counts.release(old)
            users = self._by_selector.get(old)
            if users is not None:
                users.discard(state.key)
                if not users:
                    del self._by_selector[old]
        state.acquired_selectors = []
        if selector is not None:
            key = self.counts.acquire(selector)
            state.acquired_selectors = [key]
            self._by_selector.setdefault(key, set()).add(state.key)
        return key

    async def _set_config_map(self, state: ScalerState, config_map: Key | None) -> None:
        if state.config_map == config_map:
            return
        old, state.config_map = state.config_map, config_map
        state.config_map_version = None
        if config_map is not None:
            self.config_maps.acquire(config_map)
        if old is not None:
            await self.config_maps.release(old)

    def _refuse(self, state: ScalerState, reason: Reason, message: str) -> None:
        """New parameters were refused: say so, and what stays in force."""
        if state.in_force is not None:
            message += f"; the last good parameters ({state.in_force.source}) stay in force"
        else:
            message += "; nothing is scaled until this is fixed"
        problem = Problem(str(reason), message)
        if state.parameters_problem != problem:
            log.warning("%s: %s", state.describe(), message)
            self._event(state, reason, message)
        state.parameters_problem = problem

    def _accept(self, state: ScalerState, in_force: InForce) -> None:
        previous = state.in_force
        state.in_force = in_force
        state.parameters_problem = None
        if previous is None or (previous.params, previous.source) != (
            in_force.params,
            in_force.source,
        ):
            self._event(
                state,
                Reason.ProportionalScalerReady,
                f"{in_force.params.mode} parameters from {in_force.source} are in force",
            )

    async def _resolve(self, state: ScalerState) -> None:
        state.needs_resolve = False
        flags = self.settings.flags
        spec_params: Params | None = None
        if state.flag is not None:
            assert flags is not None
            namespace = flags.namespace
            target = ScaleRef(state.flag.api_version, state.flag.kind, namespace, state.flag.name)
            selector = flags.node_selector
            config_map: Key | None = (namespace, flags.configmap)
        else:
            assert state.obj is not None
            state.resolved_generation = state.generation
            ps, problems = proportional_scaler_problems(state.obj)
            if ps is None or problems:
                text = "; ".join(str(p) for p in problems)
                self._refuse(state, Reason.ProportionalParametersInvalid, f"invalid spec: {text}")
                return
            namespace = state.key[0]
            ref = ps.spec.scale_target_ref
            target = ScaleRef(ref.effective_api_version, ref.effective_kind, namespace, ref.name)
            selector = node_label_selector(ps.spec)
            config_map = None
            if ps.spec.config_map_ref is not None:
                config_map = (namespace, ps.spec.config_map_ref.name)
            else:
                try:
                    spec_params = _params_from_spec(ps)
                except ParamsError as exc:
                    self._refuse(state, Reason.ProportionalParametersInvalid, f"spec: {exc}")
                    return
        selector_key = self._set_selector(state, selector)
        assert selector_key is not None
        await self._set_config_map(state, config_map)
        if spec_params is not None:
            self._accept(state, InForce(target, selector_key, spec_params, "spec"))
            return
        assert config_map is not None
        if state.in_force is not None:
            # The target and node selector follow the spec whatever the ConfigMap holds.
            state.in_force = replace(state.in_force, target=target, selector_key=selector_key)
        if not self.config_maps.synced(config_map):
            return  # resolved again once its informer has listed
        name = f"ConfigMap {config_map[0]}/{config_map[1]}"
        cm = self.config_maps.get(config_map)
        if cm is None:
            state.config_map_version = None
            if flags is not None and state.flag is not None and flags.default_params:
                await self._create_default_config_map(state, config_map, flags.default_params)
                return
            self._refuse(state, Reason.ProportionalConfigMapNotFound, f"{name} not found")
            return
        version = str((cm.get("metadata") or {}).get("resourceVersion") or "")
        if version == state.config_map_version and state.in_force is not None:
            return  # parameters are re-read only when the ConfigMap changed (as upstream)
        state.config_map_version = version
        try:
            params = parse_config_data(cm.get("data") or {})
        except ParamsError as exc:
            self._refuse(state, Reason.ProportionalParametersInvalid, f"{name}: {exc}")
            return
        source = f"{name} (resourceVersion {version})"
        self._accept(state, InForce(target, selector_key, params, source))

    async def _create_default_config_map(
        self, state: ScalerState, config_map: Key, data: Mapping[str, str]
    ) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map[1], "namespace": config_map[0]},
            "data": dict(data),
        }
        try:
            await self.kube.request("POST", CONFIGMAPS.path(config_map[0]), body=body)
        except AlreadyExists:
            return  # another target of the same flags created it; its watch event follows
        except KubeError as exc:
            self._refuse(
                state,
                Reason.ProportionalConfigMapNotFound,
                f"ConfigMap {config_map[0]}/{config_map[1]} not found and could not be "
                f"created from --default-params: {exc}",
            )
            self._retry_later(state)
            return
        self._event(
            state,
            Reason.ProportionalConfigMapCreated,
            f"created ConfigMap {config_map[0]}/{config_map[1]} from --default-params",
        )

    # ---------------------------------------------------------------- deciding and applying

    async def _reconcile(self, state: ScalerState) -> None:
        if state.needs_resolve:
            await self._resolve(state)
        in_force = state.in_force
        if in_force is not None:
            decision = decide(in_force.params, self.counts.status(in_force.selector_key))
            self.decisions += 1
            state.decision = decision
            if self.metrics is not None:
                self.metrics.decided(
                    *state.key,
                    replicas=decision.replicas,
                    nodes=decision.nodes,
                    cores=decision.cores,
                )
            wanted = (in_force.target, decision.replicas)
            if state.applied != wanted or state.check_scale:
                state.check_scale = False
                await self._apply(state, in_force.target, decision)
        if self.metrics is not None:
            self.metrics.problems(
                *state.key,
                parameters=state.parameters_problem is not None,
                target=state.target_problem is not None,
            )
        await self._write_status(state)

    async def _apply(self, state: ScalerState, target: ScaleRef, decision: Decision) -> None:
        replicas = decision.replicas
        try:
            scale = await self.scales.get_scale(target)
            if scale.replicas != replicas and not self.settings.dry_run:
                await self.scales.set_replicas(target, replicas)
                state.last_scale_time = self.now()
                self._event(
                    state,
                    Reason.ProportionalTargetScaled,
                    f"{target.kind} {target.namespace}/{target.name}: {scale.replicas} -> "
                    f"{replicas} replicas ({decision.summary()})",
                )
                log.info(
                    "%s: %s %s/%s %d -> %d (%s)",
                    state.describe(),
                    target.kind,
                    target.namespace,
                    target.name,
                    scale.replicas,
                    replicas,
                    decision.rule,
                )
        except NotFound as exc:
            self._target_failed(state, Reason.ScaleTargetNotFound, f"{target}: {exc.message}")
            return
        except NoScaleSubresource as exc:
            self._target_failed(state, Reason.ScaleTargetNotScalable, str(exc))
            return
        except KubeError as exc:
            self._target_failed(state, Reason.ScaleFailed, f"{target}: {exc}")
            return
        state.applied = (target, replicas)
        state.target_problem = None
        if self.metrics is not None:
            self.metrics.scale_update(*state.key, ok=True)

    def _target_failed(self, state: ScalerState, reason: Reason, message: str) -> None:
        problem = Problem(str(reason), message)
        if state.target_problem != problem:
            log.warning("%s: %s", state.describe(), message)
        self._event(state, reason, message)
        state.target_problem = problem
        state.applied = None
        if self.metrics is not None:
            self.metrics.scale_update(*state.key, ok=False)
        self._retry_later(state)

    def _event(self, state: ScalerState, reason: Reason, message: str) -> None:
        if self.recorder is None:
            return
        if state.obj is not None:
            regarding: Mapping[str, Any] = state.obj
        else:
            assert state.flag is not None
            regarding = {
                "apiVersion": state.flag.api_version,
                "kind": state.flag.kind,
                "namespace": state.key[0],
                "name": state.flag.name,
            }
        self.recorder.record(regarding, reason, message)

    async def _write_status(self, state: ScalerState) -> None:
        if state.obj is None:
            return
        previous = state.written_status or state.obj.get("status")
        in_force = state.in_force
        status = compose_status(
            previous=previous,
            generation=state.generation,
            decision=state.decision,
            source=in_force.source if in_force is not None else None,
            parameters_problem=state.parameters_problem,
            target_problem=state.target_problem,
            last_scale_time=state.last_scale_time,
            dry_run=self.settings.dry_run,
            now=self.now(),
        )
        if status == previous:
            return
        wiped = {k: None for k in (previous or {}) if k not in status}
        try:
            await patch_status(
                self.kube, PROPORTIONAL_SCALERS, state.key[0], state.key[1], {**wiped, **status}
            )
        except NotFound:
            return  # deleted meanwhile; its delete event follows
        except KubeError as exc:
            log.warning("%s: status not written: %s", state.describe(), exc)
            with contextlib.suppress(RuntimeError):
                self._retry_later(state)
            return
        state.written_status = status


async def start_proportional_controller(
    kube: Kube,
    *,
    namespace: str | None,
    now: Callable[[], datetime],
    recorder: EventRecorder | None,
    enabled: bool | None,
    settings: ProportionalSettings,
    metrics: ProportionalMetrics | None = None,
) -> ProportionalController | None:
    """The controller ``podscaler run`` starts, or None when there is nothing to do.

    ``enabled`` None (the default) watches ProportionalScalers when their CRD is installed;
    True watches them regardless (the informer retries until the CRD appears); False does not.
    CPA's flags in *settings* run either way.
    """
    watch = enabled
    if watch is None:
        try:
            watch = await proportional_crd_installed(kube)
        except KubeError as exc:
            log.warning("could not tell whether ProportionalScalers are served: %s", exc)
            watch = False
        if not watch:
            log.info(
                "the ProportionalScaler CRD is not installed: ProportionalScalers are not "
                "watched (install manifests/crds, or pass --proportional)"
            )
    if not watch and settings.flags is None:
        return None
    controller = ProportionalController(
        kube,
        namespace=namespace,
        now=now,
        settings=replace(settings, watch_scalers=watch),
        recorder=recorder,
        metrics=metrics,
    )
    await controller.start()
    return controller
