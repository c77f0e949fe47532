"""What drove each scaled workload of a run: the autoscalers of a scenario, read for the report.

The report answers *why* replicas moved, so for each workload an autoscaler scales it needs:

* the **metric each trigger compared with its target**, sampled every tick from the world's own
  books (the figures the trigger read, not a model of them): cpu or memory of the Ready pods
  against their requests (what ``metrics.k8s.io`` served), messages waiting in an SQS queue or
  lag of a Kafka consumer group divided by the replicas (``AverageValue``: the HPA compares
  total ÷ replicas with the target), or for a cron trigger the replicas its window asks for;
* the **target** as the ScaledObject states it (``value``, ``queueLength``, ``lagThreshold``,
  ``desiredReplicas``, …, with the trigger's own defaults), the activation threshold, the
  ``min``/``max`` bounds; for a HorizontalPodAutoscaler its Resource metrics; for a
  ProportionalScaler the nodes it counts against its ladder's steps or ``nodesPerReplica``;
* the **replicas the metric asks for** — ``ceil(replicas * value / target)``, before the
  tolerance, stabilization windows and bounds — so that "held at max", "held by the
  stabilization window" and "capped at the partition count" can be seen;
* **capacity against demand**: what the Ready pods can serve (a pod saturates at its cpu limit;
  a queue consumer takes ``consumePerSecond``) against what arrives, and when demand exceeded
  it (overload).

Everything here is computed from the scenario (its objects, workloads and queues) and the
timeline, without I/O: the same inputs give the same figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from podscaler.api.hpabehavior import (
    DEFAULT_CPU_UTILIZATION_PERCENT,
    DEFAULT_DOWNSCALE_STABILIZATION_SECONDS,
    DEFAULT_HPA_MIN_REPLICAS,
)
from podscaler.api.proportionalscaler import ProportionalScalerSpec
from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.api.scaledobject import GENERATED_HPA_NAME_PREFIX, ScaledObjectSpec
from podscaler.engine.cpa import (
    INT32_MAX,
    ClusterStatus,
    LadderParams,
    LinearParams,
    Params,
    ParamsError,
    check_ladder,
    check_linear,
    decide,
    parse_config_data,
)
from podscaler.sim.scenarios.scenario import Scenario, WorkloadSpec
from podscaler.sim.world.timeline import Timeline
from scalers.aws_sqs_queue import AwsSqsQueueConfig
from scalers.cron import cron_activity
from scalers.cron_schedule import CronSyntaxError, load_timezone, parse_cron
from scalers.kafka import KafkaConfig

__all__ = [
    "Autoscaler",
    "Driver",
    "Supply",
    "autoscalers",
    "drivers",
    "format_figure",
    "overload_spans",
    "proposals",
    "supply",
]

#: Kinds whose objects scale a workload, by the API group they are served from.
_SCALED_OBJECT_GROUPS = ("autoscaling.podscaler.io", "keda.sh")
#: The scale-down window of an HPA or ScaledObject whose behavior sets none.
_DEFAULT_SCALE_DOWN_WINDOW_SECONDS = int(DEFAULT_DOWNSCALE_STABILIZATION_SECONDS)
_PLACEHOLDER = re.compile(r"\$\{queues\.([^.}]+)\.")


@dataclass(frozen=True)
class TriggerSpec:
    """One trigger (or HPA metric), as the report reads it: what to sample and its target."""

    index: int
    type: str
    #: "cpu", "memory", "queue", "cron" or "" (a metric the world does not model)
    source: str
    target: float | None
    target_name: str
    activation: float | None = None
    activation_name: str = ""
    #: cpu/memory: "Utilization" or "AverageValue"
    metric_type: str = "AverageValue"
    queue: str | None = None
    #: Kafka: most replicas the trigger asks for (the topic's partitions) unless idle
    #: consumers are allowed
    cap: int | None = None
    cron: tuple[str, str, str] | None = None
    detail: str = ""
    #: a ProportionalScaler's parameters (linear or ladder, cluster-proportional-autoscaler's)
    params: Params | None = None


@dataclass(frozen=True)
class Autoscaler:
    """A ScaledObject or HorizontalPodAutoscaler of the scenario and the workload it scales."""

    kind: str
    namespace: str
    name: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    triggers: tuple[TriggerSpec, ...]
    #: seconds without an active trigger before scaling to zero (ScaledObjects with min 0)
    cooldown_seconds: int | None = None
    #: how long a lower recommendation must hold before a scale-down (HPA behavior)
    scale_down_window_seconds: int = _DEFAULT_SCALE_DOWN_WINDOW_SECONDS
    #: the HorizontalPodAutoscaler that scales for it (a ScaledObject in mode hpa): that HPA's
    #: Events are this object's decisions
    hpa_name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def timing(self) -> str:
        """The waits that delay a scale-down, as the object sets them."""
        if self.kind == "ProportionalScaler":
            return "decided as soon as the nodes change (no window)"
        parts = [f"scale-down window {self.scale_down_window_seconds} s"]
        if self.cooldown_seconds is not None and self.min_replicas == 0:
            parts.append(f"cooldown {self.cooldown_seconds} s before scaling to zero")
        return ", ".join(parts)


@dataclass(frozen=True)
class Driver:
    """One trigger's metric over the run, ready to draw against its target."""

    trigger: TriggerSpec
    title: str
    unit: str
    #: per sample; None where the metric is undefined (no Ready pod, no data)
    values: list[float | None]
    #: per sample: replicas this metric asks for (before tolerance, windows and bounds)
    asks: list[float | None]
    note: str = ""

    @property
    def target(self) -> float | None:
        return self.trigger.target

    def target_text(self) -> str:
        if self.trigger.target is None:
            return "no target"
        return (
            f"{self.trigger.target_name} {format_figure(self.trigger.target)}{_suffix(self.unit)}"
        )

    def value_text(self, value: float | None) -> str:
        if value is None:
            return "—"
        return f"{format_figure(value)}{_suffix(self.unit)}"


