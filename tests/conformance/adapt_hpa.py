"""Adapters from ``hpa.json`` (Kubernetes HPA controller vectors) to ``podscaler.engine.hpa``.

Each adapter turns a vector's neutral input into the engine's records and compares the engine's
answer with the upstream expectation. Ages in the vectors become instants on one clock: ``NOW``
is an arbitrary evaluation instant and Go's zero time is its real distance in the past, because
upstream does arithmetic on zero times (``startTime + delay > lastTransitionTime`` holds for two
zero times) and an infinity would not reproduce it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.hpabehavior import (
    Behavior,
    PolicyType,
    ResolvedBehavior,
    ResolvedRules,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
)
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.selectors import SelectorError, parse_label_selector
from podscaler.engine.hpa import (
    DEFAULT_METRICS,
    ContainerRequests,
    ExternalMetric,
    ExternalReading,
    HpaHistory,
    HpaSettings,
    HpaSpec,
    MetricReading,
    MetricSpec,
    MetricTarget,
    MetricUnavailable,
    ObjectMetric,
    ObjectReading,
    ObjectRef,
    Observed,
    PodFacts,
    PodPhase,
    PodResourceUsage,
    PodSample,
    PodsMetric,
    PodsReading,
    ReadingError,
    Recommendation,
    ReplicaProposal,
    ResourceMetric,
    ResourceReading,
    ScaleEvent,
    SelectorProblem,
    Tolerances,
    UnknownMetric,
    conclude,
    convert_with_behavior_rate,
    convert_with_rules,
    decide,
    external_average_value_replicas,
    external_value_replicas,
    object_average_value_replicas,
    object_value_replicas,
    plain_metric_replicas,
    pod_samples,
    replicas_change_in_period,
    resource_samples,
    resource_utilization_replicas,
    scale_down_limit,
    scale_up_limit,
    stabilize_with_behavior,
    stabilize_without_behavior,
    store_scale_event,
)
from tests.conformance.registry import REL_TOL, Vector, adapter

#: The evaluation instant, in Unix seconds.
NOW = 1_750_000_000.0
#: Go's zero ``time.Time`` (0001-01-01T00:00:00Z) in Unix seconds.
GO_ZERO_TIME = -62_135_596_800.0

#: The constants of upstream's controller test binary (``horizontal_test.go``).
CONTROLLER_TEST_SETTINGS = HpaSettings(
    tolerance=0.1,
    downscale_stabilization_seconds=300,
    cpu_initialization_period_seconds=120,
    initial_readiness_delay_seconds=10,
    scale_up_limit_factor=8.0,
    scale_up_limit_minimum=4.0,
)
#: What a nil ``scaleDown.stabilizationWindowSeconds`` becomes (the controller's flag).
DOWNSCALE_WINDOW_SECONDS = 300


def _at(age: Any) -> float:
    return GO_ZERO_TIME if age == "zero" else NOW - float(age)


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=REL_TOL)
    return bool(actual == expected)


def _check(vector: Vector, got: Mapping[str, Any]) -> None:
    expected = vector["expected"]
    for key, want in expected.items():
        if key.endswith("_unasserted_upstream"):
            continue
        assert key in got, f"{vector['id']}: adapter produced no {key!r}"
        assert _same(got[key], want), f"{vector['id']}: {key} = {got[key]!r}, want {want!r}"


def _tolerances(raw: Mapping[str, Any]) -> Tolerances:
    return Tolerances(scale_up=float(raw["scaleUp"]), scale_down=float(raw["scaleDown"]))


# --------------------------------------------------------------------------------------------
# Pods and samples


def _ready(raw: Mapping[str, Any] | None) -> Condition | None:
    if raw is None:
        return None
    return Condition(
        "Ready",
        ConditionStatus(raw["status"]),
        last_transition_seconds=_at(raw["lastTransitionAgeSeconds"]),
    )


def _pod(raw: Mapping[str, Any], containers: tuple[ContainerRequests, ...]) -> PodFacts:
    start = raw.get("startAgeSeconds")
    return PodFacts(
        name=raw["name"],
        phase=PodPhase(raw.get("phase", "Running")),
        ready=_ready(raw.get("readyCondition")),
        start_time_seconds=None if start is None else _at(start),
        deleting=bool(raw.get("deleting", False)),
        containers=containers,
    )


def _calculator_pods(
    raw_pods: Sequence[Mapping[str, Any]], resource: str, container: str
) -> tuple[PodFacts, ...]:
    """Pods of the replica-calculator vectors: one request per pod (or per named container)."""
    pods = []
    for raw in raw_pods:
        request = raw.get("requestMilli")
        requests = {} if request is None else {resource: int(request)}
        pods.append(_pod(raw, (ContainerRequests(container or "app", requests),)))
    return tuple(pods)


def _samples(raw: Mapping[str, Mapping[str, Any]]) -> list[PodSample]:
    return [
        PodSample(
            pod,
            int(entry["valueMilli"]),
            _at(entry.get("timestampAgeSeconds", 0)),
            float(entry.get("windowSeconds", 60)),
        )
        for pod, entry in raw.items()
    ]


def _resource_usage(
    raw: Mapping[str, Mapping[str, Any]], resource: str, container: str
) -> list[PodResourceUsage]:
    """The per-pod values as ``metrics.k8s.io`` would report them (one container each)."""
    return [
        PodResourceUsage(
            sample.pod,
            {container or "app": {resource: sample.value_milli}},
            sample.timestamp_seconds,
            sample.window_seconds,
        )
        for sample in _samples(raw)
    ]


def _pods_by_readiness(vector_input: Mapping[str, Any]) -> tuple[PodFacts, ...]:
    """Running pods: ``readyPodCount`` Ready ones among ``currentReplicas`` (or among the
    ``podReadiness`` entries, when that list is longer).

    ``readyPodCount`` is the schema's field and what upstream reads (``getReadyPodsCount``);
    ``podReadiness`` is only a list of the harness's overrides, whose pods beyond its end are
    Ready by default, so its own count of "True" can fall short.
    """
    readiness = list(vector_input.get("podReadiness") or [])
    total = max(len(readiness), int(vector_input.get("currentReplicas", 0)))
    if vector_input.get("readyPodCount") is not None:
        ready = int(vector_input["readyPodCount"])
        total = max(total, ready)
        readiness = ["True"] * ready + ["False"] * (total - ready)
    else:
        readiness += ["True"] * (total - len(readiness))
    return tuple(
        PodFacts(
            f"pod-{i}",
            PodPhase.RUNNING,
            Condition("Ready", ConditionStatus(status), last_transition_seconds=GO_ZERO_TIME),
            GO_ZERO_TIME,
        )
        for i, status in enumerate(readiness)
    )


# --------------------------------------------------------------------------------------------
# Behavior and history


def _policy(raw: Mapping[str, Any]) -> ScalingPolicy:
    return ScalingPolicy(PolicyType(raw["type"]), int(raw["value"]), int(raw["periodSeconds"]))


def _resolved_rules(raw: Mapping[str, Any]) -> ResolvedRules:
    window = raw.get("stabilizationWindowSeconds")
    return ResolvedRules(
        stabilization_window_seconds=DOWNSCALE_WINDOW_SECONDS if window is None else window,
        select_policy=SelectPolicy(raw["selectPolicy"]),
        policies=tuple(_policy(p) for p in raw["policies"]),
    )


def _rules(raw: Mapping[str, Any] | None) -> ScalingRules | None:
    if raw is None:
        return None
    policies = raw.get("policies")
    tolerance = raw.get("tolerance")
    select = raw.get("selectPolicy")
    return ScalingRules(
        stabilization_window_seconds=raw.get("stabilizationWindowSeconds"),
        select_policy=None if select is None else SelectPolicy(select),
        policies=None if policies is None else tuple(_policy(p) for p in policies),
        tolerance=None if tolerance is None else _plain_quantity(tolerance),
    )


def _plain_quantity(raw: Any) -> float:
    """A tolerance given as a number or as a Quantity string such as ``"50m"``."""
    text = str(raw)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _events(raw: Sequence[Mapping[str, Any]]) -> tuple[ScaleEvent, ...]:
    return tuple(
        ScaleEvent(int(e["replicaChange"]), _at(e["ageSeconds"]), bool(e.get("outdated", False)))
        for e in raw
    )


def _recommendations(raw: Sequence[Mapping[str, Any]]) -> tuple[Recommendation, ...]:
    return tuple(Recommendation(int(r["replicas"]), _at(r["ageSeconds"])) for r in raw)


# --------------------------------------------------------------------------------------------
# Replica calculators


def _proposal_or_expected_error(
    vector: Vector, calculate: Callable[[], ReplicaProposal]
) -> ReplicaProposal | None:
    """The calculator's proposal, or ``None`` once the expected error has been checked."""
    error = vector["expected"].get("error")
    if error is None:
        return calculate()
    with pytest.raises(MetricUnavailable, match=re.escape(error)):
        calculate()
    return None


