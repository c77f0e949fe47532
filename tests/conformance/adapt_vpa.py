"""Adapters from ``vpa.json`` (VPA recommender and updater vectors) to ``podscaler.engine.vpa``.

Every kind of the file has an adapter. Each adapter knows exactly which ``input`` and
``expected`` keys its kind may carry and fails loudly on any other, so a key that appears only in
the held-out half (``memoryBytes`` of ``estimator_confidence_multiplier``) is asserted when
present and a key nobody taught the adapter about is never silently ignored. Floats compare with
the README's relative tolerance (1e-9); integers, booleans and lists exactly.

Quantities in the vectors are Kubernetes strings; the updater compares them as upstream does,
in milli-units (``Quantity.MilliValue()``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from podscaler.api.quantities import Quantity
from podscaler.engine.vpa import (
    CPU_HISTOGRAM_OPTIONS,
    DAY_SECONDS,
    MEMORY_HISTOGRAM_OPTIONS,
    AggregateContainerState,
    AggregationSettings,
    CheckpointError,
    ContainerPolicy,
    ContainerRequests,
    ContainerState,
    ContainerTermination,
    DecayingHistogram,
    EstimationSettings,
    Histogram,
    HistogramCheckpoint,
    HistogramOptions,
    OomRejected,
    PodPriority,
    RecommenderSettings,
    ResourcePolicy,
    Resources,
    UpdateCandidate,
    UpdateSettings,
    confidence,
    cpu_millicores_from_cores,
    eviction_budget,
    had_quick_oom,
    order_for_update,
    per_container_minimum,
    percentile_estimate,
    recommend,
    update_priority,
    with_confidence,
    with_margin,
    with_minimum,
)
from podscaler.engine.vpa.checkpoints import format_time
from tests.conformance.registry import REL_TOL, Vector, adapter

#: Keys of ``expected`` that describe the upstream assertion rather than a value to compare.
_INFORMATIONAL = frozenset({"upstreamAssertion"})


# --------------------------------------------------------------------------- comparison


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, list):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, Mapping)
            and set(actual) == set(expected)
            and all(_same(actual[key], value) for key, value in expected.items())
        )
    if isinstance(expected, float):
        return math.isclose(float(actual), expected, rel_tol=REL_TOL, abs_tol=0.0)
    # An integer expectation (bytes, millicores, Unix seconds, bucket weights) is exact.
    return bool(actual == expected)


def _known(vector: Vector, inputs: Iterable[str], outputs: Iterable[str]) -> None:
    """Fail loudly on input or expected keys this adapter does not understand."""
    unknown_inputs = set(vector["input"]) - set(inputs)
    assert not unknown_inputs, (
        f"{vector['id']}: input keys {sorted(unknown_inputs)} are unknown to adapt_vpa "
        f"({vector['kind']}); teach the adapter what they mean"
    )
    unknown_outputs = set(vector["expected"]) - set(outputs) - _INFORMATIONAL
    assert not unknown_outputs, (
        f"{vector['id']}: expected keys {sorted(unknown_outputs)} are unknown to adapt_vpa "
        f"({vector['kind']}); teach the adapter to assert them"
    )


def _check(vector: Vector, got: Mapping[str, Any]) -> None:
    for key, want in vector["expected"].items():
        if key in _INFORMATIONAL:
            continue
        assert key in got, f"{vector['id']}: the adapter computed no {key!r}"
        assert _same(got[key], want), f"{vector['id']}: {key} = {got[key]!r}, want {want!r}"


# --------------------------------------------------------------------------- histograms


def _options(raw: Mapping[str, Any]) -> HistogramOptions:
    kind = raw.get("type")
    if kind == "linear":
        return HistogramOptions.linear(raw["maxValue"], raw["bucketSize"], raw["epsilon"])
    if kind == "exponential":
        return HistogramOptions.exponential(
            raw["maxValue"], raw["firstBucketSize"], raw["ratio"], raw["epsilon"]
        )
    raise AssertionError(f"unknown histogram options type {kind!r}")


_OPTION_KEYS = {"type", "maxValue", "bucketSize", "firstBucketSize", "ratio", "epsilon"}


@adapter("vpa", "histogram_options")
def histogram_options(vector: Vector) -> None:
    _known(vector, _OPTION_KEYS, {"numBuckets", "bucketStart", "findBucket"})
    options = _options(vector["input"])
    expected = vector["expected"]
    got: dict[str, Any] = {"numBuckets": options.num_buckets}
    if "bucketStart" in expected:
        got["bucketStart"] = {
            index: options.bucket_start(int(index)) for index in expected["bucketStart"]
        }
    if "findBucket" in expected:
        got["findBucket"] = {
            value: options.find_bucket(float(value)) for value in expected["findBucket"]
        }
    _check(vector, got)


_SAMPLE_KEYS = {"value", "weight", "time", "op"}


def _filled(raw: Mapping[str, Any]) -> Histogram | DecayingHistogram:
    """A plain or decaying histogram after the vector's samples."""
    options = _options(raw["options"])
    half_life = raw.get("decayHalfLifeSeconds")
    histogram: Histogram | DecayingHistogram
    histogram = Histogram(options) if half_life is None else DecayingHistogram(options, half_life)
    for sample in raw.get("samples", []):
        unknown = set(sample) - _SAMPLE_KEYS
        assert not unknown, f"sample keys {sorted(unknown)} are unknown to adapt_vpa"
        op = sample.get("op", "add")
        assert op in ("add", "subtract"), f"unknown sample op {op!r}"
        value, weight = float(sample["value"]), float(sample["weight"])
        if isinstance(histogram, DecayingHistogram):
            assert "time" in sample, "a decaying histogram's sample needs a time"
            at = float(sample["time"])
            if op == "add":
                histogram.add_sample(value, weight, at)
            else:
                histogram.subtract_sample(value, weight, at)
        elif op == "add":
            histogram.add_sample(value, weight)
        else:
            histogram.subtract_sample(value, weight)
    return histogram


