"""The per-object series rendered from ``OperatorMetrics``' table are the series the
prometheus_client children rendered before: same families in the same order, same HELP and
TYPE, same label names in the same order, same values, for the same calls — so dashboards and
alerts see no difference. The reference is the former implementation
(``metrics_children.ChildrenMetrics``). What may differ: counters' ``_created`` samples (no
longer written for per-object series) and the order of series within a family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from podscaler.observability.metrics import SCALED_JOB, SCALED_OBJECT, OperatorMetrics
from tests.unit.observability.metrics_children import ChildrenMetrics

Metrics = OperatorMetrics | ChildrenMetrics
Call = Callable[[Metrics], None]


def normalized(text: bytes) -> list[tuple[str, list[str]]]:
    """The exposition as (family header, its sample lines sorted), ``_created`` families (the
    text format renders a counter's or histogram's ``_created`` samples as a gauge family of
    their own) left out."""
    families: list[tuple[str, list[str]]] = []
    for line in text.decode().splitlines():
        if line.startswith("# HELP "):
            families.append((line, []))
        elif line.startswith("# TYPE "):
            header, samples = families[-1]
            families[-1] = (f"{header}\n{line}", samples)
        else:
            families[-1][1].append(line)
    return [
        (header, sorted(samples))
        for header, samples in families
        if not header.split(" ")[2].endswith("_created")
    ]


def both(calls: list[Call]) -> tuple[OperatorMetrics, ChildrenMetrics]:
    new, old = OperatorMetrics(), ChildrenMetrics()
    for call in calls:
        call(new)
        call(old)
    return new, old


def trigger(namespace: str, name: str, index: int, **kwargs: Any) -> Call:
    arguments: dict[str, Any] = {
        "trigger_name": "",
        "trigger_type": "prometheus",
        "metric": f"s{index}-prometheus",
        "value": None,
        "active": False,
        "error": False,
        "latency_seconds": 0.0,
        **kwargs,
    }
    return lambda m: m.trigger(namespace, name, index=index, **arguments)


def evaluated(namespace: str, name: str, **kwargs: Any) -> Call:
    arguments: dict[str, Any] = {
        "rule": "hpa",
        "current": 1,
        "desired": 1,
        "paused": False,
        "duration_seconds": 0.01,
        **kwargs,
    }
    return lambda m: m.evaluated(namespace, name, **arguments)


SCRIPT: list[Call] = [
    # shop/web: two triggers, one with predictive details, one failing after a good poll
    trigger("shop", "web", 0, value=250.0, active=True, latency_seconds=0.012),
    trigger(
        "shop",
        "web",
        1,
        trigger_name="forecast",
        trigger_type="predictive",
        metric="s1-predictive",
        value=-3.5,
        latency_seconds=0.2,
        details={"forecast": 410, "backtestMape": 0.05, "unknown": 1.0, "fitSeconds": "x"},
    ),
    trigger("shop", "web", 0, value=260.0, active=True, latency_seconds=0.01),
    trigger("shop", "web", 0, error=True, latency_seconds=3.0, details={"forecast": 1.0}),
    evaluated("shop", "web", rule="hpa", current=2, desired=4, duration_seconds=0.02),
    evaluated("shop", "web", rule="cooldown", current=4, desired=4, duration_seconds=0.003),
    evaluated("shop", "web", rule="hpa", current=None, desired=None, paused=True),
    lambda m: m.scale_write("shop", "web", ok=True),
    lambda m: m.scale_write("shop", "web", ok=False),
    lambda m: m.scale_write("shop", "web", ok=True),
    lambda m: m.lateness("shop", "web", 0.004),
    lambda m: m.lateness("shop", "web", -0.5),
    lambda m: m.object_error("shop", "web"),
    # shop/api: only failures so far
    trigger("shop", "api", 0, error=True, latency_seconds=10.0),
    lambda m: m.object_error("shop", "api"),
    lambda m: m.object_error("shop", "api"),
    # a ScaledJob with the same namespace/name as a ScaledObject, and one on its own
    lambda m: m.object_error("shop", "web", kind=SCALED_JOB),
    lambda m: m.lateness("shop", "web", 0.3, kind=SCALED_JOB),
    lambda m: m.lateness("batch", "import", 0.05, kind=SCALED_JOB),
    # one more object, then gone
    trigger("gone", "soon", 0, value=1.0, details={"modelAgeSeconds": 60}),
    evaluated("gone", "soon"),
    lambda m: m.scale_write("gone", "soon", ok=True),
    lambda m: m.lateness("gone", "soon", 0.1),
    lambda m: m.object_error("gone", "soon"),
    lambda m: m.object_error("gone", "soon", kind=SCALED_JOB),
    lambda m: m.forget("gone", "soon"),
    lambda m: m.objects.set(2),
]


def test_a_script_of_recordings_renders_as_the_children_did() -> None:
    new, old = both(SCRIPT)
    assert normalized(new.exposition()) == normalized(old.exposition())
    text = new.exposition().decode()
    forecast = (
        'podscaler_predictive_forecast{metric="s1-predictive",namespace="shop",'
        'scaledobject="web",trigger="forecast",trigger_index="1"} 410.0'
    )
    assert forecast in text.splitlines()
    assert 'scaledobject="soon"' not in text  # forgotten as a ScaledObject,
    assert 'scaledObject="soon"' not in text
    assert 'scaledJob="soon"' in text  # not as a ScaledJob
    assert sorted(new.last_lateness()) == sorted(old.last_lateness())


def test_the_script_exposes_what_each_call_wrote() -> None:
    """Not only equal to the reference: the values are the ones written."""
    new, _ = both(SCRIPT)
    get = new.registry.get_sample_value
    web = {"namespace": "shop", "scaledobject": "web"}
    keda0 = {
        "namespace": "shop",
        "metric": "s0-prometheus",
        "scaledObject": "web",
        "scaler": "prometheus",
        "triggerIndex": "0",
        "type": SCALED_OBJECT,
    }
    keda1 = {**keda0, "metric": "s1-predictive", "scaler": "forecast", "triggerIndex": "1"}
    assert get("podscaler_scaledobject_desired_replicas", web) == 4.0
    assert get("podscaler_scaledobject_decisions_total", {**web, "rule": "hpa"}) == 2.0
    assert get("podscaler_scaledobject_scale_writes_total", {**web, "outcome": "error"}) == 1.0
    assert get("keda_scaler_metrics_value", keda0) == 260.0  # the error kept the last value
    assert get("keda_scaler_metrics_value", keda1) == 0.0  # floored; ours keeps the raw value
    assert get("keda_scaler_errors_total", keda0) == 1.0
    assert get("keda_scaler_errors_total", keda1) is None
    assert get("keda_scaler_metrics_latency_seconds", keda0) == 3.0
    assert get("keda_scaled_object_paused", {"namespace": "shop", "scaledObject": "web"}) == 1.0
    late = {"namespace": "shop", "type": SCALED_JOB, "resource": "shop/web"}
    assert get("keda_internal_scale_loop_latency_seconds", late) == 0.3
    late = {"namespace": "shop", "type": SCALED_OBJECT, "resource": "shop/web"}
    assert get("keda_internal_scale_loop_latency_seconds", late) == 0.0
    jobs = {"namespace": "gone", "scaledJob": "soon"}
    assert get("keda_scaled_job_errors_total", jobs) == 1.0  # another kind: forgotten by kind
    assert get("podscaler_scaledobject_evaluation_duration_seconds_count") == 4.0
    assert get("podscaler_scaledobjects") == 2.0


def test_forget_removes_every_series_of_the_object_and_only_its_kind() -> None:
    new, old = both([*SCRIPT, lambda m: m.forget("shop", "web"), lambda m: m.forget("shop", "api")])
    assert normalized(new.exposition()) == normalized(old.exposition())
    text = new.exposition().decode()
    assert 'scaledobject="web"' not in text
    assert 'scaledObject="web"' not in text
    assert 'scaledJob="web"' in text  # the ScaledJob of the same name stays
    new.forget("shop", "web", kind=SCALED_JOB)
    new.forget("batch", "import", kind=SCALED_JOB)
    new.forget("gone", "soon", kind=SCALED_JOB)
    left = [
        samples
        for header, samples in normalized(new.exposition())
        if " histogram" not in header and "podscaler_scaledobjects " not in header
    ]
    assert len(left) == 20  # every per-object family, none with a series left
    assert not any(left)
    assert new.last_lateness() == []


def test_every_family_is_exposed_and_described_before_any_object() -> None:
    new, old = OperatorMetrics(), ChildrenMetrics()
    assert normalized(new.exposition()) == normalized(old.exposition())
    with pytest.raises(ValueError, match="Duplicated"):  # describe() claims the names
        Gauge("keda_scaler_active", "again", registry=new.registry)
    registry = CollectorRegistry()
    OperatorMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated"):
        OperatorMetrics(registry)


def test_the_exposition_is_what_prometheus_client_writes_for_the_same_registry() -> None:
    """``exposition()`` writes the table's families itself and leaves the others of a shared
    registry (the node, proportional and vertical metrics in ``podscaler run``) to
    prometheus_client, in the registry's order."""
    registry = CollectorRegistry(target_info={"cluster": "test"})
    before = Counter("other_before", "Registered before.", ["x"], registry=registry)
    before.labels('a "b"').inc()
    new = OperatorMetrics(registry)
    Gauge("other_after", "Registered after.", registry=registry).set(float("nan"))
    for call in SCRIPT:
        call(new)
    text = new.exposition()
    assert text == generate_latest(registry)
    assert text.index(b"target_info") < text.index(b"other_before") < text.index(b"keda_")
    assert text.index(b"keda_internal_scale_loop_latency_seconds") < text.index(b"other_after")