@adapter("hpa", "resource_utilization")
def resource_utilization(vector: Vector) -> None:
    given = vector["input"]
    resource = given["resource"]
    container = given.get("container") or ""

    def calculate() -> ReplicaProposal:
        return resource_utilization_replicas(
            int(given["currentReplicas"]),
            int(given["targetUtilization"]),
            resource,
            container or None,
            resource_samples(
                _resource_usage(given["metrics"], resource, container), resource, container or None
            ),
            _calculator_pods(given["pods"], resource, container),
            _tolerances(given["tolerance"]),
            cpu_initialization_period_seconds=float(given["cpuInitializationPeriodSeconds"]),
            initial_readiness_delay_seconds=float(given["delayOfInitialReadinessStatusSeconds"]),
            now_seconds=NOW,
        )

    proposal = _proposal_or_expected_error(vector, calculate)
    if proposal is not None:
        _check(
            vector,
            {
                "replicas": proposal.replicas,
                "utilization": proposal.utilization_percent,
                "rawAverageValueMilli": proposal.usage_milli,
            },
        )


@adapter("hpa", "pods_metric_average_value")
def pods_metric_average_value(vector: Vector) -> None:
    given = vector["input"]

    # A Resource metric with an AverageValue target goes through the same calculator with its
    # resource named, and then cpu's readiness rules apply (GetRawResourceReplicas).
    resource = given.get("resource") or None

    def calculate() -> ReplicaProposal:
        return plain_metric_replicas(
            int(given["currentReplicas"]),
            int(given["targetAverageValueMilli"]),
            pod_samples(_samples(given["metrics"]), "the-metric"),
            _calculator_pods(given["pods"], resource or "", given.get("container") or ""),
            _tolerances(given["tolerance"]),
            resource=resource,
            cpu_initialization_period_seconds=float(
                given.get("cpuInitializationPeriodSeconds", 120)
            ),
            initial_readiness_delay_seconds=float(
                given.get("delayOfInitialReadinessStatusSeconds", 10)
            ),
            now_seconds=NOW,
        )

    proposal = _proposal_or_expected_error(vector, calculate)
    if proposal is not None:
        _check(vector, {"replicas": proposal.replicas, "usageMilli": proposal.usage_milli})