@adapter("vpa", "histogram_percentile")
def histogram_percentile(vector: Vector) -> None:
    _known(vector, {"options", "samples", "decayHalfLifeSeconds"}, {"percentiles", "isEmpty"})
    histogram = _filled(vector["input"])
    expected = vector["expected"]
    got: dict[str, Any] = {"isEmpty": histogram.is_empty()}
    if "percentiles" in expected:
        got["percentiles"] = [
            {"percentile": row["percentile"], "value": histogram.percentile(row["percentile"])}
            for row in expected["percentiles"]
        ]
    _check(vector, got)


def _checkpoint_dict(checkpoint: HistogramCheckpoint) -> dict[str, Any]:
    return {
        "totalWeight": checkpoint.total_weight,
        "bucketWeights": {str(b): w for b, w in checkpoint.bucket_weights.items()},
    }


@adapter("vpa", "histogram_checkpoint_save")
def histogram_checkpoint_save(vector: Vector) -> None:
    _known(
        vector,
        {"options", "samples", "decayHalfLifeSeconds"},
        {"totalWeight", "bucketWeights", "referenceTimestamp"},
    )
    histogram = _filled(vector["input"])
    saved = histogram.save()
    got = _checkpoint_dict(saved)
    if "referenceTimestamp" in vector["expected"]:
        # Unix seconds, or an RFC 3339 string as the checkpoint object holds it.
        want = vector["expected"]["referenceTimestamp"]
        seconds = saved.reference_seconds
        got["referenceTimestamp"] = format_time(seconds) if isinstance(want, str) else seconds
    _check(vector, got)


@adapter("vpa", "histogram_checkpoint_load")
def histogram_checkpoint_load(vector: Vector) -> None:
    _known(vector, {"options", "checkpoint"}, {"totalWeight", "bucketWeight", "error", "isEmpty"})
    raw = vector["input"]
    histogram = Histogram(_options(raw["options"]))
    stored = raw["checkpoint"]
    unknown = set(stored) - {"totalWeight", "bucketWeights"}
    assert not unknown, f"checkpoint keys {sorted(unknown)} are unknown to adapt_vpa"
    checkpoint = HistogramCheckpoint(
        float(stored["totalWeight"]),
        {int(bucket): int(weight) for bucket, weight in stored.get("bucketWeights", {}).items()},
    )
    got: dict[str, Any]
    try:
        histogram.load(checkpoint)
    except CheckpointError:
        got = {"error": True}
    else:
        got = {
            "error": False,
            "totalWeight": histogram.total_weight,
            "bucketWeight": {str(b): w for b, w in histogram.bucket_weights().items()},
            "isEmpty": histogram.is_empty(),
        }
    if "error" not in vector["expected"]:
        assert got["error"] is False, f"{vector['id']}: loading failed, no error was expected"
    _check(vector, got)


# --------------------------------------------------------------------------- estimators


