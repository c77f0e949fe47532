"""The load model: demand curves, their YAML form and its errors, replay of recorded series,
and per-pod usage from demand (sharing, limits, deterministic noise).
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.sim.world.load import (
    Constant,
    CurveError,
    Diurnal,
    PodLimits,
    Replay,
    Spike,
    Steps,
    Sum,
    UsageModel,
    UsageModelError,
    parse_curve,
    parse_duration_seconds,
    parse_usage_model,
    pod_limits,
    replay_from_csv,
    replay_from_prometheus,
)

HOUR = 3600.0
DAY = 24 * HOUR


# --- curves ----------------------------------------------------------------------------------


def test_constant() -> None:
    assert Constant(7).demand_at(0) == 7
    assert Constant(7).demand_at(1e9) == 7


def test_steps_hold_each_value_from_its_time_on() -> None:
    curve = Steps(((60, 10), (120, 30)), initial=1)
    assert [curve.demand_at(t) for t in (0, 59.9, 60, 119, 120, 1e6)] == [1, 1, 10, 10, 30, 30]


def test_diurnal_peaks_at_the_peak_hour_and_bottoms_twelve_hours_later() -> None:
    curve = Diurnal(base=100, amplitude=50, peak_at_seconds=14 * HOUR)
    assert curve.demand_at(14 * HOUR) == pytest.approx(150)
    assert curve.demand_at(2 * HOUR) == pytest.approx(50)
    assert curve.demand_at(8 * HOUR) == pytest.approx(100)
    assert curve.demand_at(DAY + 14 * HOUR) == pytest.approx(150)


def test_spike_adds_height_for_its_duration() -> None:
    curve = Spike(Constant(10), at_seconds=100, duration_seconds=50, height=90)
    assert [curve.demand_at(t) for t in (99, 100, 149.9, 150)] == [10, 100, 100, 10]


def test_sum() -> None:
    curve = Sum((Constant(1), Steps(((10, 5),)), Constant(0.5)))
    assert curve.demand_at(0) == 1.5
    assert curve.demand_at(10) == 6.5


def test_replay_interpolates_and_holds_without_looping() -> None:
    curve = Replay(((0, 0), (10, 100), (20, 50)), loop=False)
    assert [curve.demand_at(t) for t in (-5, 0, 5, 10, 15, 20, 99)] == [0, 0, 50, 100, 75, 50, 50]


def test_replay_loops_with_span_plus_last_interval() -> None:
    curve = Replay(((0, 0), (10, 100), (20, 50)))
    assert curve.period_seconds == 30
    assert curve.demand_at(25) == pytest.approx(25)  # from 50 back toward the first value, 0
    assert curve.demand_at(30) == pytest.approx(0)
    assert curve.demand_at(35) == pytest.approx(50)
    assert curve.demand_at(3 * 30 + 15) == pytest.approx(75)


def test_a_single_sample_replays_as_a_constant() -> None:
    assert Replay(((0, 4),)).demand_at(123) == 4


# --- recorded series ---------------------------------------------------------------------------


def test_csv_with_header_comments_and_iso_timestamps() -> None:
    text = (
        "timestamp,value\n"
        "# exported from the load balancer\n"
        "2024-03-01T00:00:00Z,10\n"
        "2024-03-01T00:01:00Z,20\n"
        "\n"
        "2024-03-01T00:02:00+00:00,40\n"
    )
    curve = replay_from_csv(text, loop=False)
    assert curve.points == ((0, 10), (60, 20), (120, 40))
    assert curve.demand_at(90) == 30


def test_csv_with_epoch_seconds_unordered_and_scaled() -> None:
    curve = replay_from_csv("1700000060,4\n1700000000,2\n", scale=10, loop=False)
    assert curve.points == ((0, 20), (60, 40))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no samples"),
        ("timestamp,value\n", "no samples"),
        ("0,1\nlater,2\n", "line 2"),
        ("0\n", "line 1: expected 'timestamp,value'"),
    ],
)
def test_bad_csv(text: str, message: str) -> None:
    with pytest.raises(CurveError, match=message):
        replay_from_csv(text)


def prometheus_response(*series: list[list[Any]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"pod": f"p{i}"}, "values": s} for i, s in enumerate(series)],
        },
    }


def test_prometheus_range_query_sums_series_and_skips_nan() -> None:
    document = prometheus_response(
        [[1700000000, "1"], [1700000015, "2"], [1700000030, "NaN"]],
        [[1700000000, "10"], [1700000015, "20"], [1700000030, "30"]],
    )
    curve = replay_from_prometheus(document, loop=False)
    assert curve.points == ((0, 11), (15, 22), (30, 30))
    assert replay_from_prometheus(json.dumps(document["data"])).points == curve.points


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not JSON"),
        ({"data": {"resultType": "vector", "result": []}}, "range query"),
        (prometheus_response(), "no samples"),
        ({"data": {"resultType": "matrix", "result": [{"values": [[1]]}]}}, "samples are"),
    ],
)
def test_bad_prometheus(document: Any, message: str) -> None:
    with pytest.raises(CurveError, match=message):
        replay_from_prometheus(document)


# --- the YAML form -------------------------------------------------------------------------------


def test_parse_every_kind() -> None:
    spec = {
        "type": "sum",
        "of": [
            {"type": "diurnal", "base": 100, "amplitude": 50, "peakHour": 12},
            {
                "type": "spike",
                "on": {"type": "steps", "steps": [{"at": "1h", "value": 10}]},
                "at": "2h",
                "duration": "5m",
                "height": 200,
            },
            {"type": "replay", "points": [[0, 0], ["1m", 60]], "loop": False},
            {"type": "constant", "value": 1},
            5,
        ],
    }
    curve = parse_curve(spec)
    assert curve.demand_at(12 * HOUR) == pytest.approx(150 + 10 + 60 + 1 + 5)
    assert curve.demand_at(2 * HOUR + 60) == pytest.approx(
        Diurnal(100, 50, peak_at_seconds=12 * HOUR).demand_at(2 * HOUR + 60) + 210 + 60 + 6
    )


def test_parse_replay_file_through_the_callers_reader() -> None:
    files = {
        "traffic.csv": "0,1\n60,3\n",
        "traffic.json": json.dumps(prometheus_response([[0, "5"]])),
    }
    csv_curve = parse_curve({"type": "replay", "file": "traffic.csv"}, read_text=files.__getitem__)
    assert csv_curve.demand_at(30) == 2
    json_curve = parse_curve(
        {"type": "replay", "file": "traffic.json"}, read_text=files.__getitem__
    )
    assert json_curve.demand_at(30) == 5


def test_parse_replay_file_reader_errors_become_curve_errors() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(path)

    with pytest.raises(CurveError, match="file: cannot read"):
        parse_curve({"type": "replay", "file": "gone.csv"}, read_text=missing)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (90, 90),
        (1.5, 1.5),
        ("90", 90),
        ("90s", 90),
        ("10m", 600),
        ("1h30m", 5400),
        ("1d", DAY),
        ("500ms", 0.5),
    ],
)
def test_durations(raw: Any, seconds: float) -> None:
    assert parse_duration_seconds(raw) == seconds


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ([1, 2], "", "a curve must be a mapping"),
        ({}, "type", "must be one of"),
        ({"type": "wave"}, "type", "must be one of"),
        ({"type": "constant"}, "constant", "missing required field 'value'"),
        ({"type": "constant", "value": "high"}, "constant.value", "must be a number"),
        ({"type": "constant", "value": True}, "constant.value", "must be a number"),
        ({"type": "constant", "value": float("nan")}, "constant.value", "finite"),
        ({"type": "constant", "value": 1, "vlaue": 2}, "constant", "unknown field"),
        ({"type": "steps", "steps": [{"at": "soon", "value": 1}]}, "steps.steps[0].at", "duration"),
        ({"type": "steps", "steps": [{"at": -5, "value": 1}]}, "steps.steps[0].at", "non-negative"),
        ({"type": "diurnal", "base": 1, "peakHour": 25}, "diurnal.peakHour", "0..24"),
        ({"type": "diurnal", "base": 1, "period": 0}, "diurnal.period", "positive"),
        (
            {
                "type": "spike",
                "on": {"type": "constant", "value": "x"},
                "at": 0,
                "duration": 1,
                "height": 1,
            },
            "spike.on.value",
            "must be a number",
        ),
        ({"type": "sum", "of": []}, "sum.of", "non-empty"),
        ({"type": "sum", "of": [1, {"type": "nope"}]}, "sum.of[1].type", "must be one of"),
        ({"type": "replay"}, "replay", "exactly one of"),
        ({"type": "replay", "csv": "0,1", "points": [[0, 1]]}, "replay", "exactly one of"),
        ({"type": "replay", "file": "x.csv"}, "replay.file", "caller reads"),
        ({"type": "replay", "points": [[0, 1]], "loop": "yes"}, "replay.loop", "true or false"),
        ({"type": "replay", "points": [[0]]}, "replay.points[0]", "pair"),
        ({"type": "replay", "csv": "a,b\nc,d\n"}, "replay.csv", "line 2"),
    ],
)
def test_parse_errors_name_the_field(spec: Any, field: str, message: str) -> None:
    with pytest.raises(CurveError, match=message) as caught:
        parse_curve(spec)
    assert caught.value.field == field


def test_absurd_nesting_is_refused() -> None:
    spec: Any = 1
    for _ in range(100):
        spec = {"type": "sum", "of": [spec]}
    with pytest.raises(CurveError, match="nest deeper"):
        parse_curve(spec)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["1h", "10m", "5", "-1s", "constant", "steps", "replay", "0,1\n1,2"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "value",
                    "steps",
                    "at",
                    "initial",
                    "base",
                    "amplitude",
                    "period",
                    "peakHour",
                    "peakAt",
                    "on",
                    "duration",
                    "height",
                    "of",
                    "csv",
                    "prometheus",
                    "points",
                    "file",
                    "format",
                    "loop",
                    "scale",
                    "data",
                    "resultType",
                    "result",
                    "values",
                ]
            )
            | st.text(max_size=4),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)

curve_types = st.sampled_from(["constant", "steps", "diurnal", "spike", "sum", "replay"])


@given(spec=json_values)
def test_parse_curve_raises_only_curve_errors(spec: Any) -> None:
    try:
        curve = parse_curve(spec, read_text=lambda path: "0,1\n")
    except CurveError:
        return
    value = curve.demand_at(12345.0)
    assert isinstance(value, float | int)


@given(
    kind=curve_types,
    fields=st.dictionaries(
        st.sampled_from(
            [
                "value",
                "steps",
                "base",
                "amplitude",
                "on",
                "at",
                "duration",
                "height",
                "of",
                "points",
                "csv",
                "prometheus",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_typed_specs_raise_only_curve_errors(kind: str, fields: dict[str, Any]) -> None:
    with contextlib.suppress(CurveError):
        parse_curve({"type": kind, **fields})


@given(
    base=st.floats(min_value=0, max_value=1e6),
    amplitude=st.floats(min_value=0, max_value=1e6),
    t=st.floats(min_value=0, max_value=1e9),
)
def test_diurnal_stays_within_its_band(base: float, amplitude: float, t: float) -> None:
    value = parse_curve({"type": "diurnal", "base": base, "amplitude": amplitude}).demand_at(t)
    assert base - amplitude - 1e-6 <= value <= base + amplitude + 1e-6


@given(
    points=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1e6), st.floats(min_value=-1e6, max_value=1e6)),
        min_size=1,
        max_size=20,
    ),
    t=st.floats(min_value=-1e7, max_value=1e7),
    loop=st.booleans(),
)
def test_replay_stays_within_the_recorded_range(
    points: list[tuple[float, float]], t: float, loop: bool
) -> None:
    curve = parse_curve({"type": "replay", "points": [list(p) for p in points], "loop": loop})
    recorded = list(dict(points).values())
    value = curve.demand_at(t)
    assert math.isfinite(value)
    assert min(recorded) - 1e-6 <= value <= max(recorded) + 1e-6


# --- usage -----------------------------------------------------------------------------------


def make_pod(name: str, **limits: str) -> dict[str, Any]:
    resources = {"limits": limits} if limits else {}
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "resources": resources}]},
    }


def test_pod_limits_sum_containers_and_any_unlimited_container_unlimits() -> None:
    assert pod_limits(make_pod("a", cpu="500m", memory="1Gi")) == PodLimits("a", 500, 1024**3)
    assert pod_limits(make_pod("b")) == PodLimits("b", None, None)
    two = make_pod("c", cpu="1")
    two["spec"]["containers"].append({"name": "side", "resources": {"limits": {"cpu": "250m"}}})
    assert pod_limits(two) == PodLimits("c", 1250, None)
    bad = make_pod("d", cpu="lots", memory="1Gi")
    assert pod_limits(bad) == PodLimits("d", None, 1024**3)


def test_demand_is_shared_by_ready_pods() -> None:
    model = UsageModel(
        cpu_base_millicores=50,
        cpu_millicores_per_unit=2,
        memory_base_bytes=100,
        memory_bytes_per_unit=10,
    )
    sample = model.usage(300, [PodLimits("a"), PodLimits("b"), PodLimits("c")], at_seconds=0)
    assert sample.demand_per_pod == 100
    assert sample.pods["a"].cpu_millicores == 250
    assert sample.pods["b"].memory_bytes == 1100
    assert not sample.pods["c"].cpu_throttled
    assert sample.unserved_demand == 0


def test_no_ready_pods_leaves_demand_unserved() -> None:
    sample = UsageModel(cpu_millicores_per_unit=1).usage(42, [], at_seconds=0)
    assert (sample.pods, sample.unserved_demand) == ({}, 42)


def test_cpu_is_held_at_the_limit_and_memory_over_the_limit_is_flagged() -> None:
    model = UsageModel(cpu_millicores_per_unit=10, memory_bytes_per_unit=1024)
    sample = model.usage(
        100, [PodLimits("a", cpu_limit_millicores=500, memory_limit_bytes=50_000)], 0
    )
    usage = sample.pods["a"]
    assert (usage.cpu_millicores, usage.cpu_throttled) == (500, True)
    assert (usage.memory_bytes, usage.over_memory_limit) == (102_400, True)


def test_negative_demand_counts_as_none() -> None:
    sample = UsageModel(cpu_base_millicores=5, cpu_millicores_per_unit=10).usage(
        -50, [PodLimits("a")], 0
    )
    assert sample.pods["a"].cpu_millicores == 5


def test_noise_is_deterministic_per_seed_pod_and_second() -> None:
    model = UsageModel(
        cpu_base_millicores=1000,
        cpu_noise_fraction=0.1,
        memory_base_bytes=1e9,
        memory_noise_fraction=0.05,
        seed=7,
    )
    pods = [PodLimits("a"), PodLimits("b")]
    first = model.usage(0, pods, at_seconds=10.2)
    assert model.usage(0, pods, at_seconds=10.9) == first
    assert model.usage(0, list(reversed(pods)), at_seconds=10.2).pods == first.pods
    assert first.pods["a"] != first.pods["b"]
    assert model.usage(0, pods, at_seconds=11) != first
    reseeded = UsageModel(cpu_base_millicores=1000, cpu_noise_fraction=0.1, seed=8)
    assert reseeded.usage(0, pods, 10).pods["a"].cpu_millicores != first.pods["a"].cpu_millicores
    samples = [model.usage(0, [PodLimits("a")], s).pods["a"].cpu_millicores for s in range(2000)]
    mean = sum(samples) / len(samples)
    spread = math.sqrt(sum((x - mean) ** 2 for x in samples) / len(samples))
    assert mean == pytest.approx(1000, rel=0.02)
    assert spread == pytest.approx(100, rel=0.15)
    assert min(samples) >= 700


def test_parse_usage_model() -> None:
    model = parse_usage_model(
        {
            "cpuBase": "50m",
            "cpuPerUnit": 2,
            "memoryBase": "128Mi",
            "memoryPerUnit": "1Ki",
            "cpuNoise": 0.1,
            "seed": 3,
        }
    )
    assert model == UsageModel(
        cpu_base_millicores=50,
        cpu_millicores_per_unit=2000,
        memory_base_bytes=128 * 1024**2,
        memory_bytes_per_unit=1024,
        cpu_noise_fraction=0.1,
        seed=3,
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ([], "usage"),
        ({"cpu": "1"}, "usage"),
        ({"cpuBase": "lots"}, "usage.cpuBase"),
        ({"cpuBase": True}, "usage.cpuBase"),
        ({"memoryBase": "-1Mi"}, "usage.memoryBase"),
        ({"cpuNoise": 2}, "usage.cpuNoise"),
        ({"seed": 1.5}, "usage.seed"),
    ],
)
def test_parse_usage_model_errors(spec: Any, field: str) -> None:
    with pytest.raises(UsageModelError) as caught:
        parse_usage_model(spec)
    assert caught.value.field == field