@adapter("hpa", "object_value")
def object_value(vector: Vector) -> None:
    given = vector["input"]
    proposal = object_value_replicas(
        int(given["currentReplicas"]),
        int(given["metricValueMilli"]),
        int(given["targetValueMilli"]),
        _tolerances(given["tolerance"]),
        _pods_by_readiness(given),
    )
    _check(vector, {"replicas": proposal.replicas, "usageMilli": proposal.usage_milli})


@adapter("hpa", "external_value")
def external_value(vector: Vector) -> None:
    given = vector["input"]
    proposal = external_value_replicas(
        int(given["currentReplicas"]),
        [int(v) for v in given["metricValuesMilli"]],
        int(given["targetValueMilli"]),
        _tolerances(given["tolerance"]),
        _pods_by_readiness(given),
    )
    _check(vector, {"replicas": proposal.replicas, "usageMilli": proposal.usage_milli})


@adapter("hpa", "object_average_value")
def object_average_value(vector: Vector) -> None:
    given = vector["input"]
    proposal = object_average_value_replicas(
        int(given["statusReplicas"]),
        int(given["metricValueMilli"]),
        int(given["targetAverageValueMilli"]),
        _tolerances(given["tolerance"]),
    )
    _check(vector, {"replicas": proposal.replicas, "usageMilli": proposal.usage_milli})


@adapter("hpa", "external_average_value")
def external_average_value(vector: Vector) -> None:
    given = vector["input"]
    proposal = external_average_value_replicas(
        int(given["statusReplicas"]),
        [int(v) for v in given["metricValuesMilli"]],
        int(given["targetAverageValueMilli"]),
        _tolerances(given["tolerance"]),
    )
    _check(vector, {"replicas": proposal.replicas, "usageMilli": proposal.usage_milli})


# --------------------------------------------------------------------------------------------
# Normalization


@adapter("hpa", "stabilize_no_behavior")
def stabilize_no_behavior(vector: Vector) -> None:
    given = vector["input"]
    result = stabilize_without_behavior(
        _recommendations(given["recommendations"]),
        int(given["prenormalizedDesiredReplicas"]),
        float(given["downscaleStabilizationWindowSeconds"]),
        NOW,
    )
    _check(
        vector,
        {
            "stabilizedReplicas": result.replicas,
            "recommendationsLogLength": len(result.recommendations),
            "recommendationsAfter": [r.replicas for r in result.recommendations],
        },
    )