@dataclass(frozen=True)
class Supply:
    """Capacity of the Ready pods against demand, per sample."""

    unit: str
    demand_label: str
    demand: list[float]
    capacity: list[float] | None
    per_pod: float | None
    note: str = ""
    #: what the Ready pods serve at the trigger's cpu target (where the autoscaler keeps them)
    at_target: list[float] | None = None
    per_pod_at_target: float | None = None
    target_text: str = ""

    def overloaded(self) -> list[bool]:
        """Per sample: demand above what the Ready pods serve, while some pod is Ready."""
        if self.capacity is None:
            return [False] * len(self.demand)
        return [c > 0 and d > c + 1e-9 for d, c in zip(self.demand, self.capacity, strict=True)]

    def unserved(self) -> list[bool]:
        """Per sample: demand while no pod is Ready (scaled to zero, or not yet started)."""
        if self.capacity is None:
            return [False] * len(self.demand)
        return [c <= 0 and d > 1e-9 for d, c in zip(self.demand, self.capacity, strict=True)]


# --------------------------------------------------------------------------- reading objects


def autoscalers(scenario: Scenario) -> list[Autoscaler]:
    """The scenario's ScaledObjects and HorizontalPodAutoscalers, in the order written.
    An object that does not parse is left out (the operator says why in its status)."""
    found: list[Autoscaler] = []
    for obj in scenario.objects:
        api_version = str(obj.get("apiVersion") or "")
        group = api_version.rpartition("/")[0]
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name") or "")
        if kind == "ScaledObject" and group in _SCALED_OBJECT_GROUPS:
            scaler = _scaled_object(scenario, namespace, name, obj.get("spec") or {})
        elif kind == "ProportionalScaler" and group in _SCALED_OBJECT_GROUPS:
            scaler = _proportional(scenario, namespace, name, obj.get("spec") or {})
        elif kind == "HorizontalPodAutoscaler" and group == "autoscaling":
            scaler = _hpa(namespace, name, obj.get("spec") or {})
        else:
            continue
        if scaler is not None:
            found.append(scaler)
    return found