@adapter("vpa", "estimator_percentile")
def estimator_percentile(vector: Vector) -> None:
    _known(
        vector,
        {
            "cpuSamplesCores",
            "memorySamplesBytes",
            "cpuPercentile",
            "memoryPercentile",
            "histogramOptions",
        },
        {"cpuMillicores", "memoryBytes"},
    )
    raw = vector["input"]
    assert str(raw.get("histogramOptions", "production")).startswith("production")
    cpu, memory = Histogram(CPU_HISTOGRAM_OPTIONS), Histogram(MEMORY_HISTOGRAM_OPTIONS)
    for cores in raw["cpuSamplesCores"]:
        cpu.add_sample(float(cores), 1.0)
    for amount in raw["memorySamplesBytes"]:
        memory.add_sample(float(amount), 1.0)
    estimate = percentile_estimate(cpu, memory, raw["cpuPercentile"], raw["memoryPercentile"])
    _check(vector, {"cpuMillicores": estimate.cpu_millicores, "memoryBytes": estimate.memory_bytes})


@adapter("vpa", "estimator_margin")
def estimator_margin(vector: Vector) -> None:
    _known(
        vector,
        {"baseCpuMillicores", "baseMemoryBytes", "marginFraction"},
        {"cpuMillicores", "memoryBytes"},
    )
    raw = vector["input"]
    got: dict[str, Any] = {}
    if "baseCpuMillicores" in raw:
        got["cpuMillicores"] = with_margin(raw["baseCpuMillicores"], raw["marginFraction"])
    if "baseMemoryBytes" in raw:
        got["memoryBytes"] = with_margin(raw["baseMemoryBytes"], raw["marginFraction"])
    _check(vector, got)


@adapter("vpa", "estimator_min_resource")
def estimator_min_resource(vector: Vector) -> None:
    _known(
        vector,
        {"baseCpuMillicores", "minCpuMillicores", "baseMemoryBytes", "minMemoryBytes"},
        {"cpuMillicores", "memoryBytes"},
    )
    raw = vector["input"]
    got: dict[str, Any] = {}
    if "baseCpuMillicores" in raw:
        got["cpuMillicores"] = with_minimum(raw["baseCpuMillicores"], raw["minCpuMillicores"])
    if "baseMemoryBytes" in raw:
        got["memoryBytes"] = with_minimum(raw["baseMemoryBytes"], raw["minMemoryBytes"])
    _check(vector, got)


@adapter("vpa", "estimator_confidence_multiplier")
def estimator_confidence_multiplier(vector: Vector) -> None:
    _known(
        vector,
        {
            "baseCpuMillicores",
            "baseMemoryBytes",
            "multiplierExponentPairs",
            "multiplier",
            "exponent",
            "confidenceIntervalSeconds",
            "firstSampleStartUnix",
            "lastSampleStartUnix",
            "totalSamplesCount",
        },
        {"confidence", "cpuMillicores", "memoryBytes"},
    )
    raw = vector["input"]
    expected = vector["expected"]
    state = AggregateContainerState(creation_seconds=0.0)
    state.first_sample_seconds = raw.get("firstSampleStartUnix")
    state.last_sample_seconds = raw.get("lastSampleStartUnix")
    state.total_samples_count = raw.get("totalSamplesCount", 0)
    interval = float(raw.get("confidenceIntervalSeconds", DAY_SECONDS))
    conf = confidence(state, interval)
    pairs = raw.get("multiplierExponentPairs")
    single = pairs is None
    if single:
        pairs = [[raw["multiplier"], raw["exponent"]]]
    got: dict[str, Any] = {"confidence": conf}
    for key, base_key in (
        ("cpuMillicores", "baseCpuMillicores"),
        ("memoryBytes", "baseMemoryBytes"),
    ):
        if key not in expected:
            continue
        assert base_key in raw, f"{vector['id']}: {key} is expected but the input has no {base_key}"
        values = [with_confidence(raw[base_key], conf, m, e) for m, e in pairs]
        got[key] = values[0] if single else values
    _check(vector, got)


