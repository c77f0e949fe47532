"""The VerticalScaler recommender: usage in, ``status.recommendation`` out, every minute.

Inputs: VerticalScalers and Pods through informers (the pods trimmed to what is read),
``metrics.k8s.io`` PodMetrics listed once per pass (metrics-server has no watch), and each
scaler's target resolved to its pods' selector (:mod:`.targets`). One pass
(:meth:`VerticalRecommender.run_pass`), as upstream's ``RunOnce``:

1. resolve every scaler answering to this recommender: a spec that does not validate, a target
   that is missing or publishes no selector, or a second scaler on the same workload (the
   older one wins) each set ``ConfigUnsupported`` and a Warning Event, and nothing else stops;
2. give each live pod to the oldest scaler whose selector matches it, and feed that scaler's
   history (:mod:`.model`) with the pod's usage and with OOM kills read from
   ``lastState.terminated`` (each counted once);
3. recommend with :func:`podscaler.engine.vpa.recommend` under the scaler's resource policy,
   and write the status (recommendation and conditions) when it changed; an Event when a
   target moved by 10 % or more;
4. every ``checkpoint_interval`` write the changed aggregates as VerticalScalerCheckpoints;
   every ``gc_interval`` drop expired aggregates, aggregates of containers no pod has any
   more, and checkpoints nobody owns.

At start, before the first pass, checkpoints are read back (a restart loses nothing) and,
when configured, the histograms are filled from the user's Prometheus (:mod:`.bootstrap`).
The updater (:mod:`.updater`) runs beside, acting on the published recommendations.

Sharding (``podscaler run --shard``, issue 16). Every replica runs a recommender with ``owns``
(the ScaledObjects' rendezvous ownership over the member Leases, keyed by the VerticalScaler's
``namespace/name``). Each resolves every scaler and gives every pod to its scaler (the oldest
matching scaler may be another replica's, and the updater, which runs on one replica under
the singleton Lease, needs every scaler's pods), but only the owner samples usage into the
history, recommends, writes the status and the checkpoints, and sends the Events. Ownership
is read at each pass and again before each status write: a scaler given away has its history
forgotten; one taken has its checkpoints read back, as after a restart (what the old owner
learned since its last checkpoint is lost, as in a crash). The updater reads recommendations
from the status (any replica's), so it needs no history of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from podscaler.api.meta import API_GROUP, API_VERSION
from podscaler.api.quantities import Quantity, QuantityError
from podscaler.api.reasons import Reason
from podscaler.api.selectors import LabelSelector
from podscaler.api.verticalscaler import VerticalScaler, vertical_scaler_problems
from podscaler.controllers.vertical.bootstrap import bootstrap_from_prometheus
from podscaler.controllers.vertical.checkpointing import (
    delete_checkpoint,
    list_checkpoints,
    save_checkpoint,
)
from podscaler.controllers.vertical.model import ScalerHistory
from podscaler.controllers.vertical.pods import (
    container_requests,
    container_terminations,
    is_live,
    memory_request_bytes,
    pod_key,
    usage_of,
)
from podscaler.controllers.vertical.settings import VerticalSettings
from podscaler.controllers.vertical.status import compose_status
from podscaler.controllers.vertical.targets import TargetProblem, TargetResolver
from podscaler.engine.vpa import (
    CheckpointError,
    PodRecommendation,
    checkpoint_name,
    checkpoint_status,
    quantities_of,
    recommend,
    recommendation_conditions,
    restore_aggregate,
)
from podscaler.engine.vpa.specs import resource_policy_of
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.events import EventRecorder
from podscaler.kube.informers import Informer, compact
from podscaler.kube.resources import Discovery, Resource
from podscaler.kube.scaling import ScaleRef
from podscaler.kube.statuses import patch_status

__all__ = [
    "PODS",
    "VERTICAL_SCALERS",
    "ScalerState",
    "VerticalRecommender",
    "trim_pod",
    "vertical_crd_installed",
]

log = logging.getLogger(__name__)

VERTICAL_SCALERS: Final = Resource(
    group=API_GROUP,
    version=API_VERSION,
    plural="verticalscalers",
    kind="VerticalScaler",
    namespaced=True,
    subresources=frozenset({"status"}),
)
PODS: Final = Resource(
    group="", version="v1", plural="pods", kind="Pod", namespaced=True, subresources=frozenset()
)

Key = tuple[str, str]
Obj = dict[str, Any]

#: A target moving by this fraction (or more) from the last announced one makes an Event.
ANNOUNCE_CHANGE: Final = 0.1


def trim_pod(pod: Obj) -> Obj:
    """What the recommender and updater read of a pod; the rest is not cached."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    kept_meta = {
        k: meta[k]
        for k in (
            "name",
            "namespace",
            "uid",
            "labels",
            "annotations",
            "ownerReferences",
            "deletionTimestamp",
            "resourceVersion",
            "creationTimestamp",
        )
        if k in meta
    }
    containers = [
        {"name": c.get("name"), "resources": c.get("resources") or {}}
        for c in spec.get("containers") or ()
    ]
    statuses = []
    for s in status.get("containerStatuses") or ():
        kept = {"name": s.get("name"), "lastState": s.get("lastState") or {}}
        if s.get("resources"):
            kept["resources"] = s["resources"]  # what runs, while a resize is pending
        statuses.append(kept)
    trimmed_status: Obj = {
        "phase": status.get("phase"),
        "startTime": status.get("startTime"),
        "containerStatuses": statuses,
    }
    # The in-place resize's progress (Deferred, Infeasible, InProgress and since when), which
    # decides the fall back to eviction.
    resizing = [
        c
        for c in status.get("conditions") or ()
        if c.get("type") in ("PodResizePending", "PodResizeInProgress")
    ]
    if resizing:
        trimmed_status["conditions"] = resizing
    if status.get("resize"):
        trimmed_status["resize"] = status["resize"]
    return {
        "metadata": kept_meta,
        "spec": {"containers": containers, "nodeName": spec.get("nodeName")},
        "status": trimmed_status,
    }