def _scaled_object(
    scenario: Scenario, namespace: str, name: str, raw: Mapping[str, Any]
) -> Autoscaler | None:
    try:
        spec = ScaledObjectSpec.model_validate(raw)
    except ValidationError:
        return None
    ref = spec.scale_target_ref
    workload = next((w for w in scenario.workloads if w.name == ref.name), None)
    triggers = tuple(
        _trigger(scenario, workload, index, t.type, t.metadata or {}, t.metric_type)
        for index, t in enumerate(spec.triggers)
    )
    behavior = spec.behavior
    window = (
        behavior.scale_down.stabilization_window_seconds
        if behavior is not None and behavior.scale_down is not None
        else None
    )
    resolved = spec.resolved()
    hpa_name = None
    if spec.mode == "hpa":
        config = spec.advanced.horizontal_pod_autoscaler_config if spec.advanced else None
        hpa_name = (config.name if config else None) or f"{GENERATED_HPA_NAME_PREFIX}{name}"
    return Autoscaler(
        "ScaledObject",
        namespace,
        name,
        ref.effective_kind,
        ref.name,
        resolved.min_replica_count,
        resolved.max_replica_count,
        triggers,
        resolved.cooldown_period_seconds,
        window if window is not None else _DEFAULT_SCALE_DOWN_WINDOW_SECONDS,
        hpa_name,
    )


def _number(raw: Any) -> float | None:
    try:
        value = float(str(raw))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _trigger(
    scenario: Scenario,
    workload: WorkloadSpec | None,
    index: int,
    type_: str,
    metadata: Mapping[str, str],
    metric_type: str | None,
) -> TriggerSpec:
    if type_ in ("cpu", "memory"):
        kind = metric_type or "Utilization"
        target = _resource_target(type_, kind, metadata.get("value"))
        return TriggerSpec(index, type_, type_, target, "target", metric_type=kind)
    if type_ == "aws-sqs-queue":
        length = _number(metadata.get("queueLength"))
        activation = _number(metadata.get("activationQueueLength"))
        return TriggerSpec(
            index,
            type_,
            "queue",
            length if length is not None else _default(AwsSqsQueueConfig, "queue_length"),
            "queueLength",
            activation if activation is not None else 0.0,
            "activationQueueLength",
            queue=_queue_of(scenario, workload, metadata, ("queueURL", "queueName")),
        )
    if type_ == "kafka":
        lag = _number(metadata.get("lagThreshold"))
        activation = _number(metadata.get("activationLagThreshold"))
        queue = _queue_of(scenario, workload, metadata, ("topic",))
        partitions = next((q.partitions for q in scenario.queues if q.name == queue), None)
        idle = str(metadata.get("allowIdleConsumers", "")).lower() == "true"
        return TriggerSpec(
            index,
            type_,
            "queue",
            lag if lag is not None else _default(KafkaConfig, "lag_threshold"),
            "lagThreshold",
            activation if activation is not None else 0.0,
            "activationLagThreshold",
            queue=queue,
            cap=None if idle else partitions,
        )
    if type_ == "cron":
        desired = _number(metadata.get("desiredReplicas"))
        schedule = (
            str(metadata.get("start", "")),
            str(metadata.get("end", "")),
            str(metadata.get("timezone", "")),
        )
        return TriggerSpec(index, type_, "cron", desired, "desiredReplicas", cron=schedule)
    threshold_key = next(
        (k for k in ("threshold", "targetValue", "value", "queueLength") if k in metadata), ""
    )
    detail = str(metadata.get("query") or "")
    return TriggerSpec(
        index,
        type_,
        "",
        _number(metadata.get(threshold_key)) if threshold_key else None,
        threshold_key or "target",
        detail=detail,
    )


def _default(config: Any, field: str) -> float:
    return float(config.model_fields[field].default)


