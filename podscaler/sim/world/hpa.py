"""The embedded cluster's HorizontalPodAutoscaler controller, built on ``engine.hpa``.

A cluster without kube-controller-manager has no HPA controller, yet KEDA's way of scaling
(podscaler's ``hpa`` mode) and users' plain HPAs need one. This is it: every
``sync_period_seconds`` (15 s, the ``--horizontal-pod-autoscaler-sync-period`` default) it
reconciles each ``autoscaling/v2`` HorizontalPodAutoscaler the way kube-controller-manager's
``reconcileAutoscaler`` does (reference/algorithms.md A.3): read ``/scale``; list the target's
pods by the scale selector; read each metric; let :func:`podscaler.engine.hpa.decide` decide;
write ``/scale`` when it says so; :func:`~podscaler.engine.hpa.conclude`; write ``status``
(``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``lastScaleTime``, the
AbleToScale/ScalingActive/ScalingLimited conditions) only when it changed; record Events with
upstream's reasons and messages (``SuccessfulRescale`` "New size: N; reason: R",
``FailedGetExternalMetric``, ``FailedComputeMetricsReplicas``, ``FailedGetScale``, ...).

**Over HTTP, like the real one.** Unlike the rest of the world, which writes in-process for
speed, this controller is a client of the API server through :mod:`podscaler.kube`: External
metrics must come *through the aggregation layer* (``/apis/external.metrics.k8s.io/v1beta1/
namespaces/{ns}/{metric}?labelSelector=...``, proxied by the embedded server to the metrics
API over TLS with the front-proxy certificate), exactly the path kube-controller-manager takes;
so does everything else, which also makes the controller usable against any API server.
Resource metrics come from ``metrics.k8s.io`` (the embedded server's, fed by the kubelet or
``ApiServer.set_pod_metrics``) with requests from the pods' specs; Pods and Object metrics are
asked of ``custom.metrics.k8s.io/v1beta2`` — which answers only if an APIService serves it,
otherwise the metric fails with ``FailedGetPodsMetric``/``FailedGetObjectMetric``.

**Time.** The loop sleeps on the event loop (so a simulated loop fast-forwards it); instants
(condition transitions, ``lastScaleTime``, pod start and readiness times, the engine's history)
are on the injected ``now`` clock, which in the embedded cluster is the API server's.

How to run it::

    controller = await HpaController.connect_to(server)   # token-identified, see below
    controller.start()                                    # or: await controller.sync_once()
    ...
    await controller.aclose()

Deliberate simplifications versus kube-controller-manager:

* HPAs are listed every period instead of watched (an informer with a 15 s resync amounts to
  the same schedule); they are reconciled five at a time (``--concurrent-horizontal-pod-
  autoscaler-syncs``), with no rate-limited work queue;
* the ``AmbiguousSelector`` check (pods targeted by two HPAs) is not made;
* Events are core/v1 Events deduplicated per (object, reason, message) into ``count``, without
  client-go's spam filter;
* the recommendation and scale-event history lives in memory, per HPA, as upstream's does (a
  restart forgets it, with the same consequence: no scale-down below the count found for one
  stabilization window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from podscaler import clock
from podscaler.api.conditions import Condition, condition_from_json
from podscaler.api.hpabehavior import (
    DEFAULT_CPU_UTILIZATION_PERCENT,
    DEFAULT_HPA_MIN_REPLICAS,
    Behavior,
    PolicyType,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
)
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.quantities import Quantity
from podscaler.api.selectors import LabelSelector, SelectorError, parse_label_selector
from podscaler.api.selectortext import go_label_selector as go_selector
from podscaler.api.timestamps import format_seconds, format_time, parse_seconds
from podscaler.engine import hpa
from podscaler.engine.hpa import conditions as reasons
from podscaler.engine.hpa.objects import (
    ZERO_TIME_SECONDS,
    milli_of,
    pod_facts,
    resource_reading,
)
from podscaler.kube.clients import MERGE_PATCH, Kube, connect
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.resources import Discovery
from podscaler.kube.scaling import Scale, ScaleClient, ScaleRef

if TYPE_CHECKING:
    from podscaler.sim.apiserver.server import ApiServer

__all__ = ["HPA_USER", "HpaController"]

log = logging.getLogger(__name__)

#: kube-controller-manager's identity for the HPA controller (``--use-service-account-
#: credentials``); what the metrics API's SubjectAccessReview sees through the front proxy.
HPA_USER: Final = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
COMPONENT: Final = "horizontal-pod-autoscaler"
_HPAS: Final = "/apis/autoscaling/v2/horizontalpodautoscalers"
_EXTERNAL: Final = "/apis/external.metrics.k8s.io/v1beta1"
_CUSTOM: Final = "/apis/custom.metrics.k8s.io/v1beta2"
_DEFAULT_METRIC: Final = {
    "type": "Resource",
    "resource": {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION_PERCENT},
    },
}

_CONDITION_TYPES: Final = frozenset(hpa.ConditionType)

Obj = dict[str, Any]


# ------------------------------------------------------------------------------ reading JSON


def _quantity(milli: int) -> str:
    """A milli-unit integer as Kubernetes prints ``resource.NewMilliQuantity`` (DecimalSI)."""
    from decimal import Decimal

    return Quantity(Decimal(milli) / 1000).canonical()


def _selector_query(selector: Mapping[str, Any] | None) -> str:
    if not selector:
        return ""
    return str(LabelSelector.from_dict(selector))


def _target(raw: Mapping[str, Any] | None) -> hpa.MetricTarget:
    raw = raw or {}
    try:
        kind = MetricTargetType(str(raw.get("type")))
    except ValueError:
        kind = MetricTargetType.AVERAGE_VALUE
    utilization = raw.get("averageUtilization")
    return hpa.MetricTarget(
        kind,
        average_utilization=int(utilization) if isinstance(utilization, int) else None,
        average_value_milli=milli_of(raw.get("averageValue")),
        value_milli=milli_of(raw.get("value")),
    )


def metric_spec(raw: Mapping[str, Any]) -> hpa.MetricSpec:
    """One ``spec.metrics[]`` entry as the engine's metric spec."""
    kind = str(raw.get("type") or "")
    if kind in ("Resource", "ContainerResource"):
        body = raw.get("resource" if kind == "Resource" else "containerResource") or {}
        container = str(body.get("container") or "") if kind == "ContainerResource" else None
        return hpa.ResourceMetric(
            str(body.get("name") or ""), _target(body.get("target")), container
        )
    if kind == "Pods":
        body = raw.get("pods") or {}
        metric = body.get("metric") or {}
        return hpa.PodsMetric(str(metric.get("name") or ""), _target(body.get("target")))
    if kind == "Object":
        body = raw.get("object") or {}
        metric = body.get("metric") or {}
        ref = body.get("describedObject") or {}
        return hpa.ObjectMetric(
            str(metric.get("name") or ""),
            hpa.ObjectRef(
                str(ref.get("kind") or ""),
                str(ref.get("name") or ""),
                str(ref.get("apiVersion") or ""),
            ),
            _target(body.get("target")),
            go_selector(metric.get("selector")),
        )
    if kind == "External":
        body = raw.get("external") or {}
        metric = body.get("metric") or {}
        return hpa.ExternalMetric(
            str(metric.get("name") or ""),
            _target(body.get("target")),
            go_selector(metric.get("selector")),
        )
    return hpa.UnknownMetric(kind)