@dataclass
class ScalerState:
    key: Key
    obj: Obj
    history: ScalerHistory
    scaler: VerticalScaler | None = None
    ref: ScaleRef | None = None
    selector: LabelSelector | None = None
    problem: TargetProblem | None = None
    announced_problem: TargetProblem | None = None
    #: The pods this scaler covers after the last pass.
    pods: list[Key] = field(default_factory=list)
    recommendation: PodRecommendation | None = None
    written_status: Obj | None = None
    announced: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    last_checkpoint_seconds: float | None = None

    @property
    def generation(self) -> int | None:
        value = (self.obj.get("metadata") or {}).get("generation")
        return value if isinstance(value, int) else None

    @property
    def created(self) -> str:
        return str((self.obj.get("metadata") or {}).get("creationTimestamp") or "")

    def describe(self) -> str:
        return f"VerticalScaler {self.key[0]}/{self.key[1]}"


class VerticalRecommender:
    """See the module docstring."""

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None,
        now: Callable[[], datetime],
        settings: VerticalSettings | None = None,
        recorder: EventRecorder | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        self.kube = kube
        #: Under ``--shard``: whether this replica learns and recommends for a scaler
        #: (``namespace/name``); None: all of them. See "Sharding" in the module docstring.
        self.owns = owns
        #: The scalers this replica learned for at the last pass (to see handovers).
        self._owned: set[Key] = set()
        self.namespace = namespace
        self.now = now
        self.settings = settings or VerticalSettings()
        self.recorder = recorder
        self.targets = TargetResolver(kube)
        self.scaler_informer = Informer(
            kube, VERTICAL_SCALERS, namespace=namespace, transform=compact
        )
        self.pod_informer = Informer(kube, PODS, namespace=namespace, transform=trim_pod)
        self.states: dict[Key, ScalerState] = {}
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._pass_done = asyncio.Event()
        self._last_gc_seconds: float | None = None
        self._metrics_problem: str | None = None
        #: Passes run, samples taken, OOMs counted (for tests and metrics).
        self.passes = 0
        self.samples = 0
        self.ooms = 0

    @property
    def metrics_problem(self) -> str | None:
        """Why the last pass had no usage from metrics.k8s.io (None: it had); for status."""
        return self._metrics_problem

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.scaler_informer.add_handler(
            on_add=self._scaler_added, on_update=self._scaler_updated, on_delete=self._deleted
        )
        self.scaler_informer.start()
        self._task = asyncio.get_running_loop().create_task(self._main(), name="vertical")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.scaler_informer.aclose()
        await self.pod_informer.aclose()

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        async with asyncio.timeout(timeout_seconds):
            await self._synced.wait()

    async def wait_pass(self, timeout_seconds: float | None = None) -> None:
        """Wait for the next pass to finish (tests)."""
        self._pass_done.clear()
        async with asyncio.timeout(timeout_seconds):
            await self._pass_done.wait()

    async def _main(self) -> None:
        await self.scaler_informer.wait_synced()
        await self.scaler_informer.drain()
        if self.states:
            await self._watch_pods()
        await self.restore_checkpoints()
        self._owned = {k for k, s in self.states.items() if self._mine(s)}
        if self.settings.prometheus is not None:
            mine = {k: s for k, s in self.states.items() if k in self._owned}
            await bootstrap_from_prometheus(self.settings, mine, self.now().timestamp())
        self._synced.set()
        log.info("vertical recommender synced: %d VerticalScalers", len(self.states))
        while True:
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("vertical recommender pass failed")
            self._pass_done.set()
            await asyncio.sleep(self.settings.recommender_interval_seconds)

    async def _watch_pods(self) -> None:
        """Start the pod informer and wait for its list, the first time a VerticalScaler is
        there: without one, a cache of every pod (a second watch of all pod changes) serves
        nobody — the demo runs this controller a whole day with none."""
        self.pod_informer.start()
        await self.pod_informer.wait_synced()

    # ---------------------------------------------------------------- scalers in

    def _state_for(self, obj: Obj) -> ScalerState:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        state = self.states.get(key)
        if state is None:
            history = ScalerHistory(self.settings.recommender.aggregation)
            state = self.states[key] = ScalerState(key, obj, history)
            # What an earlier process published was announced already: a restart announces
            # only a target that moves from it.
            state.announced.update(published_targets(obj.get("status")))
        state.obj = obj
        return state

    async def _scaler_added(self, obj: Obj) -> None:
        self._state_for(obj)

    async def _scaler_updated(self, old: Obj, obj: Obj) -> None:
        self._state_for(obj)

    async def _deleted(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.states.pop((str(meta.get("namespace") or ""), str(meta.get("name") or "")), None)

    def _ours(self, state: ScalerState) -> bool:
        spec = state.obj.get("spec") or {}
        recommenders = spec.get("recommenders") or []
        if not recommenders:
            return self.settings.recommender_name == "default"
        first = recommenders[0] if isinstance(recommenders[0], Mapping) else {}
        return first.get("name") == self.settings.recommender_name

    def _mine(self, state: ScalerState) -> bool:
        """Whether this replica learns, recommends and checkpoints for *state* (sharding)."""
        return self.owns is None or self.owns(f"{state.key[0]}/{state.key[1]}")

    async def _hand_over(self, states: list[ScalerState]) -> None:
        """Ownership moved (``--shard``): forget what was learned for scalers given away (the
        new owner reads their checkpoints back), read the checkpoints of scalers taken."""
        mine = {s.key for s in states if self._mine(s)}
        for key in self._owned - mine:
            state = self.states.get(key)
            if state is not None:
                state.history = ScalerHistory(self.settings.recommender.aggregation)
                state.recommendation = state.written_status = state.last_checkpoint_seconds = None
                state.announced = {}
        taken = mine - self._owned
        self._owned = mine
        if taken:
            await self.restore_checkpoints(taken)

    # ---------------------------------------------------------------- one pass

    async def run_pass(self) -> None:
        now = self.now()
        now_seconds = now.timestamp()
        states = sorted(
            (s for s in self.states.values() if self._ours(s)), key=lambda s: (s.created, s.key)
        )
        # Without a VerticalScaler of ours there is nothing to feed: no list of every pod's
        # usage from metrics.k8s.io (the demo runs this loop with none, a list every 30 s
        # for a day). The next pass after one is created samples as before.
        if states:
            await self._watch_pods()
            if self.owns is not None:
                await self._hand_over(states)
            # Every scaler is resolved and claims its pods (an older scaler owned elsewhere
            # may claim a pod first; the updater, on one replica, needs them all); only the
            # owned ones learn, recommend and checkpoint.
            await self._resolve(states)
            metrics = await self._pod_metrics()
            claimed: set[Key] = set()
            writes = []
            for state in states:
                mine = self._mine(state)
                self._feed(state, claimed, metrics, learn=mine)
                if mine:
                    writes.append(self._recommend(state, now))
            await self._bounded(writes)
            await self._write_checkpoints([s for s in states if self._mine(s)], now_seconds)
        if (
            self._last_gc_seconds is None
            or now_seconds - self._last_gc_seconds >= self.settings.gc_interval_seconds
        ):
            self._last_gc_seconds = now_seconds
            await self.collect_garbage(now_seconds)
        self.passes += 1

    async def _resolve(self, states: list[ScalerState]) -> None:
        targets_seen: dict[tuple[str, str, str], ScalerState] = {}
        for state in states:
            state.selector = None
            scaler, problems = vertical_scaler_problems(state.obj)
            state.scaler = scaler
            if scaler is None or problems:
                text = "; ".join(str(p) for p in problems) or "the spec does not parse"
                self._set_problem(state, TargetProblem("InvalidSpec", f"invalid spec: {text}"))
                continue
            ref = self.targets.ref(state.key[0], scaler.spec.target_ref.model_dump(by_alias=True))
            state.ref = ref
            target_key = (ref.kind, ref.namespace, ref.name)
            first = targets_seen.get(target_key)
            if first is not None:
                self._set_problem(
                    state,
                    TargetProblem(
                        "ConflictingVerticalScalers",
                        f"{first.describe()} already right-sizes {ref.kind} {ref.name}; this "
                        "one is ignored until it goes",
                    ),
                )
                continue
            targets_seen[target_key] = state
        await self._bounded([self._select(state) for state in targets_seen.values()])

    async def _select(self, state: ScalerState) -> None:
        assert state.ref is not None
        found = await self.targets.selector(state.ref)
        if isinstance(found, TargetProblem):
            self._set_problem(state, found)
            return
        state.selector = found
        self._set_problem(state, None)

    async def _bounded(self, calls: list[Coroutine[Any, Any, None]]) -> None:
        """Run *calls* (requests to the API) at most ``concurrency`` at once: a pass over
        thousands of scalers waits on round trips, not on the CPU."""
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(call: Coroutine[Any, Any, None]) -> None:
            async with gate:
                await call

        await asyncio.gather(*(one(call) for call in calls))

    def _set_problem(self, state: ScalerState, problem: TargetProblem | None) -> None:
        state.problem = problem
        if problem is not None and problem != state.announced_problem and self._mine(state):
            log.warning("%s: %s", state.describe(), problem.message)
            self.event(state.obj, Reason.VerticalScalerConfigUnsupported, problem.message)
        state.announced_problem = problem

    async def _pod_metrics(self) -> dict[Key, Obj]:
        path = "/apis/metrics.k8s.io/v1beta1" + (
            f"/namespaces/{self.namespace}/pods" if self.namespace else "/pods"
        )
        try:
            answer = await self.kube.request("GET", path)
        except KubeError as exc:
            problem = f"no usage from metrics.k8s.io ({exc}); is metrics-server running?"
            if problem != self._metrics_problem:
                log.warning("vertical recommender: %s", problem)
            self._metrics_problem = problem
            return {}
        self._metrics_problem = None
        return {pod_key(item): item for item in answer.get("items") or ()}

    def _feed(
        self,
        state: ScalerState,
        claimed: set[Key],
        metrics: Mapping[Key, Obj],
        *,
        learn: bool = True,
    ) -> None:
        if state.selector is None:
            state.pods = []
            return
        pods = []
        for pod in self.pod_informer.select(state.selector, state.key[0]):
            key = pod_key(pod)
            if key in claimed or not is_live(pod):
                continue
            claimed.add(key)
            pods.append(pod)
        state.pods = sorted(pod_key(p) for p in pods)
        if not learn:  # owned by another replica: it learns from these pods
            return
        history = state.history
        uids = {str((p.get("metadata") or {}).get("uid") or "") for p in pods}
        history.forget_pods(state.pods, uids)
        for pod in pods:
            key = pod_key(pod)
            sample = metrics.get(key)
            if sample is not None and (pod.get("status") or {}).get("phase") == "Running":
                at, containers = usage_of(sample)
                if at is not None:
                    names = {c.name for c in container_requests(pod)}
                    for usage in containers:
                        if usage.container_name in names and history.add_usage(
                            key, usage.container_name, at, usage.cpu_millicores, usage.memory_bytes
                        ):
                            self.samples += 1
            uid = str((pod.get("metadata") or {}).get("uid") or "")
            for termination in container_terminations(pod):
                if termination.reason != "OOMKilled":
                    continue
                needed = history.record_oom(
                    key,
                    uid,
                    termination.container_name,
                    termination.finished_seconds,
                    memory_request_bytes(pod, termination.container_name),
                )
                if needed is not None:
                    self.ooms += 1
                    log.info(
                        "%s: pod %s container %s was OOM-killed; memory history bumped to %d",
                        state.describe(),
                        key[1],
                        termination.container_name,
                        needed,
                    )

    async def _recommend(self, state: ScalerState, now: datetime) -> None:
        if not self._mine(state):  # given away since the pass started: the owner writes
            return
        recommendation: PodRecommendation | None = None
        if state.scaler is not None and state.problem is None:
            policy = resource_policy_of(state.scaler.spec)
            recommendation = recommend(state.history.aggregates, policy, self.settings.recommender)
            state.recommendation = recommendation
            self._announce(state, recommendation)
        problem = state.problem
        conditions = recommendation_conditions(
            pods_matched=bool(state.pods),
            recommendation=recommendation,
            config_problem=(problem.reason, problem.message) if problem is not None else None,
        )
        await self._write_status(state, recommendation, conditions, now)

    def _announce(self, state: ScalerState, recommendation: PodRecommendation) -> None:
        changed = []
        for container in recommendation.containers:
            target = (container.target.cpu_millicores, container.target.memory_bytes)
            before = state.announced.get(container.container_name)
            if before is not None and not _moved(before, target):
                continue
            state.announced[container.container_name] = target
            changed.append(container)
        if changed:
            text = "; ".join(
                f"{c.container_name}: "
                + " ".join(f"{k} {v}" for k, v in quantities_of(c.target).items())
                + f" (confidence {c.estimate.confidence:.2f})"
                for c in changed
            )
            self.event(state.obj, Reason.VerticalRecommendationChanged, f"recommended {text}")

    async def _write_status(
        self,
        state: ScalerState,
        recommendation: PodRecommendation | None,
        conditions: Any,
        now: datetime,
    ) -> None:
        previous = state.written_status or state.obj.get("status")
        status = compose_status(
            previous=previous,
            generation=state.generation,
            recommendation=recommendation,
            conditions=conditions,
            now=now,
        )
        if status == previous:
            return
        wiped = {k: None for k in (previous or {}) if k not in status}
        try:
            await patch_status(
                self.kube, VERTICAL_SCALERS, state.key[0], state.key[1], {**wiped, **status}
            )
        except NotFound:
            return
        except KubeError as exc:
            log.warning("%s: status not written: %s", state.describe(), exc)
            return
        state.written_status = status

    # ---------------------------------------------------------------- checkpoints

    async def restore_checkpoints(self, only: set[Key] | None = None) -> None:
        """Load every checkpoint of a known scaler this replica owns into its history (at
        start; under ``--shard`` also for the scalers *only* when they are taken over)."""
        try:
            items = await list_checkpoints(self.kube, self.namespace)
        except KubeError as exc:
            log.warning("vertical recommender: checkpoints not read: %s", exc)
            return
        now_seconds = self.now().timestamp()
        restored = 0
        for item in items:
            meta, spec = item.get("metadata") or {}, item.get("spec") or {}
            key = (str(meta.get("namespace") or ""), str(spec.get("vpaObjectName") or ""))
            container = str(spec.get("containerName") or "")
            state = self.states.get(key)
            if state is None or not container or not item.get("status"):
                continue
            if (only is not None and key not in only) or not self._mine(state):
                continue
            try:
                aggregate = restore_aggregate(
                    item["status"], now_seconds, self.settings.recommender.aggregation
                )
            except CheckpointError as exc:
                message = f"checkpoint {meta.get('name')} not restored: {exc}"
                log.warning("%s: %s", state.describe(), message)
                self.event(state.obj, Reason.VerticalCheckpointInvalid, message)
                state.history.dirty.add(container)
                continue
            state.history.restore(container, aggregate)
            restored += 1
        log.info("vertical recommender: restored %d checkpoints", restored)

    async def _write_checkpoints(self, states: list[ScalerState], now_seconds: float) -> None:
        writes = []
        for state in states:
            history = state.history
            if not history.dirty:
                continue
            last = state.last_checkpoint_seconds
            if last is not None and now_seconds - last < self.settings.checkpoint_interval_seconds:
                continue
            state.last_checkpoint_seconds = now_seconds
            for container in sorted(history.dirty):
                aggregate = history.aggregates.get(container)
                if aggregate is None:
                    continue
                status = checkpoint_status(aggregate, now_seconds, history.open_windows(container))
                history.dirty.discard(container)
                writes.append(self._save_checkpoint(state, container, status))
        await self._bounded(writes)

    async def _save_checkpoint(self, state: ScalerState, container: str, status: Obj) -> None:
        try:
            await save_checkpoint(self.kube, state.obj, container, status)
        except KubeError as exc:
            log.warning("%s: checkpoint of %s not written: %s", state.describe(), container, exc)
            state.history.dirty.add(container)  # written again next time

    async def collect_garbage(self, now_seconds: float) -> None:
        """Drop expired or orphaned aggregates and the checkpoints nobody owns."""
        wanted: set[tuple[str, str]] = set()
        for state in self.states.values():
            in_pods: set[str] | None = None
            if state.pods:
                in_pods = set()
                for key in state.pods:
                    pod = self.pod_informer.get(key[0], key[1])
                    if pod is not None:
                        in_pods.update(c.name for c in container_requests(pod))
            dropped = state.history.collect_garbage(now_seconds, in_pods)
            if dropped:
                log.info("%s: history of %s dropped", state.describe(), ", ".join(dropped))
            for container in state.history.aggregates:
                wanted.add((state.key[0], checkpoint_name(state.key[1], container)))
        try:
            items = await list_checkpoints(self.kube, self.namespace)
        except KubeError as exc:
            log.warning("vertical recommender: checkpoints not listed for GC: %s", exc)
            return
        for item in items:
            meta = item.get("metadata") or {}
            key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            owner = self.states.get((key[0], str((item.get("spec") or {}).get("vpaObjectName"))))
            if key in wanted or (
                owner is not None and not (self._ours(owner) and self._mine(owner))
            ):
                continue  # (another replica's, under --shard: it keeps its own)
            try:
                await delete_checkpoint(self.kube, key[0], key[1])
            except KubeError as exc:
                log.warning("checkpoint %s/%s not deleted: %s", key[0], key[1], exc)

    def event(self, regarding: Mapping[str, Any], reason: Reason, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(regarding, reason, message)


def published_targets(status: Any) -> dict[str, tuple[int | None, int | None]]:
    """``status.recommendation``'s targets by container: (millicores, bytes)."""
    found: dict[str, tuple[int | None, int | None]] = {}
    recommendation = status.get("recommendation") if isinstance(status, Mapping) else None
    entries = (
        recommendation.get("containerRecommendations")
        if isinstance(recommendation, Mapping)
        else None
    )
    for entry in entries if isinstance(entries, list) else ():
        target = entry.get("target") if isinstance(entry, Mapping) else None
        if not isinstance(target, Mapping) or not entry.get("containerName"):
            continue
        try:
            cpu = Quantity(str(target["cpu"])).milli_value() if "cpu" in target else None
            memory = Quantity(str(target["memory"])).int_value() if "memory" in target else None
        except (QuantityError, ValueError, ArithmeticError):
            continue
        found[str(entry["containerName"])] = (cpu, memory)
    return found


def _moved(before: tuple[int | None, int | None], after: tuple[int | None, int | None]) -> bool:
    for old, new in zip(before, after, strict=True):
        if (old is None) != (new is None):
            return True
        if old is not None and new is not None and abs(new - old) >= ANNOUNCE_CHANGE * max(old, 1):
            return True
    return False


async def vertical_crd_installed(kube: Kube) -> bool:
    """Whether the API serves VerticalScalers (the CRD is installed)."""
    try:
        await Discovery(kube).resolve(f"{API_GROUP}/{API_VERSION}", "VerticalScaler")
    except NotFound:
        return False
    return True