def _resource_target(resource: str, metric_type: str, raw: Any) -> float | None:
    """``value`` of a cpu/memory trigger: a percentage for Utilization, else a quantity
    (millicores for cpu, MiB for memory, the units the report draws in)."""
    if raw is None:
        return None
    if metric_type == "Utilization":
        return _number(raw)
    try:
        quantity = parse_quantity(str(raw))
    except (QuantityError, TypeError):
        return None
    if resource == "cpu":
        return float(quantity.milli_value())
    return quantity.int_value() / 2**20


def _queue_of(
    scenario: Scenario,
    workload: WorkloadSpec | None,
    metadata: Mapping[str, str],
    keys: Sequence[str],
) -> str | None:
    """The scenario queue a trigger reads: named by a ``${queues.NAME.…}`` placeholder, or
    the queue (or topic) its value names, or the one the scaled workload consumes."""
    names = [q.name for q in scenario.queues]
    for key in keys:
        value = str(metadata.get(key) or "")
        match = _PLACEHOLDER.search(value)
        if match and match.group(1) in names:
            return match.group(1)
        tail = value.rstrip("/").rpartition("/")[2]
        if tail in names:
            return tail
    if workload is not None and workload.profile.queue in names:
        return workload.profile.queue
    return names[0] if len(names) == 1 else None


def _proportional(
    scenario: Scenario, namespace: str, name: str, raw: Mapping[str, Any]
) -> Autoscaler | None:
    """A ProportionalScaler: its parameters from its spec or from the scenario's ConfigMap."""
    try:
        spec = ProportionalScalerSpec.model_validate(raw)
        if spec.config_map_ref is not None:
            data = next(
                (
                    o.get("data") or {}
                    for o in scenario.objects
                    if o.get("kind") == "ConfigMap"
                    and (o.get("metadata") or {}).get("name") == spec.config_map_ref.name
                    and str((o.get("metadata") or {}).get("namespace") or "default") == namespace
                ),
                None,
            )
            if data is None:
                return None
            params: Params = parse_config_data(data)
        elif spec.linear is not None:
            linear = spec.linear
            params = check_linear(
                LinearParams(
                    cores_per_replica=linear.cores_per_replica or 0.0,
                    nodes_per_replica=linear.nodes_per_replica or 0.0,
                    min=linear.min or 0,
                    max=linear.max or 0,
                    prevent_single_point_failure=bool(linear.prevent_single_point_failure),
                    include_unschedulable_nodes=bool(linear.include_unschedulable_nodes),
                )
            )
        elif spec.ladder is not None:
            ladder = spec.ladder
            params = check_ladder(
                LadderParams(
                    cores_to_replicas=tuple((s[0], s[1]) for s in ladder.cores_to_replicas or ()),
                    nodes_to_replicas=tuple((s[0], s[1]) for s in ladder.nodes_to_replicas or ()),
                    include_unschedulable_nodes=bool(ladder.include_unschedulable_nodes),
                )
            )
        else:
            return None
    except (ValidationError, ParamsError):
        return None
    if isinstance(params, LinearParams):
        low, high = params.min, params.max or INT32_MAX
        target = params.nodes_per_replica or None
        target_name = "nodesPerReplica"
    else:
        replicas = [r for _, r in (*params.nodes_to_replicas, *params.cores_to_replicas)]
        low, high = min(replicas, default=0), max(replicas, default=0)
        target, target_name = None, "nodesToReplicas"
    trigger = TriggerSpec(0, params.mode, "nodes", target, target_name, params=params)
    ref = spec.scale_target_ref
    return Autoscaler(
        "ProportionalScaler",
        namespace,
        name,
        ref.effective_kind,
        ref.name,
        low,
        high,
        (trigger,),
        None,
        0,
    )