def _rules(raw: Mapping[str, Any] | None) -> ScalingRules | None:
    if raw is None:
        return None
    select = raw.get("selectPolicy")
    policies = raw.get("policies")
    tolerance = milli_of(raw.get("tolerance"))
    window = raw.get("stabilizationWindowSeconds")
    return ScalingRules(
        stabilization_window_seconds=int(window) if isinstance(window, int) else None,
        select_policy=SelectPolicy(select) if select in ("Max", "Min", "Disabled") else None,
        policies=None
        if policies is None
        else tuple(
            ScalingPolicy(
                PolicyType(p.get("type")), int(p.get("value")), int(p.get("periodSeconds"))
            )
            for p in policies
            if p.get("type") in ("Pods", "Percent")
        ),
        tolerance=None if tolerance is None else tolerance / 1000,
    )


def hpa_spec(obj: Mapping[str, Any]) -> tuple[hpa.HpaSpec, list[Obj]]:
    """The engine's spec of an HPA object, and the raw metric entries it was built from."""
    spec = obj.get("spec") or {}
    raw_metrics: list[Obj] = [m for m in spec.get("metrics") or [] if isinstance(m, dict)]
    if not raw_metrics:
        raw_metrics = [_DEFAULT_METRIC]
    behavior_raw = spec.get("behavior")
    behavior = None
    if isinstance(behavior_raw, dict):
        behavior = Behavior(
            scale_up=_rules(behavior_raw.get("scaleUp")),
            scale_down=_rules(behavior_raw.get("scaleDown")),
        )
    minimum = spec.get("minReplicas")
    return (
        hpa.HpaSpec(
            max_replicas=int(spec.get("maxReplicas") or 0),
            min_replicas=int(minimum) if isinstance(minimum, int) else DEFAULT_HPA_MIN_REPLICAS,
            metrics=tuple(metric_spec(m) for m in raw_metrics),
            behavior=behavior,
        ),
        raw_metrics,
    )