def test_an_error_count_for_a_kind_without_an_error_family_is_refused() -> None:
    with pytest.raises(ValueError, match="no error family"):
        OperatorMetrics().object_error("ns", "x", kind="verticalscaler")


#: Few names (so calls meet the same objects), some with what the text format escapes.
NAMES = st.tuples(
    st.sampled_from(["a", "b", 'q"uote']), st.sampled_from(["x", "back\\slash", "new\nline", "ünï"])
)
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**40), 2**40))


@st.composite
def calls(draw: st.DrawFn) -> Call:
    namespace, name = draw(NAMES)
    what = draw(st.sampled_from(["trigger", "evaluated", "lateness", "error", "write", "forget"]))
    kind = draw(st.sampled_from([SCALED_OBJECT, SCALED_JOB]))
    if what == "trigger":
        index = draw(st.integers(0, 2))
        details = draw(
            st.none()
            | st.dictionaries(
                st.sampled_from(["forecast", "backtestMape", "fitSeconds", "other"]),
                NUMBERS | st.text(max_size=2) | st.none(),
                max_size=3,
            )
        )
        return trigger(
            namespace,
            name,
            index,
            trigger_name=draw(st.sampled_from(["", "named"])),
            metric=draw(st.sampled_from(["m", f"s{index}-cpu"])),
            value=draw(st.none() | NUMBERS),
            active=draw(st.booleans()),
            error=draw(st.booleans()),
            latency_seconds=draw(st.floats(0, 60)),
            details=details,
        )
    if what == "evaluated":
        return evaluated(
            namespace,
            name,
            rule=draw(st.sampled_from(["hpa", "cooldown", "fallback"])),
            current=draw(st.none() | st.integers(0, 1000)),
            desired=draw(st.none() | st.integers(0, 1000)),
            paused=draw(st.booleans()),
            duration_seconds=draw(st.floats(0, 20)),
        )
    if what == "lateness":
        seconds = draw(st.floats(-5, 50))
        return lambda m: m.lateness(namespace, name, seconds, kind=kind)
    if what == "error":
        return lambda m: m.object_error(namespace, name, kind=kind)
    if what == "write":
        ok = draw(st.booleans())
        return lambda m: m.scale_write(namespace, name, ok=ok)
    return lambda m: m.forget(namespace, name, kind=kind)


@settings(deadline=None, max_examples=150)
@given(st.lists(calls(), max_size=40))
def test_any_sequence_of_recordings_renders_as_the_children_did(script: list[Call]) -> None:
    new, old = both(script)
    text = new.exposition()
    assert normalized(text) == normalized(old.exposition())
    assert text == generate_latest(new.registry)  # the table's own writer: byte for byte
    assert sorted(map(repr, new.last_lateness())) == sorted(map(repr, old.last_lateness()))