def _hpa(namespace: str, name: str, spec: Mapping[str, Any]) -> Autoscaler | None:
    ref = spec.get("scaleTargetRef") or {}
    if not isinstance(ref, Mapping) or not ref.get("name"):
        return None
    triggers: list[TriggerSpec] = []
    metrics = spec.get("metrics") or [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {
                    "type": "Utilization",
                    "averageUtilization": DEFAULT_CPU_UTILIZATION_PERCENT,
                },
            },
        }
    ]
    for index, metric in enumerate(metrics):
        resource = metric.get("resource") if isinstance(metric, Mapping) else None
        if metric.get("type") == "Resource" and isinstance(resource, Mapping):
            target = resource.get("target") or {}
            resource_name = str(resource.get("name"))
            kind = str(target.get("type") or "Utilization")
            raw = (
                target.get("averageUtilization")
                if kind == "Utilization"
                else target.get("averageValue")
            )
            triggers.append(
                TriggerSpec(
                    index,
                    resource_name,
                    resource_name if resource_name in ("cpu", "memory") else "",
                    _resource_target(resource_name, kind, raw),
                    "target",
                    metric_type=kind,
                )
            )
        else:
            triggers.append(TriggerSpec(index, str(metric.get("type")), "", None, "target"))
    down = ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds")
    return Autoscaler(
        "HorizontalPodAutoscaler",
        namespace,
        name,
        str(ref.get("kind") or "Deployment"),
        str(ref["name"]),
        int(spec.get("minReplicas") or DEFAULT_HPA_MIN_REPLICAS),
        int(spec.get("maxReplicas") or 1),
        tuple(triggers),
        None,
        int(down) if isinstance(down, int) else _DEFAULT_SCALE_DOWN_WINDOW_SECONDS,
    )


# --------------------------------------------------------------------------- sampling


def _requests(workload: WorkloadSpec | None, resource: str) -> float | None:
    """What one pod requests (millicores or bytes), summed over its containers; None when a
    container requests none (the HPA then cannot compute utilization)."""
    if workload is None:
        return None
    spec = workload.manifest.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    total = 0.0
    for container in template.get("containers") or ():
        raw = ((container.get("resources") or {}).get("requests") or {}).get(resource)
        if raw is None:
            return None
        try:
            quantity = parse_quantity(str(raw))
        except (QuantityError, TypeError):
            return None
        total += quantity.milli_value() if resource == "cpu" else quantity.int_value()
    return total or None


def drivers(scaler: Autoscaler, timeline: Timeline, scenario: Scenario) -> list[Driver]:
    """One :class:`Driver` per trigger of ``scaler``."""
    workload = next((w for w in scenario.workloads if w.name == scaler.target_name), None)
    return [_driver(t, scaler, workload, timeline, scenario) for t in scaler.triggers]


def _driver(
    trigger: TriggerSpec,
    scaler: Autoscaler,
    workload: WorkloadSpec | None,
    timeline: Timeline,
    scenario: Scenario,
) -> Driver:
    n = len(timeline)
    desired = timeline.series(scaler.target_name, "desired")
    ready = timeline.series(scaler.target_name, "ready")
    none: list[float | None] = [None] * n
    if trigger.source in ("cpu", "memory"):
        return _resource_driver(trigger, scaler, workload, timeline, ready)
    if trigger.source == "queue":
        queue = trigger.queue
        found = timeline.queues.get(queue) if queue is not None else None
        what = "lag" if trigger.type == "kafka" else "messages waiting"
        title = f"{what} per replica ({trigger.type} {queue or '?'} ÷ replicas)"
        if found is None or trigger.target is None or trigger.target <= 0:
            return Driver(trigger, title, "", none, none, "the world keeps no such queue")
        depth = list(found.values) + [0.0] * (n - len(found.values))
        values: list[float | None] = [d / max(1.0, r) for d, r in zip(depth, desired, strict=True)]
        target = trigger.target
        cap = trigger.cap
        asks: list[float | None] = [
            float(min(math.ceil(d / target), cap) if cap else math.ceil(d / target)) for d in depth
        ]
        note = (
            f"the trigger asks for at most {cap} replicas, the topic's partitions "
            "(allowIdleConsumers is not set)"
            if cap
            else ""
        )
        return Driver(trigger, title, "", values, asks, note)
    if trigger.source == "cron":
        return _cron_driver(trigger, timeline, scenario)
    if trigger.source == "nodes" and trigger.params is not None:
        return _proportional_driver(trigger, trigger.params, timeline, desired)
    what = f"{trigger.type} trigger" + (f" ({trigger.detail})" if trigger.detail else "")
    return Driver(trigger, what, "", none, none, "the simulated world does not model this metric")