@adapter("vpa", "recommender_min_resources")
def recommender_min_resources(vector: Vector) -> None:
    _known(
        vector,
        {
            "containers",
            "estimateCpuMillicores",
            "estimateMemoryBytes",
            "podMinCpuMillicores",
            "podMinMemoryMb",
        },
        {"perContainer"},
    )
    raw = vector["input"]
    settings = EstimationSettings(
        pod_min_cpu_millicores=float(raw["podMinCpuMillicores"]),
        pod_min_memory_mb=float(raw["podMinMemoryMb"]),
    )
    minimum = per_container_minimum(settings, len(raw["containers"]))
    assert minimum.cpu_millicores is not None
    assert minimum.memory_bytes is not None
    got = {
        "perContainer": {
            "cpuMillicores": with_minimum(raw["estimateCpuMillicores"], minimum.cpu_millicores),
            "memoryBytes": with_minimum(raw["estimateMemoryBytes"], minimum.memory_bytes),
        }
    }
    _check(vector, got)


def _steady_aggregate(settings: AggregationSettings, start: float = 1_700_000_000.0) -> Any:
    state = AggregateContainerState(start, settings)
    container = ContainerState(state, settings)
    for minute in range(60):
        container.add_cpu_sample(250, start + 60 * minute)
        container.add_memory_sample(200 * 1024 * 1024, start + 60 * minute)
    return state


@adapter("vpa", "recommender_controlled_resources")
def recommender_controlled_resources(vector: Vector) -> None:
    _known(vector, {"controlledResources"}, {"targetKeys", "lowerBoundKeys", "upperBoundKeys"})
    listed = vector["input"]["controlledResources"]
    # Unset means upstream's default, [cpu, memory].
    names = ("cpu", "memory") if listed is None else tuple(listed)
    settings = RecommenderSettings()
    policy = ResourcePolicy((ContainerPolicy("*", controlled_resources=names),))
    result = recommend({"app": _steady_aggregate(settings.aggregation)}, policy, settings)
    container = result.for_container("app")
    assert container is not None
    got = {
        "targetKeys": list(container.target.names()),
        "lowerBoundKeys": list(container.lower_bound.names()),
        "upperBoundKeys": list(container.upper_bound.names()),
    }
    expected = vector["expected"]
    for key in got:
        if key in expected:
            assert sorted(got[key]) == sorted(expected[key]), f"{vector['id']}: {key} = {got[key]}"


# --------------------------------------------------------------------------- model


class _RecordingSink:
    """Stands in for the aggregate to see exactly which histogram operations a container makes."""

    def __init__(self) -> None:
        self.ops: list[dict[str, Any]] = []

    def add_cpu_sample(self, cpu_millicores: int, time_seconds: float) -> None:
        self.ops.append({"op": "AddCpuSample", "millicores": cpu_millicores, "time": time_seconds})

    def add_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.ops.append({"op": "AddSample", "bytes": memory_bytes, "time": time_seconds})

    def subtract_memory_peak(self, memory_bytes: int, time_seconds: float) -> None:
        self.ops.append({"op": "SubtractSample", "bytes": memory_bytes, "time": time_seconds})


@adapter("vpa", "container_memory_peaks")
def container_memory_peaks(vector: Vector) -> None:
    _known(
        vector,
        {
            "memoryAggregationIntervalSeconds",
            "memoryAggregationIntervalCount",
            "oomBumpUpRatio",
            "oomMinBumpUpBytes",
            "steps",
        },
        {"histogramOps", "stepResults"},
    )
    raw = vector["input"]
    settings = AggregationSettings(
        memory_aggregation_interval_seconds=float(raw["memoryAggregationIntervalSeconds"]),
        oom_bump_up_ratio=float(raw["oomBumpUpRatio"]),
        oom_min_bump_up_bytes=float(raw["oomMinBumpUpBytes"]),
    )
    if "memoryAggregationIntervalCount" in raw:
        settings = dataclasses.replace(
            settings, memory_aggregation_interval_count=int(raw["memoryAggregationIntervalCount"])
        )
    sink = _RecordingSink()
    container = ContainerState(sink, settings)
    results: list[Any] = []
    for step in raw["steps"]:
        op = step["op"]
        if op == "memory":
            results.append(container.add_memory_sample(int(step["bytes"]), float(step["t"])))
        elif op == "oom":
            try:
                container.record_oom(float(step["t"]), int(step["requestBytes"]))
            except OomRejected:
                results.append("error")
            else:
                results.append(True)
        elif op == "cpu":
            results.append(container.add_cpu_sample(int(step["millicores"]), float(step["t"])))
        else:
            raise AssertionError(f"{vector['id']}: unknown step op {op!r}")
    _check(vector, {"histogramOps": sink.ops, "stepResults": results})