@adapter("hpa", "behavior_stabilization")
def behavior_stabilization(vector: Vector) -> None:
    given = vector["input"]
    result = stabilize_with_behavior(
        _recommendations(given["recommendations"]),
        int(given["currentReplicas"]),
        int(given["desiredReplicas"]),
        float(given["scaleUpStabilizationWindowSeconds"]),
        float(given["scaleDownStabilizationWindowSeconds"]),
        NOW,
    )
    after = [r.replicas for r in result.recommendations]
    _check(vector, {"stabilizedReplicas": result.replicas, "recommendationsAfter": after})
    derived = vector["expected"].get("recommendationsAfter_unasserted_upstream")
    if derived is not None:
        assert after == derived, f"{vector['id']}: log {after}, upstream code gives {derived}"


@adapter("hpa", "convert_with_rules")
def convert_rules(vector: Vector) -> None:
    given = vector["input"]
    result = convert_with_rules(
        int(given["currentReplicas"]),
        int(given["desiredReplicas"]),
        int(given["minReplicas"]),
        int(given["maxReplicas"]),
        scale_up_limit_factor=float(given["scaleUpLimitFactor"]),
        scale_up_limit_minimum=float(given["scaleUpLimitMinimum"]),
    )
    _check(vector, {"replicas": result.replicas, "reason": result.reason})


@adapter("hpa", "behavior_rate")
def behavior_rate(vector: Vector) -> None:
    given = vector["input"]
    behavior = ResolvedBehavior(
        scale_up=_resolved_rules(given["scaleUp"]),
        scale_down=_resolved_rules(given["scaleDown"]),
    )
    result = convert_with_behavior_rate(
        int(given["currentReplicas"]),
        int(given["desiredReplicas"]),
        int(given["minReplicas"]),
        int(given["maxReplicas"]),
        behavior,
        _events(given.get("scaleUpEvents", [])),
        _events(given.get("scaleDownEvents", [])),
        NOW,
    )
    _check(vector, {"replicas": result.replicas, "reason": result.reason})


@adapter("hpa", "scale_up_limit", "scale_down_limit")
def scale_limit(vector: Vector) -> None:
    given = vector["input"]
    calculate = scale_up_limit if vector["kind"] == "scale_up_limit" else scale_down_limit
    limit = calculate(
        int(given["currentReplicas"]),
        _events(given.get("scaleUpEvents", [])),
        _events(given.get("scaleDownEvents", [])),
        _resolved_rules(given["rules"]),
        NOW,
    )
    _check(vector, {"limit": limit})


@adapter("hpa", "store_scale_event")
def store_event(vector: Vector) -> None:
    given = vector["input"]
    previous = _events(given["previousEvents"])
    rules = None if given["rules"] is None else _resolved_rules(given["rules"])
    after = store_scale_event(previous, rules, int(given["replicaChange"]), NOW)
    _check(
        vector,
        {
            "replicaChangeInLast60s": replicas_change_in_period(previous, 60, NOW),
            "eventsAfter": [
                {"replicaChange": e.replica_change, "outdated": e.outdated} for e in after
            ],
        },
    )


# --------------------------------------------------------------------------------------------
# One reconcile pass


def _target(raw: Mapping[str, Any] | None) -> MetricTarget:
    """A metric's target; a missing target (or type) stays missing, so the calculators fail the
    metric as upstream does. ``Utilization`` stands in for an unset type: no Object/External
    branch matches it, and Resource/Pods read the value fields, not the type."""
    raw = raw or {}

    def optional(key: str) -> int | None:
        return None if raw.get(key) is None else int(raw[key])

    return MetricTarget(
        type=MetricTargetType(raw.get("type") or MetricTargetType.UTILIZATION),
        average_utilization=optional("averageUtilization"),
        average_value_milli=optional("averageValueMilli"),
        value_milli=optional("valueMilli"),
    )


def _metric_spec(raw: Mapping[str, Any]) -> MetricSpec:
    kind = raw["type"]
    if kind in ("Resource", "ContainerResource"):
        container = raw.get("container") if kind == "ContainerResource" else None
        return ResourceMetric(raw["resource"], _target(raw.get("target")), container or None)
    if kind == "Pods":
        return PodsMetric(raw["metricName"], _target(raw.get("target")))
    if kind == "Object":
        ref = raw["describedObject"]
        return ObjectMetric(
            raw["metricName"],
            ObjectRef(ref["kind"], ref["name"], ref.get("apiVersion", "")),
            _target(raw.get("target")),
        )
    if kind == "External":
        return ExternalMetric(raw["metricName"], _target(raw.get("target")))
    return UnknownMetric(kind)