def _resource_driver(
    trigger: TriggerSpec,
    scaler: Autoscaler,
    workload: WorkloadSpec | None,
    timeline: Timeline,
    ready: list[float],
) -> Driver:
    resource = trigger.source
    used = timeline.series(scaler.target_name, f"{resource}_{_USAGE_UNITS[resource]}")
    n = len(used)
    none: list[float | None] = [None] * n
    target = trigger.target
    if trigger.metric_type == "Utilization":
        request = _requests(workload, resource)
        title = f"{resource} utilization of the Ready pods (% of request)"
        if request is None:
            return Driver(trigger, title, "%", none, none, "the pods request no " + resource)
        values: list[float | None] = [
            100.0 * u / (r * request) if r > 0 else None for u, r in zip(used, ready, strict=True)
        ]
        unit = "%"
    else:
        scale = 1.0 if resource == "cpu" else 1.0 / 2**20
        values = [u * scale / r if r > 0 else None for u, r in zip(used, ready, strict=True)]
        title = f"{resource} per Ready pod"
        unit = "m" if resource == "cpu" else "MiB"
    asks: list[float | None] = [
        float(math.ceil(r * v / target - 1e-9)) if v is not None and target else None
        for v, r in zip(values, ready, strict=True)
    ]
    return Driver(trigger, title, unit, values, asks)


_USAGE_UNITS = {"cpu": "millicores", "memory": "bytes"}


def _cron_driver(trigger: TriggerSpec, timeline: Timeline, scenario: Scenario) -> Driver:
    n = len(timeline)
    none: list[float | None] = [None] * n
    title = "replicas the cron schedule asks for"
    assert trigger.cron is not None
    start, end, zone = trigger.cron
    if scenario.start is None or trigger.target is None:
        return Driver(trigger, title, "", none, none, "the scenario has no start time")
    try:
        schedules = parse_cron(start), parse_cron(end), load_timezone(zone)
    except (CronSyntaxError, ValueError) as exc:
        return Driver(trigger, title, "", none, none, f"the schedule does not parse: {exc}")
    desired = int(trigger.target)
    values: list[float | None] = []
    until: datetime | None = None
    current = 0.0
    for seconds in timeline.times.values:
        now = scenario.start + timedelta(seconds=seconds)
        if until is None or now >= until:
            decision = cron_activity(*schedules, desired, now)
            current = float(decision.value)
            bounds = [b for b in (decision.next_start, decision.next_end) if b is not None]
            # The verdict holds until the next start or end occurrence.
            until = min(bounds) if bounds else now + timedelta(days=3650)
        values.append(current)
    note = f"start {start!r}, end {end!r} ({zone})"
    return Driver(trigger, title, "", values, list(values), note)


def _proportional_driver(
    trigger: TriggerSpec, params: Params, timeline: Timeline, desired: list[float]
) -> Driver:
    """The nodes a ProportionalScaler counted, and the replicas its mode gives for them
    (``engine.cpa.decide``, the controller's own function). A linear mode is drawn as nodes
    per replica against ``nodesPerReplica``, a ladder as nodes against its steps."""
    every = params.include_unschedulable_nodes
    nodes = list(timeline.nodes.values if every else timeline.schedulable_nodes.values)
    asks: list[float | None] = []
    for i in range(len(timeline)):
        status = ClusterStatus(
            int(timeline.nodes.values[i]),
            int(timeline.schedulable_nodes.values[i]),
            int(timeline.total_cores.values[i]),
            int(timeline.schedulable_cores.values[i]),
        )
        asks.append(float(decide(params, status).replicas))
    which = "all" if every else "schedulable"
    if isinstance(params, LinearParams) and params.nodes_per_replica:
        values: list[float | None] = [n / max(1.0, r) for n, r in zip(nodes, desired, strict=True)]
        note = (
            f"linear: replicas = max(ceil(cores / {format_figure(params.cores_per_replica)}), "
            f"ceil(nodes / {format_figure(params.nodes_per_replica)})), min {params.min}"
            + (f", max {params.max}" if params.max else "")
            + (
                ", at least 2 with more than one node"
                if params.prevent_single_point_failure
                else ""
            )
        )
        return Driver(trigger, f"{which} nodes per replica", "", values, asks, note)
    note = ""
    if isinstance(params, LadderParams):
        steps = ", ".join(f"{n} nodes: {r}" for n, r in params.nodes_to_replicas)
        note = f"ladder nodesToReplicas: {steps}" if steps else "ladder on cores"
    return Driver(trigger, f"{which} nodes", "", [float(n) for n in nodes], asks, note)


