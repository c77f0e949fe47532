"""Request parsing and response documents of external.metrics.k8s.io (pure, hypothesis).

The parsing path takes whatever a client puts in the URL: it must answer a ``StatusError`` with
a 400 for anything it refuses, and never raise anything else.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.externalmetrics import ExternalMetricSample
from podscaler.api.quantities import Quantity
from podscaler.metricsapi import wire


def test_keda_selector_names_the_scaled_object() -> None:
    parsed = wire.parse_metric_request("ns", "s0-prometheus", "scaledobject.keda.sh/name=web")
    assert parsed == wire.MetricRequest("ns", "s0-prometheus", "web")


@pytest.mark.parametrize(
    "selector",
    [
        "autoscaling.podscaler.io/scaledobject-name=web",
        "scaledobject.keda.sh/name==web,app=x",
        "scaledobject.keda.sh/name in (web)",
        "scaledobject.keda.sh/name=web,autoscaling.podscaler.io/scaledobject-name=web",
    ],
)
def test_other_spellings_of_one_name(selector: str) -> None:
    assert wire.parse_metric_request("ns", "m", selector).scaled_object == "web"


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("", "scaledObject name is not specified"),
        ("app=web", "scaledObject name is not specified"),
        ("scaledobject.keda.sh/name", "must name one ScaledObject"),
        ("scaledobject.keda.sh/name in (a,b)", "must name one ScaledObject"),
        ("scaledobject.keda.sh/name=a,autoscaling.podscaler.io/scaledobject-name=b", "more than"),
        ("scaledobject.keda.sh/name=(", "labelSelector is not valid"),
        ("x=" + "y," * 3000, "at most 4096"),
    ],
)
def test_refused_selectors(selector: str, message: str) -> None:
    with pytest.raises(wire.StatusError) as caught:
        wire.parse_metric_request("ns", "m", selector)
    assert caught.value.code == 400
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [("", "m"), ("ns", ""), ("n" * 64, "m"), ("ns", "m" * 254), ("ns", "a\x00b")],
)
def test_refused_path_parts(namespace: str, metric: str) -> None:
    with pytest.raises(wire.StatusError) as caught:
        wire.parse_metric_request(namespace, metric, "scaledobject.keda.sh/name=web")
    assert caught.value.code == 400


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80), st.text(max_size=300), st.text(max_size=5000))
def test_parsing_never_raises_anything_but_a_400(
    namespace: str, metric: str, selector: str
) -> None:
    refused: wire.StatusError | None = None
    try:
        parsed = wire.parse_metric_request(namespace, metric, selector)
    except wire.StatusError as exc:
        refused = exc
    if refused is not None:
        assert refused.code == 400
        assert refused.body()["code"] == 400
    else:
        assert parsed.scaled_object
        assert parsed.metric_name == metric


_LABEL_VALUE = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,40}[A-Za-z0-9])?", fullmatch=True)


@given(
    _LABEL_VALUE,
    st.sampled_from(["=", "=="]),
    st.lists(st.tuples(_LABEL_VALUE, _LABEL_VALUE), max_size=3),
)
def test_any_valid_name_is_found_among_other_requirements(
    name: str, op: str, others: list[tuple[str, str]]
) -> None:
    parts = [f"scaledobject.keda.sh/name{op}{name}", *(f"x-{k}={v}" for k, v in others)]
    assert wire.parse_metric_request("ns", "s0-m", ",".join(parts)).scaled_object == name


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (0.25, "250m"),
        (1.5, "1500m"),
        (35, "35"),
        (35000, "35k"),
        (2147483648, "2147483648"),
        (0.0004, "0"),
        (0.0005, "1m"),  # %.3f rounds half to even on the binary value; 0.0005 is just above
        (-1, "0"),
        (1e300, "9223372036854775807m"),
        (float("nan"), "0"),
        (float("inf"), "0"),
        (float("-inf"), "0"),
    ],
)
def test_quantities_as_keda_exports_them(value: float, text: str) -> None:
    assert wire.quantity_text(value) == text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_quantity_text_is_a_quantity_within_a_milli(value: float) -> None:
    text = wire.quantity_text(value)
    parsed = Quantity(text)
    if math.isfinite(value) and value > 0:
        expected = min(value, (2**63 - 1) / 1000)
        assert abs(float(parsed.value) - expected) <= 0.0005 + expected * 1e-12
    else:
        assert parsed.is_zero()


def test_value_list_shape() -> None:
    moment = datetime(2021, 10, 20, 12, 48, 17, 999, tzinfo=timezone(timedelta(hours=2)))
    doc = wire.value_list(
        [
            ExternalMetricSample("s1-rabbitmq-q", 0.0, moment),
            ExternalMetricSample("s1-rabbitmq-q", 2.5, datetime(2021, 1, 1), window_seconds=60),
        ]
    )
    assert doc == {
        "kind": "ExternalMetricValueList",
        "apiVersion": "external.metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": [
            {
                "metricName": "s1-rabbitmq-q",
                "metricLabels": None,
                "timestamp": "2021-10-20T10:48:17Z",
                "value": "0",
            },
            {
                "metricName": "s1-rabbitmq-q",
                "metricLabels": None,
                "timestamp": "2021-01-01T00:00:00Z",
                "value": "2500m",
                "window": 60,
            },
        ],
    }


def test_discovery_documents() -> None:
    (resource,) = wire.api_resource_list()["resources"]
    assert resource == {
        "name": "externalmetrics",
        "singularName": "",
        "namespaced": True,
        "kind": "ExternalMetricValueList",
        "verbs": ["get"],
    }
    assert wire.api_group()["preferredVersion"]["groupVersion"] == "external.metrics.k8s.io/v1beta1"
    assert [g["name"] for g in wire.api_group_list()["groups"]] == ["external.metrics.k8s.io"]


def test_status_documents() -> None:
    assert wire.StatusError(503, "metric:x encountered error").body() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "metric:x encountered error",
        "reason": "ServiceUnavailable",
        "code": 503,
    }
