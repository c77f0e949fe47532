"""The ScaledObject controller as the external metrics API's :class:`MetricsSource`.

The HPA (in mode hpa, or anyone's ``kubectl get --raw``) asks for one metric of one
ScaledObject; the answer must be what KEDA's metrics adapter would give (reference/keda.md
§2.6, §2.7, §2.9), from the state the controller already holds rather than a second copy of
it:

* the object and its **built triggers** come from the controller's live contexts (an object the
  controller does not hold is a 404, a metric none of its triggers exports is a 404);
* a trigger with ``useCachedMetrics: true`` is answered from the **last poll** (value *or*
  error, with the poll's timestamp), so the source is hit once per ``pollingInterval`` however
  often the HPA asks; any other trigger is **queried live**, with the same per-trigger timeout
  as a poll, and a failure marks its scaler for rebuilding as a failed poll does;
* a failure goes through **fallback** exactly as a poll does (``engine.keda.apply_fallback``):
  a live failure counts once more against the metric's health (KEDA counts HPA reads too, so
  fallback engages sooner under an HPA), a cached one was counted by its poll already; a
  masked failure answers the fallback value, an unmasked one is a 503 (:class:`MetricUnavailable`)
  and the HPA keeps its replicas;
* with ``scalingModifiers`` the only metric is ``composite-metric``: every trigger is read (in
  parallel), then the formula (``engine.keda.compose``), as the poll computes it.

Messages name triggers and metrics, never trigger metadata nor a trigger's error text (which
quotes internal addresses and upstream answers): they reach any client the metrics API
authorizes, while the error itself stays in the object's status and Events for its operators.

A replica on leader-election standby holds no contexts; it answers 503 rather than 404, so an
HPA that reaches it keeps its replicas instead of reporting the object missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from podscaler import clock
from podscaler.api.externalmetrics import (
    ExternalMetricSample,
    MetricNotFound,
    MetricUnavailable,
    ScaledObjectNotFound,
)
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import COMPOSITE_METRIC_NAME, ScaledObject, ScalingSpec
from podscaler.controllers.scaledobject.mapping import state_from_status
from podscaler.controllers.scaledobject.slim import is_slim
from podscaler.controllers.triggers.building import BuiltTrigger
from podscaler.engine import keda
from podscaler.kube.errors import KubeError
from scalers.contract import ExternalMetricSpec

if TYPE_CHECKING:
    from podscaler.controllers.scaledobject.context import ObjectContext
    from podscaler.controllers.scaledobject.controller import ScaledObjectController

__all__ = ["ControllerMetricsSource"]


def _failed(ctx: ObjectContext, observation: keda.TriggerObservation) -> str:
    """A failed trigger as a reader of the metrics API may see it: which trigger, and where
    its error is. Not the error: it quotes internal addresses and upstream answers, which
    are for the object's operators (status, Events), not for every HPA or ``get --raw``."""
    return (
        f"trigger {observation.name or observation.metric_name} of ScaledObject "
        f"{ctx.namespace}/{ctx.name} failed; its error is in the object's status and Events"
    )


