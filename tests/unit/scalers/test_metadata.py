"""KEDA's generic metadata rules (sources, trimming, typed values, removed and unknown keys)
and metric naming; plus the property that no metadata map makes any trigger type raise
anything but ScalerConfigError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from podscaler.api.metrictarget import MetricTargetType
from scalers import ScalerConfigError, ScaleTrigger, default_registry
from scalers.metadata import (
    AUTH_PARAMS,
    MetadataReader,
    Source,
    external_target_type,
    metric_name,
    normalize_metric_name,
    parse_go_duration_seconds,
)

META_AUTH_ENV = (Source.TRIGGER_METADATA, Source.AUTH_PARAMS, Source.RESOLVED_ENV)


def test_values_are_trimmed_and_empty_means_missing() -> None:
    reader = MetadataReader({"a": "  x  ", "b": "   "}, auth_params={"b": "from-auth"})
    assert reader.string("a") == "x"
    assert reader.string("b", (Source.TRIGGER_METADATA, Source.AUTH_PARAMS)) == "from-auth"
    with pytest.raises(ScalerConfigError, match="missing required parameter 'b'") as info:
        reader.string("b")
    assert info.value.parameter == "b"


def test_sources_are_tried_in_order_then_names_in_order() -> None:
    reader = MetadataReader(
        {"token": "meta-token"}, auth_params={"bearerToken": "auth", "token": "auth-token"}
    )
    assert reader.string(("bearerToken", "token"), AUTH_PARAMS) == "auth"
    assert (
        reader.string(("bearerToken", "token"), (Source.TRIGGER_METADATA, Source.AUTH_PARAMS))
        == "meta-token"
    )


def test_from_env_reads_the_named_variable_of_the_target_container() -> None:
    reader = MetadataReader({"hostFromEnv": "HOST"}, resolved_env={"HOST": " db:5432 "})
    assert reader.string("host", META_AUTH_ENV) == "db:5432"
    # Without resolvedEnv in the parameter's order, FromEnv is not consulted (KEDA).
    assert reader.string("host", required=False) is None
    assert reader.unexpected() == ()


def test_from_env_naming_a_missing_variable_is_missing() -> None:
    reader = MetadataReader({"hostFromEnv": "NOPE"}, resolved_env={})
    with pytest.raises(ScalerConfigError, match="'host'"):
        reader.string("host", META_AUTH_ENV)


def test_defaults_apply_only_when_missing() -> None:
    reader = MetadataReader({"n": "7"})
    assert reader.integer("n", default=3) == 7
    assert reader.integer("m", default=3) == 3
    assert reader.integer("o", required=False) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", 10), ("-3", -3), ("0", 0), ("9223372036854775807", 2**63 - 1)],
)
def test_integers_are_json_integers(text: str, expected: int) -> None:
    assert MetadataReader({"n": text}).integer("n") == expected


@pytest.mark.parametrize("text", ["1.5", "1e3", "+3", "010", "ten", "1_000", "9223372036854775808"])
def test_bad_integers_name_the_parameter(text: str) -> None:
    with pytest.raises(ScalerConfigError, match="parameter 'n'") as info:
        MetadataReader({"n": text}).integer("n")
    assert info.value.parameter == "n"


@pytest.mark.parametrize(("text", "expected"), [("100", 100.0), ("0.5", 0.5), ("-2e3", -2000.0)])
def test_numbers_are_json_numbers(text: str, expected: float) -> None:
    assert MetadataReader({"x": text}).number("x") == expected


@pytest.mark.parametrize("text", ["one", "NaN", "Inf", ".5", "5.", "1e400", "0x10"])
def test_bad_numbers_are_refused(text: str) -> None:
    with pytest.raises(ScalerConfigError, match="'x'"):
        MetadataReader({"x": text}).number("x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("T", True), ("1", True), ("FALSE", False), ("f", False), ("0", False)],
)
def test_booleans_as_go_parsebool(text: str, expected: bool) -> None:
    assert MetadataReader({"b": text}).boolean("b") is expected


@pytest.mark.parametrize("text", ["yes", "no", "tRue", "xxxx", "2"])
def test_bad_booleans_are_refused(text: str) -> None:
    with pytest.raises(ScalerConfigError, match="'b'"):
        MetadataReader({"b": text}).boolean("b")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1000", 1.0), ("30s", 30.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("250ms", 0.25), ("0", 0.0)],
)
def test_durations_are_go_durations_or_milliseconds(text: str, seconds: float) -> None:
    assert MetadataReader({"t": text}).duration_seconds("t") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-1", "-5s", "a", "5", "5 s", "1d", "."])
def test_bad_or_negative_durations_are_refused(text: str) -> None:
    if text == "5":  # five milliseconds is fine: integers are milliseconds
        assert parse_go_duration_seconds(text) == 0.005
        return
    with pytest.raises(ScalerConfigError, match="'t'"):
        MetadataReader({"t": text}).duration_seconds("t")


def test_maps_need_exactly_one_equals_per_item() -> None:
    reader = MetadataReader({"h": "a = 1, b=2", "bad": "a=1,b", "worse": "a=1=2"})
    assert reader.mapping("h") == {"a": "1", "b": "2"}
    with pytest.raises(ScalerConfigError, match=r"'bad'.*key=value"):
        reader.mapping("bad")
    with pytest.raises(ScalerConfigError, match="'worse'"):
        reader.mapping("worse")


def test_lists_and_enums_are_checked_per_element() -> None:
    reader = MetadataReader({"modes": "tls, basic", "two": "bearer,basic", "bad": "tls,nope"})
    allowed = ("tls", "basic", "bearer")
    assert reader.string_list("modes", allowed=allowed) == ["tls", "basic"]
    with pytest.raises(ScalerConfigError, match="only one of"):
        reader.string_list("two", allowed=allowed, exclusive=("bearer", "basic"))
    with pytest.raises(ScalerConfigError, match="'bad'"):
        reader.string_list("bad", allowed=allowed)
    with pytest.raises(ScalerConfigError, match="must be one of"):
        MetadataReader({"m": "post"}).enum("m", ("header", "query"))


def test_secrets_from_auth_params_never_appear_in_errors() -> None:
    reader = MetadataReader({}, auth_params={"n": "s3cr3t-value", "h": "s3cr3t,x"})
    with pytest.raises(ScalerConfigError) as info:
        reader.integer("n", AUTH_PARAMS)
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(ScalerConfigError) as info:
        reader.mapping("h", AUTH_PARAMS)
    assert "s3cr3t" not in str(info.value)


def test_removed_parameters_are_errors_and_unknown_ones_only_reported() -> None:
    reader = MetadataReader({"type": "Utilization", "valeu": "50", "value": "50"})
    with pytest.raises(ScalerConfigError, match="'type' has been removed") as info:
        reader.removed("type", "use metricType")
    assert info.value.parameter == "type"
    reader.string("value")
    assert reader.unexpected() == ("valeu",)


def test_unknown_metadata_keeps_a_trigger_valid_but_is_listed() -> None:
    trigger = ScaleTrigger(
        type="prometheus",
        metadata={
            "serverAddress": "http://p:9090",
            "query": "up",
            "threshold": "1",
            "metricName": "x",
        },
    )
    config = default_registry().parse(trigger)
    assert config.unexpected_parameters == ("metricName",)


def test_metric_names_follow_keda() -> None:
    assert normalize_metric_name("a/b.c:d%e(f)g") == "a-b-c-d-e-f-g"
    assert metric_name(3, "prometheus") == "s3-prometheus"


def test_external_metric_types() -> None:
    assert external_target_type(None) == "AverageValue"
    assert external_target_type(MetricTargetType.VALUE) == "Value"
    with pytest.raises(ScalerConfigError) as info:
        external_target_type(MetricTargetType.UTILIZATION)
    assert info.value.parameter == "metricType"


def test_a_metric_type_that_is_none_is_refused_by_the_trigger_model() -> None:
    for bad in ("value", "xxx"):
        with pytest.raises(ValidationError):
            ScaleTrigger(type="cron", metadata={}, metricType=bad)


# ------------------------------------------------------------------------------ property

KEYS = st.sampled_from(
    [
        "serverAddress", "query", "threshold", "activationThreshold", "timeout", "customHeaders",
        "queryParameters", "ignoreNullValues", "unsafeSsl", "authModes", "method", "namespace",
        "timezone", "start", "end", "desiredReplicas", "value", "containerName", "type",
        "hostFromEnv", "unknown",
    ]
) | st.text(max_size=12)  # fmt: skip
VALUES = st.sampled_from(
    ["", " ", "1", "-1", "0", "1.5", "true", "x", "a=b", "a=b,c", "0 0 * * *", "Etc/UTC",
     "*/0 * * * *", "http://[::1", "tls,basic", "bearer", "1e400", "Utilization", "5s"]
) | st.text(max_size=20)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    trigger_type=st.sampled_from(["cpu", "memory", "cron", "prometheus", "nope"]),
    metadata=st.dictionaries(KEYS, VALUES, max_size=8),
    auth=st.dictionaries(
        st.sampled_from(["bearerToken", "username", "password", "cert", "key", "ca", "x"]),
        VALUES | st.text(max_size=10).map(lambda t: "s3cr3t-" + t),
    ),
    env=st.dictionaries(st.text(max_size=5), VALUES, max_size=3),
    metric_type=st.sampled_from(["", "Value", "AverageValue", "Utilization"]),
    pod_identity=st.sampled_from(["", "none", "azure-workload"]),
    index=st.integers(0, 20),
)
def test_arbitrary_metadata_only_ever_raises_config_errors(
    trigger_type: str,
    metadata: dict[str, str],
    auth: dict[str, str],
    env: dict[str, str],
    metric_type: str,
    pod_identity: str,
    index: int,
) -> None:
    trigger = ScaleTrigger(type=trigger_type, metadata=metadata, metricType=metric_type)
    message = ""
    try:
        config = default_registry().parse(
            trigger, env, auth, trigger_index=index, pod_identity_provider=pod_identity
        )
    except ScalerConfigError as exc:
        message = str(exc) or "(empty message)"
    else:
        assert config.trigger_index == index
        return
    assert message != "(empty message)"
    for secret in auth.values():
        if secret.startswith("s3cr3t-"):
            assert secret.strip() not in message
