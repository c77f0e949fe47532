"""The vertical updater: pods far from their recommendation are evicted, one budget at a time.

Upstream's updater, every ``updater_interval``, for each VerticalScaler in Recreate, Auto,
InPlaceOrRecreate or InPlace mode with a published recommendation (read from the status, as upstream
reads it, so what is applied is what users see):

1. scores and admits each live pod (:mod:`podscaler.engine.vpa.updater`: outside
   [lowerBound, upperBound], a quick OOM, or 12 h old and 10 % off), orders them (scale-ups
   first, then larger differences) and keeps those meeting ``evictionRequirements``;
2. measures each replica group (the pods' controller: ReplicaSet, StatefulSet, …) against the
   replicas it wants: never a group with fewer live pods than ``minReplicas``, at most half of
   it at once (but one when that rounds to zero);
3. evicts in that order through the **Eviction API**, so PodDisruptionBudgets hold (a 429 is
   reported and retried next pass), within the operator-wide eviction rate limit.

Pods without a controller are never evicted (nothing would bring them back). Eviction only
helps when the re-created pod gets the new requests, which is the admission webhook's job:
until an :class:`AdmissionGate` says one serves, nothing is evicted and an Event says why
(upstream's updater waits for its admission controller's status the same way), unless
``evict_without_admission``. Hooks for the work still to come: :class:`AdmissionGate`
(the mutating webhook) and :class:`InPlaceResizer` (``pods/resize``, tried first in
InPlaceOrRecreate mode, eviction being the fallback; the only way in InPlace mode, which
never evicts and so needs no admission webhook to act).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podscaler.api.quantities import Quantity, QuantityError
from podscaler.api.reasons import Reason
from podscaler.api.timestamps import parse_seconds
from podscaler.api.verticalscaler import VerticalScaler
from podscaler.controllers.vertical.podresources import OBSERVED_CONTAINERS_ANNOTATION
from podscaler.controllers.vertical.pods import (
    container_terminations,
    is_live,
    observed_containers,
    owner_key,
    pod_phase,
    pod_start_seconds,
    running_requests,
)
from podscaler.controllers.vertical.recommender import ScalerState, VerticalRecommender
from podscaler.controllers.vertical.resize import resize_state
from podscaler.controllers.vertical.targets import group_replicas
from podscaler.engine.vpa import (
    EvictionBudget,
    Resources,
    UpdateCandidate,
    UpdateMode,
    eviction_budget,
    evicts_pods,
    had_quick_oom,
    meets_eviction_requirements,
    order_for_update,
    update_priority,
)
from podscaler.engine.vpa.inplace import InPlaceAction
from podscaler.engine.vpa.specs import eviction_requirements_of, update_mode_of
from podscaler.kube.errors import KubeError, NotFound, TooManyRequests

__all__ = [
    "AdmissionGate",
    "InPlaceResizer",
    "RateLimiter",
    "Recommended",
    "VerticalUpdater",
    "recommended_of",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class AdmissionGate(Protocol):
    """Whether pods created now get their recommended requests (a webhook serves)."""

    def ready(self) -> bool: ...


class InPlaceResizer(Protocol):
    """Resizes a running pod through ``pods/resize``; ``False`` means evict instead
    (Infeasible, Deferred too long, or the cluster cannot resize). *scaler* carries the
    resource policy (``controlledValues``: limits kept in proportion with
    :func:`podscaler.engine.vpa.proportional_limit`); *targets* are the published targets by
    container name. Called only for pods the updater would otherwise evict, within the same
    budget."""

    async def resize(
        self, pod: Mapping[str, Any], scaler: VerticalScaler, targets: Mapping[str, Resources]
    ) -> bool: ...

    async def resize_only(
        self, pod: Mapping[str, Any], scaler: VerticalScaler, targets: Mapping[str, Resources]
    ) -> InPlaceAction:
        """``InPlace`` mode: resize, wait or skip (Infeasible remembered); never evict."""
        ...


@dataclass(frozen=True)
class Recommended:
    """A published recommendation, per container name."""

    targets: dict[str, Resources] = field(default_factory=dict)
    lower_bounds: dict[str, Resources] = field(default_factory=dict)
    upper_bounds: dict[str, Resources] = field(default_factory=dict)


def _resources(values: Any) -> Resources:
    if not isinstance(values, Mapping):
        return Resources()
    cpu = memory = None
    try:
        if values.get("cpu") is not None:
            cpu = Quantity(str(values["cpu"])).milli_value()
        if values.get("memory") is not None:
            memory = Quantity(str(values["memory"])).int_value()
    except (QuantityError, ValueError, ArithmeticError):
        return Resources()
    return Resources(cpu, memory)


def recommended_of(status: Mapping[str, Any] | None) -> Recommended:
    """``status.recommendation`` as the updater compares it."""
    found = Recommended()
    recommendation = (status or {}).get("recommendation")
    if not isinstance(recommendation, Mapping):
        return found
    entries = recommendation.get("containerRecommendations")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping):
            continue
        name = str(entry.get("containerName") or "")
        target = _resources(entry.get("target"))
        if not name or (target.cpu_millicores is None and target.memory_bytes is None):
            continue
        found.targets[name] = target
        found.lower_bounds[name] = _resources(entry.get("lowerBound"))
        found.upper_bounds[name] = _resources(entry.get("upperBound"))
    return found


class RateLimiter:
    """A token bucket on the loop's clock (``--eviction-rate-limit`` / ``-burst``); a limit of
    0 or less never limits."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp: float | None = None

    def take(self, now: float) -> bool:
        if self.per_second <= 0:
            return True
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class VerticalUpdater:
    """See the module docstring; shares the recommender's informers and scaler states."""

    def __init__(
        self,
        recommender: VerticalRecommender,
        *,
        admission: AdmissionGate | None = None,
        resizer: InPlaceResizer | None = None,
    ) -> None:
        self.recommender = recommender
        self.kube = recommender.kube
        self.settings = recommender.settings
        self.admission = admission
        self.resizer = resizer
        self.limiter = RateLimiter(
            self.settings.eviction_rate_limit, self.settings.eviction_rate_burst
        )
        self._task: asyncio.Task[None] | None = None
        self._waiting: set[tuple[str, str]] = set()
        #: per scaler, since when (epoch seconds) the webhook has served for it
        self._admitting_since: dict[tuple[str, str], float] = {}
        #: uids of pods already reported as created past the webhook (the latest 1,000)
        self._missed: dict[str, None] = {}
        #: uids of pods reported as skipped for an infeasible resize (InPlace; latest 1,000)
        self._skipped: dict[str, None] = {}
        #: Pods evicted (the latest 1,000), and evictions refused (tests and metrics).
        self.evicted: list[tuple[str, str]] = []
        self.evictions = 0
        self.refused = 0

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main(), name="vertical-updater")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _main(self) -> None:
        await self.recommender.wait_synced()
        while True:
            await asyncio.sleep(self.settings.updater_interval_seconds)
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("vertical updater pass failed")

    def _admission_ready(self) -> bool:
        if self.settings.evict_without_admission:
            return True
        return self.admission is not None and self.admission.ready()

    async def run_pass(self) -> None:
        now_seconds = self.recommender.now().timestamp()
        replicas_cache: dict[tuple[str, str, str], int | None] = {}
        for state in list(self.recommender.states.values()):
            if state.scaler is None or state.problem is not None or state.selector is None:
                continue
            mode = update_mode_of(state.scaler.spec)
            if not evicts_pods(mode):
                continue
            recommended = recommended_of(state.written_status or state.obj.get("status"))
            if not recommended.targets:
                continue
            await self._update(state, mode, recommended, now_seconds, replicas_cache)

    async def _update(
        self,
        state: ScalerState,
        mode: UpdateMode,
        recommended: Recommended,
        now_seconds: float,
        replicas_cache: dict[tuple[str, str, str], int | None],
    ) -> None:
        assert state.scaler is not None
        spec = state.scaler.spec
        informer = self.recommender.pod_informer
        pods = [
            pod
            for key in state.pods
            if (pod := informer.get(key[0], key[1])) is not None and is_live(pod)
        ]
        by_name = {str(p["metadata"]["name"]): p for p in pods}
        self._check_admitted(state, pods, now_seconds)
        policy = spec.resource_policy.container_policies if spec.resource_policy else None
        off = frozenset(p.container_name or "" for p in policy or () if p.mode == "Off")
        update_policy = spec.update_policy
        oom_threshold = float(
            (update_policy.evict_after_oom_seconds if update_policy else None)
            or self.settings.update.evict_after_oom_threshold_seconds
        )
        candidates = []
        for pod in pods:
            observed = observed_containers(pod)
            candidates.append(
                UpdateCandidate(
                    name=str(pod["metadata"]["name"]),
                    priority=update_priority(
                        running_requests(pod),
                        recommended.targets,
                        recommended.lower_bounds,
                        recommended.upper_bounds,
                        observed,
                    ),
                    start_seconds=pod_start_seconds(pod),
                    quick_oom=had_quick_oom(
                        container_terminations(pod), oom_threshold, observed, off
                    ),
                )
            )
        requirements = eviction_requirements_of(spec)
        ordered = [
            c
            for c in order_for_update(candidates, now_seconds, self.settings.update)
            if meets_eviction_requirements(
                running_requests(by_name[c.name]), recommended.targets, requirements
            )
        ]
        if not ordered:
            self._waiting.discard(state.key)
            return
        if mode == UpdateMode.IN_PLACE:
            await self._resize_only(state, ordered, by_name, pods, recommended, replicas_cache)
            return
        in_place = mode == UpdateMode.IN_PLACE_OR_RECREATE and self.resizer is not None
        can_recreate = self._admission_ready()
        if not in_place and not can_recreate:
            if state.key not in self._waiting:
                self._waiting.add(state.key)
                self.recommender.event(
                    state.obj,
                    Reason.VerticalUpdateWaitingForAdmission,
                    f"{len(ordered)} pod(s) are outside their recommendation, but no admission "
                    "webhook would give re-created pods the new requests: nothing is evicted",
                )
            return
        self._waiting.discard(state.key)
        budgets: dict[tuple[str, str, str], EvictionBudget | None] = {}
        min_replicas = update_policy.min_replicas if update_policy else None
        for candidate in ordered:
            pod = by_name[candidate.name]
            owner = owner_key(pod)
            if owner is None:
                continue
            if owner not in budgets:
                budgets[owner] = await self._budget(
                    state.key[0], owner, pods, min_replicas, replicas_cache
                )
            budget = budgets[owner]
            phase = pod_phase(pod)
            if budget is None or not budget.can_evict(phase):
                continue
            if in_place and self.resizer is not None:
                if await self.resizer.resize(pod, state.scaler, recommended.targets):
                    continue
                self._fell_back(state, pod, can_recreate)
            if not can_recreate:
                continue  # resized in place or nothing: an eviction would bring the old requests
            if self.settings.dry_run:
                log.info("%s: would evict pod %s (dry run)", state.describe(), candidate.name)
                budgets[owner] = budget.after_eviction(phase)
                continue
            if not self.limiter.take(asyncio.get_running_loop().time()):
                log.info("%s: eviction rate limit reached for this pass", state.describe())
                return
            if await self._evict(state, pod):
                budgets[owner] = budget.after_eviction(phase)

    async def _resize_only(
        self,
        state: ScalerState,
        ordered: list[UpdateCandidate],
        by_name: dict[str, Obj],
        pods: list[Obj],
        recommended: Recommended,
        replicas_cache: dict[tuple[str, str, str], int | None],
    ) -> None:
        """``InPlace`` mode: resize the chosen pods, in order, within their group's budget
        (as upstream's in-place restriction), and never evict one."""
        assert state.scaler is not None
        if self.resizer is None:
            if state.key not in self._waiting:
                self._waiting.add(state.key)
                self.recommender.event(
                    state.obj,
                    Reason.VerticalInPlaceSkipped,
                    "updateMode InPlace, but this operator runs without in-place resize: "
                    "nothing is updated (InPlace never evicts)",
                )
            return
        self._waiting.discard(state.key)
        update_policy = state.scaler.spec.update_policy
        min_replicas = update_policy.min_replicas if update_policy else None
        budgets: dict[tuple[str, str, str], EvictionBudget | None] = {}
        for candidate in ordered:
            pod = by_name[candidate.name]
            owner = owner_key(pod)
            if owner is None:
                continue
            if owner not in budgets:
                budgets[owner] = await self._budget(
                    state.key[0], owner, pods, min_replicas, replicas_cache
                )
            budget = budgets[owner]
            if budget is None or not budget.can_evict(pod_phase(pod)):
                continue
            if self.settings.dry_run:
                log.info("%s: would resize pod %s (dry run)", state.describe(), candidate.name)
                continue
            action = await self.resizer.resize_only(pod, state.scaler, recommended.targets)
            if action is InPlaceAction.SKIP:
                self._skipped_infeasible(state, pod)
            elif action is InPlaceAction.RESIZE:
                # tried again: a new infeasible verdict deserves its own Event
                self._skipped.pop(str(pod["metadata"].get("uid") or ""), None)

    def _skipped_infeasible(self, state: ScalerState, pod: Obj) -> None:
        """One Event per pod and remembered attempt: it is left alone until the
        recommendation asks for less."""
        uid = str(pod["metadata"].get("uid") or "")
        if uid in self._skipped:
            return
        self._skipped[uid] = None
        if len(self._skipped) > 1000:
            del self._skipped[next(iter(self._skipped))]
        self.recommender.event(
            state.obj,
            Reason.VerticalInPlaceSkipped,
            f"pod {pod['metadata'].get('name')} not resized in place: its node cannot hold the "
            "new requests (Infeasible); updateMode InPlace never evicts, so it is tried again "
            "when the recommendation asks for less",
        )

    def _check_admitted(self, state: ScalerState, pods: list[Obj], now_seconds: float) -> None:
        """An Event for each pod created while the webhook served that did not pass through
        it (no observed-containers annotation): the API server's call timed out or failed and
        ``failurePolicy: Ignore`` let the pod in with its own requests. Pods created in the
        first second of serving are given the benefit of the doubt."""
        if self.admission is None or not self.admission.ready():
            self._admitting_since.pop(state.key, None)
            return
        since = self._admitting_since.setdefault(state.key, now_seconds)
        for pod in pods:
            meta = pod["metadata"]
            uid = str(meta.get("uid") or "")
            created = parse_seconds(meta.get("creationTimestamp"))
            if uid in self._missed or created is None or created <= since + 1.0:
                continue
            if OBSERVED_CONTAINERS_ANNOTATION in (meta.get("annotations") or {}):
                continue
            self._missed[uid] = None
            if len(self._missed) > 1000:
                del self._missed[next(iter(self._missed))]
            self.recommender.event(
                state.obj,
                Reason.VerticalAdmissionMissed,
                f"pod {meta.get('name')} was created without passing the admission webhook "
                "(the API server could not reach it in time; failurePolicy Ignore let the pod "
                "in): it runs with its template's requests until updated",
            )

    def _fell_back(self, state: ScalerState, pod: Obj, can_recreate: bool) -> None:
        """Say why an InPlaceOrRecreate pod is evicted rather than resized."""
        now = self.recommender.now()
        resize = resize_state(pod, now)
        if resize.status == "Infeasible":
            why = "its node can never hold the new requests (Infeasible)"
        elif resize.status == "Deferred":
            why = f"the resize has been Deferred for {resize.since_seconds:.0f} s"
        elif resize.status == "InProgress":
            why = f"the resize has been in progress for {resize.since_seconds:.0f} s"
        else:
            why = "the cluster refused the resize"
        then = "evicting it instead" if can_recreate else "no admission webhook to evict for"
        self.recommender.event(
            state.obj,
            Reason.VerticalInPlaceFallback,
            f"pod {pod['metadata'].get('name')} not resized in place: {why}; {then}",
        )

    async def _budget(
        self,
        namespace: str,
        owner: tuple[str, str, str],
        pods: list[Obj],
        min_replicas: int | None,
        cache: dict[tuple[str, str, str], int | None],
    ) -> EvictionBudget | None:
        cache_key = (namespace, owner[0], owner[1])
        if cache_key not in cache:
            cache[cache_key] = await group_replicas(self.kube, namespace, owner[0], owner[1])
        configured = cache[cache_key]
        if configured is None:
            return None
        phases = [pod_phase(p) for p in pods if owner_key(p) == owner]
        return eviction_budget(configured, phases, self.settings.update, min_replicas)

    async def _evict(self, state: ScalerState, pod: Obj) -> bool:
        meta = pod["metadata"]
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        try:
            await self.kube.request(
                "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", body=body
            )
        except NotFound:
            return False
        except TooManyRequests as exc:
            self.refused += 1
            self.recommender.event(
                state.obj,
                Reason.VerticalEvictionRefused,
                f"pod {name} not evicted: {exc.message} (tried again next pass)",
            )
            return False
        except KubeError as exc:
            self.refused += 1
            self.recommender.event(
                state.obj, Reason.VerticalEvictionRefused, f"pod {name} not evicted: {exc}"
            )
            return False
        self.evicted.append((namespace, name))
        del self.evicted[:-1000]
        self.evictions += 1
        log.info("%s: evicted pod %s to apply its recommendation", state.describe(), name)
        note = f"evicted by VerticalScaler {state.key[1]} to apply its recommended requests"
        regarding = {"apiVersion": "v1", "kind": "Pod", "metadata": meta}
        self.recommender.event(regarding, Reason.EvictedByVerticalScaler, note)
        self.recommender.event(
            state.obj,
            Reason.EvictedByVerticalScaler,
            f"evicted pod {name} to apply the recommendation",
        )
        return True