@adapter("vpa", "aggregate_state_expiry")
def aggregate_state_expiry(vector: Vector) -> None:
    _known(
        vector,
        {"memoryAggregationIntervalSeconds", "memoryAggregationIntervalCount", "checks"},
        {"isExpired"},
    )
    raw = vector["input"]
    settings = AggregationSettings(
        memory_aggregation_interval_seconds=float(raw["memoryAggregationIntervalSeconds"]),
        memory_aggregation_interval_count=int(raw["memoryAggregationIntervalCount"]),
    )
    now = 1_700_000_000.0
    answers = []
    for check in raw["checks"]:
        unknown = set(check) - {
            "totalSamplesCount",
            "sinceLastSampleSeconds",
            "sinceCreationSeconds",
        }
        assert not unknown, f"check keys {sorted(unknown)} are unknown to adapt_vpa"
        created = now - float(check.get("sinceCreationSeconds", 0.0))
        state = AggregateContainerState(created, settings)
        state.total_samples_count = int(check["totalSamplesCount"])
        if "sinceLastSampleSeconds" in check:
            state.last_sample_seconds = now - float(check["sinceLastSampleSeconds"])
            state.first_sample_seconds = state.last_sample_seconds
        answers.append(state.is_expired(now, settings))
    _check(vector, {"isExpired": answers})


# --------------------------------------------------------------------------- end to end


@adapter("vpa", "recommendation_end_to_end")
def recommendation_end_to_end(vector: Vector) -> None:
    _known(
        vector,
        {"config", "numContainersInPod", "samples"},
        {
            "target",
            "lowerBound",
            "upperBound",
            "confidence",
            "cpuPercentiles",
            "memoryPercentiles",
        },
    )
    raw = vector["input"]
    assert str(raw["config"]).startswith("defaults"), "only default flags are understood"
    stream = raw["samples"]
    unknown = set(stream) - {"startUnix", "stepSeconds", "count", "cpuCores", "memoryBytes"}
    assert not unknown, f"sample stream keys {sorted(unknown)} are unknown to adapt_vpa"
    settings = RecommenderSettings()
    aggregates = {}
    for index in range(int(raw["numContainersInPod"])):
        state = AggregateContainerState(float(stream["startUnix"]), settings.aggregation)
        container = ContainerState(state, settings.aggregation)
        for step in range(int(stream["count"])):
            at = float(stream["startUnix"]) + step * float(stream["stepSeconds"])
            container.add_cpu_sample(cpu_millicores_from_cores(float(stream["cpuCores"])), at)
            container.add_memory_sample(int(stream["memoryBytes"]), at)
        aggregates[f"container-{index}"] = state
    result = recommend(aggregates, None, settings)
    assert len(result.containers) == len(aggregates)
    for recommendation in result.containers:
        state = aggregates[recommendation.container_name]

        def amounts(resources: Resources) -> dict[str, Any]:
            return {
                "cpuMillicores": resources.cpu_millicores,
                "memoryBytes": resources.memory_bytes,
            }

        def read(histogram: DecayingHistogram, wanted: Mapping[str, Any]) -> dict[str, float]:
            return {p: histogram.percentile(float(p)) for p in wanted}

        expected = vector["expected"]
        got: dict[str, Any] = {
            "target": amounts(recommendation.target),
            "lowerBound": amounts(recommendation.lower_bound),
            "upperBound": amounts(recommendation.upper_bound),
            "confidence": recommendation.estimate.confidence,
            "cpuPercentiles": read(state.cpu_usage, expected.get("cpuPercentiles", {})),
            "memoryPercentiles": read(state.memory_peaks, expected.get("memoryPercentiles", {})),
        }
        _check(vector, got)


# --------------------------------------------------------------------------- updater


def _cpu_millicores(text: str) -> int:
    return Quantity(text).milli_value()


def _memory_bytes(text: str) -> int:
    return Quantity(text).int_value()


def _resources(raw: Mapping[str, str] | None) -> Resources:
    if raw is None:
        return Resources()
    unknown = set(raw) - {"cpu", "memory"}
    assert not unknown, f"resources {sorted(unknown)} are unknown to adapt_vpa"
    return Resources(
        _cpu_millicores(raw["cpu"]) if "cpu" in raw else None,
        _memory_bytes(raw["memory"]) if "memory" in raw else None,
    )