class ControllerMetricsSource:
    """Serves external metrics from a :class:`ScaledObjectController` (or from nothing, on
    standby: :attr:`controller` is set and cleared as leadership comes and goes)."""

    def __init__(
        self,
        controller: ScaledObjectController | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.controller = controller
        self._now = now
        #: Parsed objects per context, reused while ``metadata.generation`` stays the same, so a
        #: busy HPA does not re-validate the ScaledObject on every read.
        self._parsed: dict[tuple[str, str], tuple[object, ScaledObject, ScalingSpec]] = {}

    def now(self) -> datetime:
        if self._now is not None:
            return self._now()
        if self.controller is not None:
            return self.controller.evaluator.now()
        return clock.now()

    async def external_metric(
        self, namespace: str, scaled_object: str, metric_name: str
    ) -> Sequence[ExternalMetricSample]:
        controller = self.controller
        if controller is None:
            raise MetricUnavailable(
                "this podscaler replica is on standby (not the leader); it holds no triggers"
            )
        ctx = controller.objects.get((namespace, scaled_object))
        if ctx is None and controller.known(namespace, scaled_object):
            raise MetricUnavailable(
                f"ScaledObject {namespace}/{scaled_object} is not worked on by this replica "
                "(another replica owns it, or it is being handed over)"
            )
        if ctx is not None and is_slim(ctx.obj):
            raise MetricUnavailable(
                f"ScaledObject {namespace}/{scaled_object} is being taken over by this replica "
                "(not polled here yet)"
            )
        if ctx is None:
            raise ScaledObjectNotFound(
                f'scaledobjects.autoscaling.podscaler.io "{scaled_object}" not found in '
                f"namespace {namespace}"
            )
        spec = self._parse(ctx)
        triggers = ctx.triggers
        if triggers is None:
            raise MetricUnavailable(
                f"ScaledObject {namespace}/{scaled_object} has no usable triggers yet "
                "(see its Ready condition)"
            )
        wanted = self._wanted(ctx, triggers.triggers, spec, metric_name)
        state = ctx.scaling_state or state_from_status(ctx.obj.get("status"))
        current = await self._current_replicas(controller, ctx)
        timeout = controller.settings.trigger_timeout_seconds
        read = await asyncio.gather(
            *(self._observe(ctx, trigger, metric, timeout) for trigger, metric in wanted)
        )
        health = dict(state.health)
        outcomes: list[tuple[keda.TriggerObservation, keda.FallbackOutcome]] = []
        for observation, cached in read:
            previous = health.get(observation.metric_name)
            if cached and observation.error is not None and previous is not None:
                # The poll that cached this error counted it already; do not count it twice.
                previous = dataclasses.replace(
                    previous, number_of_failures=max(previous.number_of_failures - 1, 0)
                )
            outcome = keda.apply_fallback(
                spec, observation, previous, current_replicas=current, ready_replicas=None
            )
            if outcome.health is not None and not cached:
                health[observation.metric_name] = outcome.health
            outcomes.append((observation, outcome))
        if health != dict(state.health) and ctx.scaling_state is not None:
            ctx.scaling_state = dataclasses.replace(
                ctx.scaling_state, health=MappingProxyType(health)
            )
        at = self._timestamp(ctx, read)
        if spec.uses_modifiers:
            return [ExternalMetricSample(metric_name, self._composite(ctx, spec, outcomes), at)]
        ((observation, outcome),) = outcomes
        if outcome.value is None:
            raise MetricUnavailable(_failed(ctx, observation))
        return [ExternalMetricSample(metric_name, outcome.value, at)]

    # ------------------------------------------------------------------ parts

    def _parse(self, ctx: ObjectContext) -> ScalingSpec:
        key = (ctx.namespace, ctx.name)
        generation = (ctx.obj.get("metadata") or {}).get("generation")
        annotations = (ctx.obj.get("metadata") or {}).get("annotations")
        stamp = (generation, repr(annotations))
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[2]
        try:
            so = ScaledObject.model_validate(ctx.obj)
        except ValueError as exc:
            raise MetricUnavailable(
                f"ScaledObject {ctx.namespace}/{ctx.name} is invalid (see its Ready condition)"
            ) from exc
        spec = so.resolved()
        self._parsed[key] = (stamp, so, spec)
        if len(self._parsed) > 4 * max(len(self.controller.objects) if self.controller else 0, 1):
            self._parsed = {k: v for k, v in self._parsed.items() if self._holds(k)}
        return spec

    def _holds(self, key: tuple[str, str]) -> bool:
        return self.controller is not None and key in self.controller.objects

    @staticmethod
    def _wanted(
        ctx: ObjectContext,
        triggers: Sequence[BuiltTrigger],
        spec: ScalingSpec,
        metric_name: str,
    ) -> list[tuple[BuiltTrigger, ExternalMetricSpec]]:
        external = [
            (trigger, metric)
            for trigger in triggers
            if not trigger.is_resource
            for metric in trigger.specs
            if isinstance(metric, ExternalMetricSpec)
        ]
        if spec.uses_modifiers:
            if metric_name.casefold() != COMPOSITE_METRIC_NAME:
                raise MetricNotFound(
                    f"ScaledObject {ctx.namespace}/{ctx.name} uses scalingModifiers; its only "
                    f"external metric is {COMPOSITE_METRIC_NAME}, not {metric_name}"
                )
            return external
        # The HPA controller (client-go) lower-cases the metric name in the request path, and
        # KEDA matches case-insensitively: a cron trigger's s0-cron-Asia-Seoul-… must be found
        # when asked for s0-cron-asia-seoul-….
        wanted = metric_name.casefold()
        found = [(t, m) for t, m in external if m.metric_name.casefold() == wanted]
        if not found:
            served = ", ".join(m.metric_name for _t, m in external) or "none"
            raise MetricNotFound(
                f"no trigger of ScaledObject {ctx.namespace}/{ctx.name} exports metric "
                f"{metric_name} (it exports: {served})"
            )
        return found[:1]

    @staticmethod
    async def _current_replicas(controller: ScaledObjectController, ctx: ObjectContext) -> int:
        """The target's replicas, for fallback's ``currentReplicas`` behaviors (cached read)."""
        if ctx.target is not None:
            try:
                return (await controller.targets.get_scale(ctx.target)).replicas
            except (KubeError, TimeoutError):
                pass
        latest = controller.decisions.latest(ctx.namespace, ctx.name)
        return latest.current_replicas or 0 if latest is not None else 0

    @staticmethod
    def _uses_cache(ctx: ObjectContext, trigger: BuiltTrigger) -> bool:
        raw: list[Any] = (ctx.obj.get("spec") or {}).get("triggers") or []
        entry = raw[trigger.index] if trigger.index < len(raw) else {}
        return isinstance(entry, dict) and entry.get("useCachedMetrics") is True

    async def _observe(
        self,
        ctx: ObjectContext,
        trigger: BuiltTrigger,
        metric: ExternalMetricSpec,
        timeout_seconds: float,
    ) -> tuple[keda.TriggerObservation, bool]:
        """The metric's observation and whether it came from the last poll's cache."""
        if self._uses_cache(ctx, trigger) and ctx.last_poll is not None:
            for observation in ctx.last_poll.observations:
                if observation.metric_name == metric.metric_name:
                    return observation, True
        if metric.target.type is MetricTargetType.VALUE:
            metric_type, target = MetricTargetType.VALUE, metric.target.value
        else:
            metric_type, target = MetricTargetType.AVERAGE_VALUE, metric.target.average_value
        base = keda.TriggerObservation(
            metric_name=metric.metric_name,
            trigger_type=trigger.type,
            name=trigger.name,
            metric_type=metric_type,
            target=target,
        )
        try:
            async with asyncio.timeout(timeout_seconds):
                samples, active = await trigger.scaler.get_metrics_and_activity(metric.metric_name)
        except TimeoutError:
            trigger.needs_rebuild = True
            return dataclasses.replace(base, error=f"timed out after {timeout_seconds:g}s"), False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the scaler's failure is fallback's input, never a crash
            trigger.needs_rebuild = True
            return dataclasses.replace(base, error=trigger.error_text(exc)), False
        value = sum(s.value for s in samples) if samples else 0.0
        return dataclasses.replace(base, value=value, is_active=active), False

    def _timestamp(
        self, ctx: ObjectContext, read: Sequence[tuple[keda.TriggerObservation, bool]]
    ) -> datetime:
        if all(cached for _o, cached in read) and ctx.last_poll_at is not None:
            return ctx.last_poll_at
        return self.now()

    @staticmethod
    def _composite(
        ctx: ObjectContext,
        spec: ScalingSpec,
        outcomes: Sequence[tuple[keda.TriggerObservation, keda.FallbackOutcome]],
    ) -> float:
        variables: dict[str, float | None] = {}
        first_fallback: float | None = None
        for observation, outcome in outcomes:
            if outcome.error is not None:
                raise MetricUnavailable(_failed(ctx, observation))
            if outcome.fallback_active and first_fallback is None:
                first_fallback = outcome.value
            if observation.name:
                variables[observation.name] = outcome.value
        composite = keda.compose(spec, variables, fallback_value=first_fallback)
        if composite.error is not None or composite.value is None:
            raise MetricUnavailable(composite.error or "the formula gave no value")
        return composite.value