def _conditions(status: Mapping[str, Any]) -> tuple[Condition, ...]:
    """The HPA's conditions of its own types; a missing transition time is Go's zero time."""
    out = []
    for raw in status.get("conditions") or []:
        condition = condition_from_json(raw)
        if condition is None or condition.type not in _CONDITION_TYPES:
            continue
        if condition.last_transition_seconds is None:
            condition = replace(condition, last_transition_seconds=ZERO_TIME_SECONDS)
        out.append(condition)
    return tuple(out)


# ------------------------------------------------------------------------------ writing JSON


def conditions_json(conditions: Sequence[Condition]) -> list[Obj]:
    return [
        {
            "type": str(c.type),
            "status": c.status.value,
            "lastTransitionTime": format_seconds(
                ZERO_TIME_SECONDS
                if c.last_transition_seconds is None
                else c.last_transition_seconds
            ),
            "reason": c.reason,
            "message": c.message,
        }
        for c in conditions
    ]


def _current(status: hpa.MetricStatus) -> Obj:
    current: Obj = {}
    if status.average_utilization is not None:
        current["averageUtilization"] = status.average_utilization
    if status.average_value_milli is not None:
        current["averageValue"] = _quantity(status.average_value_milli)
    if status.value_milli is not None:
        current["value"] = _quantity(status.value_milli)
    return current


def metric_status_json(raw: Mapping[str, Any], status: hpa.MetricStatus | None) -> Obj:
    """One ``status.currentMetrics[]`` entry; a failed metric is an empty one, as upstream
    leaves it (``kubectl get hpa`` shows ``<unknown>``)."""
    if status is None:
        return {"type": ""}
    kind = str(raw.get("type"))
    current = _current(status)
    if kind == "Resource":
        return {"type": kind, "resource": {"name": status.name, "current": current}}
    if kind == "ContainerResource":
        body = raw.get("containerResource") or {}
        return {
            "type": kind,
            "containerResource": {
                "name": status.name,
                "container": body.get("container"),
                "current": current,
            },
        }
    key = {"Pods": "pods", "Object": "object", "External": "external"}.get(kind)
    if key is None:
        return {"type": ""}
    body = raw.get(key) or {}
    out: Obj = {"metric": body.get("metric") or {"name": status.name}, "current": current}
    if kind == "Object":
        out["describedObject"] = body.get("describedObject")
    return {"type": kind, key: out}


# ------------------------------------------------------------------------------ events


class _Events:
    """core/v1 Events from ``horizontal-pod-autoscaler``; a repeat bumps ``count``."""

    def __init__(self, kube: Kube, now: Callable[[], datetime]) -> None:
        self._kube = kube
        self._now = now
        self._serial = 0
        self._series: dict[tuple[str, str, str], tuple[str, int]] = {}

    async def record(
        self, hpa_obj: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        meta = hpa_obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        key = (str(meta.get("uid") or ""), reason, message)
        stamp = format_time(self._now())
        path = f"/api/v1/namespaces/{namespace}/events"
        try:
            known = self._series.get(key)
            if known is not None:
                name, count = known
                try:
                    await self._kube.request(
                        "PATCH",
                        f"{path}/{name}",
                        body={"count": count + 1, "lastTimestamp": stamp},
                        content_type=MERGE_PATCH,
                    )
                    self._series[key] = (name, count + 1)
                    return
                except NotFound:
                    pass
            self._serial += 1
            name = f"{meta.get('name')}.{int(self._now().timestamp() * 1e6):x}{self._serial:x}"
            await self._kube.request(
                "POST",
                path,
                body={
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": {
                        "apiVersion": "autoscaling/v2",
                        "kind": "HorizontalPodAutoscaler",
                        "namespace": namespace,
                        "name": meta.get("name"),
                        "uid": meta.get("uid"),
                        "resourceVersion": meta.get("resourceVersion"),
                    },
                    "reason": reason,
                    "message": message,
                    "type": type_,
                    "source": {"component": COMPONENT},
                    "reportingComponent": COMPONENT,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "count": 1,
                },
            )
            if len(self._series) > 10_000:
                self._series.clear()
            self._series[key] = (name, 1)
        except KubeError as exc:
            log.warning("HPA controller: event %s not written: %s", reason, exc)


