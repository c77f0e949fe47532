"""Derived siblings of vpa.json vectors: upstream test cases the public half does not carry, run
through the same adapters (each names the upstream test it restates), plus the adapter's own
contract — an unknown key fails loudly, and the held-out ``memoryBytes`` is asserted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance import adapt_vpa

LINEAR = {"type": "linear", "maxValue": 10.0, "bucketSize": 1.0, "epsilon": 1e-15}
START = 1234567890  # decaying_histogram_test.go's startTime
HOUR = 3600


def _vector(kind: str, given: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"derived-{kind}", "kind": kind, "input": given, "expected": expected}


def test_long_term_decay_drops_the_old_sample() -> None:
    """TestLongtermDecay: 101 half-lives later the first sample has decayed below epsilon."""
    adapt_vpa.histogram_percentile(
        _vector(
            "histogram_percentile",
            {
                "options": LINEAR,
                "decayHalfLifeSeconds": HOUR,
                "samples": [
                    {"value": 2.0, "weight": 1.0, "time": START},
                    {"value": 1.0, "weight": 1.0, "time": START + 101 * HOUR},
                ],
            },
            {"percentiles": [{"percentile": 1.0, "value": 2.0}], "isEmpty": False},
        )
    )


def test_decaying_percentiles_of_four_samples() -> None:
    """TestDecayingHistogramPercentiles: values and weights 1..4, one half-life apart."""
    samples = [
        {"value": float(i), "weight": float(i), "time": START + (i - 1) * HOUR} for i in range(1, 5)
    ]
    want = [(0.0, 2), (0.02, 2), (0.03, 3), (0.10, 3), (0.11, 4), (0.34, 4), (0.35, 5), (1.0, 5)]
    adapt_vpa.histogram_percentile(
        _vector(
            "histogram_percentile",
            {"options": LINEAR, "decayHalfLifeSeconds": HOUR, "samples": samples},
            {
                "percentiles": [{"percentile": p, "value": float(v)} for p, v in want],
                "isEmpty": False,
            },
        )
    )


def test_subtracting_samples_through_the_adapter() -> None:
    adapt_vpa.histogram_percentile(
        _vector(
            "histogram_percentile",
            {
                "options": LINEAR,
                "samples": [
                    {"value": 1.0, "weight": 1.0},
                    {"value": 3.0, "weight": 1.0},
                    {"value": 1.0, "weight": 1.0, "op": "subtract"},
                ],
            },
            {"percentiles": [{"percentile": 0.0, "value": 4.0}], "isEmpty": False},
        )
    )


def test_relatively_small_weights_are_dropped_from_a_checkpoint() -> None:
    """TestHistogramSaveToCheckpointDropsRelativelySmallValues."""
    adapt_vpa.histogram_checkpoint_save(
        _vector(
            "histogram_checkpoint_save",
            {
                "options": LINEAR,
                "samples": [{"value": 1.0, "weight": 1.0}, {"value": 2.0, "weight": 1e8}],
            },
            {"totalWeight": 1e8 + 1.0, "bucketWeights": {"2": 10000}},
        )
    )


def test_a_decaying_checkpoint_carries_its_reference() -> None:
    """TestDecayingHistogramSaveToCheckpoint: the reference is the sample time rounded."""
    vector = _vector(
        "histogram_checkpoint_save",
        {
            "options": LINEAR,
            "decayHalfLifeSeconds": HOUR,
            "samples": [{"value": 2.0, "weight": 1.0, "time": START + 100 * HOUR}],
        },
        {
            "totalWeight": 2.0 ** ((1890 - HOUR) / HOUR),
            "bucketWeights": {"2": 10000},
            "referenceTimestamp": "2009-02-18T04:00:00Z",
        },
    )
    adapt_vpa.histogram_checkpoint_save(vector)
    vector["expected"]["referenceTimestamp"] = START + 100 * HOUR + (HOUR - 1890)
    adapt_vpa.histogram_checkpoint_save(vector)


def test_confidence_with_history_asserts_memory_too() -> None:
    """TestConfidenceMultiplier with history: the held-out half's memoryBytes is asserted."""
    day = 86400
    vector = _vector(
        "estimator_confidence_multiplier",
        {
            "baseCpuMillicores": 3140,
            "baseMemoryBytes": 3_140_000_000,
            "multiplier": 0.1,
            "exponent": 2.0,
            "confidenceIntervalSeconds": day,
            "firstSampleStartUnix": START,
            "lastSampleStartUnix": START + day,
            "totalSamplesCount": 1440 * 2,
        },
        {"confidence": 1.0, "cpuMillicores": 3799, "memoryBytes": 3_799_400_000},
    )
    adapt_vpa.estimator_confidence_multiplier(vector)
    vector["expected"]["memoryBytes"] = 3_799_400_001
    with pytest.raises(AssertionError, match="memoryBytes"):
        adapt_vpa.estimator_confidence_multiplier(vector)


def test_unknown_keys_fail_loudly() -> None:
    vector = _vector(
        "estimator_margin",
        {"baseCpuMillicores": 100, "marginFraction": 0.1},
        {"cpuMillicores": 110, "roundedCpu": 200},
    )
    with pytest.raises(AssertionError, match="roundedCpu"):
        adapt_vpa.estimator_margin(vector)
    vector = _vector(
        "estimator_margin",
        {"baseCpuMillicores": 100, "marginFraction": 0.1, "rounding": 100},
        {"cpuMillicores": 110},
    )
    with pytest.raises(AssertionError, match="rounding"):
        adapt_vpa.estimator_margin(vector)


def test_pods_without_a_start_time_are_skipped_unless_out_of_range() -> None:
    prio = {"outsideRecommendedRange": False, "scaleUp": True, "resourceDiff": 1.0}
    out = {"outsideRecommendedRange": True, "scaleUp": True, "resourceDiff": 1.0}
    adapt_vpa.updater_pod_selection(
        _vector(
            "updater_pod_selection",
            {
                "config": {
                    "minChangePriority": 0.1,
                    "podLifetimeUpdateThresholdSeconds": 43200,
                    "evictAfterOOMThresholdSeconds": 600,
                },
                "pods": [
                    {"name": "no-start", "podAgeHours": None, "priority": prio},
                    {"name": "outside", "podAgeHours": None, "priority": out},
                    {"name": "oom", "podAgeHours": 1, "oomRunSeconds": 60, "priority": prio},
                ],
            },
            {"podsToUpdateInOrder": ["outside", "oom"]},
        )
    )