def proposals(found: Sequence[Driver], length: int) -> list[float | None]:
    """What all triggers together ask for: the largest proposal (the HPA takes the largest)."""
    out: list[float | None] = []
    for i in range(length):
        asked = [d.asks[i] for d in found if d.asks[i] is not None]
        out.append(max(a for a in asked if a is not None) if asked else None)
    return out


# --------------------------------------------------------------------------- capacity


def supply(
    workload_name: str,
    timeline: Timeline,
    scenario: Scenario,
    cpu_target_percent: float | None = None,
) -> Supply | None:
    """Demand and the Ready pods' capacity to serve it, when the scenario says both; with a
    cpu utilization target, also what they serve at that target."""
    workload = next((w for w in scenario.workloads if w.name == workload_name), None)
    if workload is None:
        return None
    profile = workload.profile
    ready = timeline.series(workload_name, "ready")
    if profile.queue is not None:
        queue = next((q for q in scenario.queues if q.name == profile.queue), None)
        production = queue.production if queue is not None else None
        demand = [
            max(0.0, production.demand_at(t)) if production is not None else 0.0
            for t in timeline.times.values
        ]
        rate = profile.consume_per_second
        return Supply(
            "messages/s",
            f"messages arriving on {profile.queue}",
            demand,
            [r * rate for r in ready],
            rate,
        )
    if profile.demand is None:
        return None
    demand = timeline.series(workload_name, "demand")
    usage = profile.usage
    limits = [_pod_cpu_limit(workload)]
    limit = limits[0]
    if limit is None or usage.cpu_millicores_per_unit <= 0:
        return Supply(
            "req/s",
            "demand",
            demand,
            None,
            None,
            "no cpu limit: the simulated pods serve any demand, so nothing is overloaded",
        )
    per_pod = max(0.0, (limit - usage.cpu_base_millicores) / usage.cpu_millicores_per_unit)
    found = Supply("req/s", "demand", demand, [r * per_pod for r in ready], per_pod)
    request = _requests(workload, "cpu")
    if cpu_target_percent is None or request is None:
        return found
    at_target = max(
        0.0,
        (cpu_target_percent / 100 * request - usage.cpu_base_millicores)
        / usage.cpu_millicores_per_unit,
    )
    return replace(
        found,
        at_target=[r * at_target for r in ready],
        per_pod_at_target=at_target,
        target_text=f"{format_figure(cpu_target_percent)}% cpu",
    )


def _pod_cpu_limit(workload: WorkloadSpec) -> float | None:
    spec = workload.manifest.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    total = 0.0
    for container in template.get("containers") or ():
        raw = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
        if raw is None:
            return None
        try:
            total += parse_quantity(str(raw)).milli_value()
        except (QuantityError, TypeError):
            return None
    return total or None


def overload_spans(
    times: Sequence[float], flags: Sequence[bool], end: float
) -> list[tuple[float, float]]:
    """Intervals where ``flags`` hold; sample i covers [times[i], times[i+1]) (the last one
    until ``end``)."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = times[i]
        elif not flag and start is not None:
            spans.append((start, times[i]))
            start = None
    if start is not None:
        spans.append((start, max(end, start)))
    return spans


# --------------------------------------------------------------------------- text


def format_figure(value: float) -> str:
    """A number as people write it: no trailing zeros, at most three significant decimals."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _suffix(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit in ("%", "m") else f" {unit}"