# ------------------------------------------------------------------------------ controller


class HpaController:
    """Reconciles every autoscaling/v2 HPA reachable through ``kube``."""

    def __init__(
        self,
        kube: Kube,
        *,
        now: Callable[[], datetime] | None = None,
        sync_period_seconds: float = 15.0,
        settings: hpa.HpaSettings | None = None,
        concurrent_syncs: int = 5,
        owns_kube: bool = False,
    ) -> None:
        self.kube = kube
        self.now = now or clock.now
        #: ``--horizontal-pod-autoscaler-sync-period``.
        self.sync_period_seconds = sync_period_seconds
        self.settings = settings or hpa.HpaSettings()
        self.concurrent_syncs = concurrent_syncs
        self.histories: dict[tuple[str, str], hpa.HpaHistory] = {}
        #: The last decision per HPA (``podscaler explain`` and tests read it).
        self.decisions: dict[tuple[str, str], hpa.Decision] = {}
        self._discovery = Discovery(kube)
        self._scales = ScaleClient(kube, self._discovery)
        self._events = _Events(kube, self.now)
        self._owns_kube = owns_kube
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect_to(
        cls,
        server: ApiServer,
        *,
        token: str = "horizontal-pod-autoscaler",
        **options: Any,
    ) -> HpaController:
        """A controller for an embedded :class:`ApiServer`, on its clock, over HTTP(S).

        With aggregation on, ``token`` is registered as :data:`HPA_USER`, so backends behind
        APIServices see the HPA controller's service account, as in a real cluster.
        """
        import os
        import tempfile

        groups = ("system:serviceaccounts", "system:serviceaccounts:kube-system")
        if server.aggregator is not None:
            server.aggregator.add_token(token, HPA_USER, groups)
        else:
            # A TLS server refuses unknown tokens; the service account's token is known.
            server.auth_policy.allow_token(token, HPA_USER, groups)
        ca_file: str | None = None
        if server.ca_pem is not None:
            with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as fh:
                fh.write(server.ca_pem)
                ca_file = fh.name
        try:
            kube = await connect(server=server.url, token=token, ca_file=ca_file)
        finally:
            if ca_file is not None:
                os.unlink(ca_file)
        options.setdefault("now", server.now)
        return cls(kube, owns_kube=True, **options)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="hpa-controller")

    async def run(self) -> None:
        """Reconcile every HPA each sync period, until cancelled."""
        while True:
            try:
                await self.sync_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HPA controller: sync failed")
            await asyncio.sleep(self.sync_period_seconds)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owns_kube:
            await self.kube.close()

    async def sync_once(self) -> None:
        """One pass over every HPA (what each sync period does)."""
        listed = await self.kube.request("GET", _HPAS)
        items = [i for i in listed.get("items") or [] if isinstance(i, dict)]
        keys = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}
        for gone in set(self.histories) - keys:
            self.histories.pop(gone, None)
            self.decisions.pop(gone, None)
        limit = asyncio.Semaphore(max(1, self.concurrent_syncs))

        async def one(obj: Obj) -> None:
            async with limit:
                try:
                    await self.reconcile(obj)
                except KubeError as exc:
                    meta = obj["metadata"]
                    log.warning("HPA controller: %s/%s: %s", meta["namespace"], meta["name"], exc)

        await asyncio.gather(*(one(obj) for obj in items))

    # ------------------------------------------------------------------ one HPA

    async def reconcile(self, obj: Obj) -> hpa.Decision | None:
        """One pass of ``reconcileAutoscaler`` for one HPA object (as listed)."""
        meta = obj["metadata"]
        key = (str(meta["namespace"]), str(meta["name"]))
        namespace = key[0]
        status = obj.get("status") or {}
        now = self.now()
        now_seconds = now.timestamp()
        previous_conditions = _conditions(status)
        ref_raw = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        ref = ScaleRef(
            str(ref_raw.get("apiVersion") or ""),
            str(ref_raw.get("kind") or ""),
            namespace,
            str(ref_raw.get("name") or ""),
        )
        try:
            scale = await self._scales.get_scale(ref)
        except KubeError as exc:
            message = f"the HPA controller was unable to get the target's current scale: {exc}"
            await self._events.record(obj, "Warning", reasons.FAILED_GET_SCALE, str(exc))
            conditions = hpa.scale_unreadable(previous_conditions, str(exc), now_seconds)
            log.debug("HPA controller: %s/%s: %s", *key, message)
            await self._write_status(obj, {**status, "conditions": conditions_json(conditions)})
            return None

        spec, raw_metrics = hpa_spec(obj)
        selector_problem, pods, readings = await self._observe(obj, scale, spec, raw_metrics)
        observed = hpa.Observed(
            spec_replicas=scale.replicas,
            status_replicas=scale.status_replicas,
            pods=pods,
            readings=readings,
            previous_conditions=previous_conditions,
            previous_desired_replicas=status.get("desiredReplicas")
            if isinstance(status.get("desiredReplicas"), int)
            else None,
            selector_problem=selector_problem,
        )
        history = self.histories.get(key, hpa.HpaHistory())
        decision = hpa.decide(spec, observed, history, now_seconds, self.settings)
        self.decisions[key] = decision
        await self._metric_events(obj, decision, len(spec.metrics))
        update_error: str | None = None
        if decision.rescale:
            try:
                await self._scales.set_replicas(ref, decision.desired_replicas)
            except KubeError as exc:
                update_error = str(exc)
        outcome = hpa.conclude(decision, update_error=update_error)
        self.histories[key] = outcome.history
        if decision.rescale:
            text = f"New size: {decision.desired_replicas}; reason: {decision.rescale_reason}"
            if update_error is None:
                await self._events.record(obj, "Normal", "SuccessfulRescale", text)
            else:
                await self._events.record(
                    obj, "Warning", "FailedRescale", f"{text}; error: {update_error}"
                )
        new_status: Obj = {
            "currentReplicas": scale.replicas,
            "desiredReplicas": outcome.desired_replicas,
            "conditions": conditions_json(outcome.conditions),
        }
        if decision.metric_statuses:
            new_status["currentMetrics"] = [
                metric_status_json(raw, s)
                for raw, s in zip(raw_metrics, decision.metric_statuses, strict=False)
            ]
        last_scale = (
            format_seconds(outcome.last_scale_seconds)
            if outcome.last_scale_seconds is not None
            else status.get("lastScaleTime")
        )
        if last_scale:
            new_status["lastScaleTime"] = last_scale
        await self._write_status(obj, new_status)
        return decision

    async def _observe(
        self, obj: Obj, scale: Scale, spec: hpa.HpaSpec, raw_metrics: list[Obj]
    ) -> tuple[hpa.SelectorProblem | None, tuple[hpa.PodFacts, ...], tuple[hpa.MetricReading, ...]]:
        """The selector check, the target's pods and one reading per metric."""
        namespace = str(obj["metadata"]["namespace"])
        if not scale.selector:
            problem = hpa.SelectorProblem(reasons.INVALID_SELECTOR, "selector is required")
            await self._events.record(obj, "Warning", "SelectorRequired", problem.message)
            return problem, (), ()
        try:
            parse_label_selector(scale.selector)
        except SelectorError as exc:
            message = (
                f"couldn't convert selector into a corresponding internal selector object: {exc}"
            )
            await self._events.record(obj, "Warning", reasons.INVALID_SELECTOR, message)
            return hpa.SelectorProblem(reasons.INVALID_SELECTOR, message), (), ()
        listed = await self.kube.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            params={"labelSelector": scale.selector},
        )
        pods = tuple(pod_facts(p) for p in listed.get("items") or [] if isinstance(p, dict))
        resource: hpa.MetricReading | None = None
        readings: list[hpa.MetricReading] = []
        for metric, raw in zip(spec.metrics, raw_metrics, strict=True):
            if isinstance(metric, hpa.ResourceMetric):
                if resource is None:
                    resource = await self._resource_reading(namespace, scale.selector)
                readings.append(resource)
            elif isinstance(metric, hpa.ExternalMetric):
                readings.append(await self._external_reading(namespace, metric, raw))
            elif isinstance(metric, hpa.PodsMetric):
                readings.append(await self._pods_reading(namespace, metric, scale.selector))
            elif isinstance(metric, hpa.ObjectMetric):
                readings.append(await self._object_reading(namespace, metric, raw))
            else:
                readings.append(hpa.ReadingError("unknown metric source type"))
        return None, pods, tuple(readings)

    async def _resource_reading(self, namespace: str, selector: str) -> hpa.MetricReading:
        try:
            answer = await self.kube.request(
                "GET",
                f"/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods",
                params={"labelSelector": selector},
            )
        except KubeError as exc:
            return hpa.ReadingError(f"unable to fetch metrics from resource metrics API: {exc}")
        items = [i for i in answer.get("items") or [] if isinstance(i, dict)]
        if not items:
            return hpa.ReadingError("no metrics returned from resource metrics API")
        return resource_reading(items)

    async def _external_reading(
        self, namespace: str, metric: hpa.ExternalMetric, raw: Obj
    ) -> hpa.MetricReading:
        selector = _selector_query(
            ((raw.get("external") or {}).get("metric") or {}).get("selector")
        )
        try:
            answer = await self.kube.request(
                "GET",
                f"{_EXTERNAL}/namespaces/{namespace}/{metric.metric_name}",
                params={"labelSelector": selector} if selector else None,
            )
        except KubeError as exc:
            return hpa.ReadingError(f"unable to fetch metrics from external metrics API: {exc}")
        values = tuple(
            m
            for m in (milli_of(i.get("value")) for i in answer.get("items") or [])
            if m is not None
        )
        return hpa.ExternalReading(values)

    async def _pods_reading(
        self, namespace: str, metric: hpa.PodsMetric, selector: str
    ) -> hpa.MetricReading:
        try:
            answer = await self.kube.request(
                "GET",
                f"{_CUSTOM}/namespaces/{namespace}/pods/*/{metric.metric_name}",
                params={"labelSelector": selector},
            )
        except KubeError as exc:
            return hpa.ReadingError(f"unable to fetch metrics from custom metrics API: {exc}")
        samples = []
        for item in answer.get("items") or []:
            value = milli_of(item.get("value"))
            if value is None:
                continue
            samples.append(
                hpa.PodSample(
                    pod=str((item.get("describedObject") or {}).get("name") or ""),
                    value_milli=value,
                    timestamp_seconds=parse_seconds(item.get("timestamp")) or 0.0,
                    window_seconds=float(item.get("windowSeconds") or 0),
                )
            )
        return hpa.PodsReading(tuple(samples))

    async def _object_reading(
        self, namespace: str, metric: hpa.ObjectMetric, raw: Obj
    ) -> hpa.MetricReading:
        ref = metric.described_object
        try:
            resource = await self._discovery.resolve(ref.api_version or "v1", ref.kind)
            answer = await self.kube.request(
                "GET",
                f"{_CUSTOM}/namespaces/{namespace}/{resource.plural}/{ref.name}/"
                f"{metric.metric_name}",
            )
        except KubeError as exc:
            return hpa.ReadingError(f"unable to fetch metrics from custom metrics API: {exc}")
        items = answer.get("items") or []
        value = milli_of(items[0].get("value")) if items else None
        if value is None:
            return hpa.ReadingError("no metrics returned from custom metrics API")
        return hpa.ObjectReading(value)

    async def _metric_events(self, obj: Obj, decision: hpa.Decision, total: int) -> None:
        failed = [e for e in decision.explanation.metrics if e.proposal is None and e.error]
        for evaluation in failed:
            await self._events.record(
                obj,
                "Warning",
                evaluation.failure_reason or "FailedGetMetric",
                evaluation.error or "",
            )
        if failed and decision.explanation.bound_by == hpa.BoundBy.METRICS_UNAVAILABLE:
            await self._events.record(
                obj,
                "Warning",
                "FailedComputeMetricsReplicas",
                f"invalid metrics ({len(failed)} invalid out of {total}), first error is: "
                f"{failed[0].error}",
            )

    async def _write_status(self, obj: Obj, status: Obj) -> None:
        """Write ``status`` when it differs from what the HPA holds (upstream's rule)."""
        if status == (obj.get("status") or {}):
            return
        meta = obj["metadata"]
        patch = dict(status)
        for field in ("currentMetrics", "lastScaleTime"):
            if field not in patch and field in (obj.get("status") or {}):
                patch[field] = None
        await self.kube.request(
            "PATCH",
            f"/apis/autoscaling/v2/namespaces/{meta['namespace']}/horizontalpodautoscalers/"
            f"{meta['name']}/status",
            body={"status": patch},
            content_type=MERGE_PATCH,
        )