def _reading(spec: MetricSpec, data: Mapping[str, Any]) -> MetricReading:
    key = {
        ResourceMetric: "resourceMetrics",
        PodsMetric: "podsMetric",
        ObjectMetric: "objectMetric",
        ExternalMetric: "externalMetric",
    }.get(type(spec))
    if key is None or key not in data:
        return ReadingError("no metric data")
    raw = data[key]
    if isinstance(raw, Mapping) and "error" in raw:
        return ReadingError(str(raw["error"]))
    if isinstance(spec, ResourceMetric):
        resource = spec.resource
        return ResourceReading(
            tuple(
                PodResourceUsage(
                    entry["pod"],
                    {name: {resource: int(v)} for name, v in entry["containers"].items()},
                    _at(entry.get("timestampAgeSeconds", 0)),
                    float(entry.get("windowSeconds", 0)),
                )
                for entry in raw
            )
        )
    if key == "podsMetric":
        return PodsReading(tuple(PodSample(e["pod"], int(e["valueMilli"]), NOW, 60.0) for e in raw))
    if key == "objectMetric":
        return ObjectReading(int(raw["valueMilli"]))
    return ExternalReading(tuple(int(v) for v in raw["valuesMilli"]))


def _controller_pod(raw: Mapping[str, Any]) -> PodFacts:
    """A pod of the controller vectors: ``<resource>RequestMilli`` per container (null = none)."""
    suffix = "RequestMilli"
    containers = tuple(
        ContainerRequests(
            c["name"],
            {
                key.removesuffix(suffix): int(value)
                for key, value in c.items()
                if key.endswith(suffix) and value is not None
            },
        )
        for c in raw.get("containers", [])
    )
    return _pod(raw, containers)


def _selector_problem(given: Mapping[str, Any]) -> SelectorProblem | None:
    """The scale's selector as the controller checks it before reading pods: a missing one and
    one that does not parse both make ``InvalidSelector`` (vectors without the key have a
    valid selector)."""
    if "selector" not in given:
        return None
    text = given["selector"]
    if not text:
        return SelectorProblem("InvalidSelector", "the HPA target's scale is missing a selector")
    try:
        parse_label_selector(str(text))
    except SelectorError as exc:
        return SelectorProblem("InvalidSelector", f"unparsable selector: {exc}")
    return None


@adapter("hpa", "controller_reconcile")
def controller_reconcile(vector: Vector) -> None:
    given = vector["input"]
    # No metrics means upstream's default (cpu at 80 %), which then needs its reading too.
    metrics = tuple(_metric_spec(m) for m in given["metrics"]) or DEFAULT_METRICS
    raw_behavior = given.get("behavior")
    behavior = (
        None
        if raw_behavior is None
        else Behavior(_rules(raw_behavior.get("scaleUp")), _rules(raw_behavior.get("scaleDown")))
    )
    min_replicas = given.get("minReplicas")
    spec = HpaSpec(
        max_replicas=int(given["maxReplicas"]),
        min_replicas=1 if min_replicas is None else int(min_replicas),
        metrics=metrics,
        behavior=behavior,
    )
    spec_replicas = int(given["specReplicas"])
    observed = Observed(
        spec_replicas=spec_replicas,
        status_replicas=int(given["statusReplicas"]),
        pods=tuple(_controller_pod(p) for p in given["pods"]),
        readings=tuple(_reading(m, given.get("metricData", {})) for m in metrics),
        previous_desired_replicas=spec_replicas,
        selector_problem=_selector_problem(given),
    )
    initial = given.get("initialRecommendations")
    history = HpaHistory(None if initial is None else _recommendations(initial))

    decision = decide(spec, observed, history, NOW, CONTROLLER_TEST_SETTINGS)
    outcome = conclude(
        decision, update_error="scale update failed" if given.get("failScaleUpdate") else None
    )

    got: dict[str, Any] = {
        "desiredReplicas": outcome.desired_replicas,
        "scaleUpdated": outcome.scaled,
        "conditions": [
            {"type": str(c.type), "status": c.status, "reason": c.reason}
            for c in outcome.conditions
        ],
    }
    cpu = next(
        (
            s
            for s in decision.metric_statuses
            if s is not None and s.name == "cpu" and s.average_utilization is not None
        ),
        None,
    )
    if cpu is not None:
        got["reportedCpuUtilization"] = cpu.average_utilization
    _check(vector, got)