@adapter("vpa", "updater_priority")
def updater_priority(vector: Vector) -> None:
    _known(
        vector,
        {"containers", "observedContainers"},
        {"outsideRecommendedRange", "scaleUp", "resourceDiff"},
    )
    raw = vector["input"]
    containers, targets, lowers, uppers = [], {}, {}, {}
    for item in raw["containers"]:
        unknown = set(item) - {"name", "requests", "target", "lowerBound", "upperBound"}
        assert not unknown, f"container keys {sorted(unknown)} are unknown to adapt_vpa"
        requests = item.get("requests", {})
        containers.append(
            ContainerRequests(
                item["name"],
                Quantity(requests["cpu"]).milli_value() if "cpu" in requests else None,
                Quantity(requests["memory"]).milli_value() if "memory" in requests else None,
            )
        )
        if "target" in item:
            targets[item["name"]] = _resources(item["target"])
        if "lowerBound" in item:
            lowers[item["name"]] = _resources(item["lowerBound"])
        if "upperBound" in item:
            uppers[item["name"]] = _resources(item["upperBound"])
    observed = raw.get("observedContainers")
    priority = update_priority(
        containers, targets, lowers, uppers, frozenset(observed) if observed is not None else None
    )
    _check(
        vector,
        {
            "outsideRecommendedRange": priority.outside_recommended_range,
            "scaleUp": priority.scale_up,
            "resourceDiff": priority.resource_diff,
        },
    )


@adapter("vpa", "updater_pod_selection")
def updater_pod_selection(vector: Vector) -> None:
    _known(vector, {"config", "pods"}, {"podsToUpdateInOrder"})
    raw = vector["input"]
    config = raw["config"]
    settings = UpdateSettings(
        min_change_priority=float(config["minChangePriority"]),
        pod_lifetime_update_threshold_seconds=float(config["podLifetimeUpdateThresholdSeconds"]),
        evict_after_oom_threshold_seconds=float(config["evictAfterOOMThresholdSeconds"]),
    )
    now = 1_700_000_000.0
    candidates = []
    for pod in raw["pods"]:
        unknown = set(pod) - {"name", "podAgeHours", "priority", "quickOOM", "oomRunSeconds"}
        assert not unknown, f"pod keys {sorted(unknown)} are unknown to adapt_vpa"
        age = pod["podAgeHours"]
        start = None if age is None else now - float(age) * 3600.0  # None: no status.startTime
        quick = bool(pod.get("quickOOM", False))
        if "oomRunSeconds" in pod:
            # The container was OOMKilled after running this long: derive quickOOM the way the
            # updater does, and hold the vector's own flag to it when both are given.
            began = now if start is None else start
            termination = ContainerTermination(
                "app", "OOMKilled", began, began + float(pod["oomRunSeconds"])
            )
            derived = had_quick_oom([termination], settings.evict_after_oom_threshold_seconds)
            if "quickOOM" in pod:
                assert derived == quick, f"{vector['id']}: quickOOM {quick} but derived {derived}"
            quick = derived
        prio = pod["priority"]
        unknown = set(prio) - {"outsideRecommendedRange", "scaleUp", "resourceDiff"}
        assert not unknown, f"priority keys {sorted(unknown)} are unknown to adapt_vpa"
        priority = PodPriority(
            bool(prio["outsideRecommendedRange"]),
            bool(prio["scaleUp"]),
            float(prio["resourceDiff"]),
        )
        candidates.append(UpdateCandidate(pod["name"], priority, start, quick_oom=quick))
    ordered = order_for_update(candidates, now, settings)
    _check(vector, {"podsToUpdateInOrder": [c.name for c in ordered]})


@adapter("vpa", "updater_eviction_restriction")
def updater_eviction_restriction(vector: Vector) -> None:
    _known(
        vector,
        {"configuredReplicas", "podPhases", "evictionToleranceFraction", "minReplicas"},
        {"canEvictBeforeAnyEviction", "sequentialEvictionSucceeds"},
    )
    raw = vector["input"]
    phases: list[str] = raw["podPhases"]
    settings = UpdateSettings(
        eviction_tolerance_fraction=float(raw["evictionToleranceFraction"]),
        min_replicas=int(raw["minReplicas"]),
    )
    budget = eviction_budget(int(raw["configuredReplicas"]), phases, settings)
    can_evict: Callable[[str], bool] = (lambda _: False) if budget is None else budget.can_evict
    before = [can_evict(phase) for phase in phases]
    succeeded = []
    for phase in phases:
        if budget is not None and budget.can_evict(phase):
            budget = budget.after_eviction(phase)
            succeeded.append(True)
        else:
            succeeded.append(False)
    _check(vector, {"canEvictBeforeAnyEviction": before, "sequentialEvictionSucceeds": succeeded})
