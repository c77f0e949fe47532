"""CA's options: every spelling reads into the same typed value, defaults are CA's, and bad
input names the option."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.nodes.flags import parse_expander_chain, parse_flags, parse_options
from podscaler.nodes.options import (
    OPTIONS,
    GroupOptions,
    NodeAutoscalerOptions,
    NodeGroupBounds,
    OptionsError,
)


def test_defaults_are_cas() -> None:
    options = NodeAutoscalerOptions()
    assert options.scale_down_utilization_threshold == 0.5
    assert options.scale_down_unneeded_time_seconds == 600
    assert options.scale_down_delay_after_add_seconds == 600
    assert options.scale_down_delay_after_delete_seconds == 0
    assert options.scale_down_delay_after_failure_seconds == 180
    assert options.new_pod_scale_up_delay_seconds == 0
    assert options.expendable_pods_priority_cutoff == -10
    assert options.max_nodes_per_scaleup == 1000
    assert options.max_node_provision_time_seconds == 900
    assert options.expander == ("least-waste",)
    assert options.max_scale_down_parallelism == 10
    assert options.max_empty_bulk_delete is None


@pytest.mark.parametrize(
    "key",
    [
        "scale-down-unneeded-time",
        "--scale-down-unneeded-time",
        "scaleDownUnneededTime",
        "scale_down_unneeded_time",
    ],
)
def test_every_spelling_reads_the_same_option(key: str) -> None:
    assert parse_options({key: "5m"}).scale_down_unneeded_time_seconds == 300


def test_flags_from_a_command_line() -> None:
    options = parse_flags(
        [
            "--expander=priority,least-waste",
            "--balance-similar-node-groups",
            "--nodes=1:10:asg-a",
            "--nodes",
            "0:5:asg-b",
            "--balancing-ignore-label=team",
            "--cores-total=4:64",
            "--memory-total=8:256",
            "--scale-down-delay-after-add",
            "2m30s",
        ]
    )
    assert options.expander == ("priority", "least-waste")
    assert options.balance_similar_node_groups is True
    assert options.nodes == (NodeGroupBounds(1, 10, "asg-a"), NodeGroupBounds(0, 5, "asg-b"))
    assert options.balancing_ignore_label == ("team",)
    assert options.cores_total == (4, 64)
    assert options.memory_total_bytes == (8 * 1024**3, 256 * 1024**3)
    assert options.scale_down_delay_after_add_seconds == 150


def test_scenario_keys_in_camel_case_with_yaml_values() -> None:
    options = parse_options(
        {"expander": "most-pods", "scaleDownUnneededTime": 60, "maxNodesTotal": 12}
    )
    assert options.expander == ("most-pods",)
    assert options.scale_down_unneeded_time_seconds == 60
    assert options.max_nodes_total == 12


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"scale-down-unneeded-tme": "1m"}, "did you mean scale-down-unneeded-time"),
        ({"scale-down-unneeded-time": "ten minutes"}, "scale-down-unneeded-time"),
        ({"scale-down-unneeded-time": "-1m"}, "not negative"),
        ({"scale-down-utilization-threshold": "1.5"}, "within [0, 1]"),
        ({"expander": "cheapest"}, "unknown expander 'cheapest'"),
        ({"expander": "random,least-waste"}, "must come last"),
        ({"expander": "least-waste,least-waste"}, "twice"),
        ({"cores-total": "64"}, "min:max"),
        ({"cores-total": "10:4"}, "min <= max"),
        ({"nodes": ["1:x:asg"]}, "min:max:name"),
        ({"nodes": ["5:1:asg"]}, "max size must be >= min size"),
        ({"estimator": "oldbinpacking"}, "only binpacking"),
        ({"nodes": ["1:2:a"], "node-group-auto-discovery": ["asg:tag=x"]}, "cannot be combined"),
        ({"scaleDownUnneededTime": "1m", "scale-down-unneeded-time": "2m"}, "given twice"),
        ({"balance-similar-node-groups": "yes"}, "a boolean"),
    ],
)
def test_bad_input_names_the_option(values: dict[str, object], fragment: str) -> None:
    with pytest.raises(OptionsError, match=None) as caught:
        parse_options(values)
    assert fragment in str(caught.value)


def test_random_last_in_a_chain_is_fine() -> None:
    assert parse_expander_chain("priority,random") == ("priority", "random")


def test_the_declaration_covers_every_field_once() -> None:
    fields = [spec.field for spec in OPTIONS]
    assert len(fields) == len(set(fields))
    assert set(fields) == set(NodeAutoscalerOptions.__dataclass_fields__)


def test_group_overrides_resolve_over_the_global_options() -> None:
    group = GroupOptions(scale_down_utilization_threshold=0.7)
    resolved = group.resolve(NodeAutoscalerOptions())
    assert resolved.scale_down_utilization_threshold == 0.7
    assert resolved.scale_down_unneeded_time_seconds == 600
    assert GroupOptions().is_empty()


@settings(deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(["s", "m", "h", "ms"]))
def test_durations_parse_as_go_durations(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "ms": 0.001}[unit] * amount
    parsed = parse_options({"scan-interval": f"{amount}{unit}"}).scan_interval_seconds
    assert parsed == pytest.approx(seconds)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from([s.flag for s in OPTIONS]), st.text(max_size=12)))
def test_any_string_values_parse_or_raise_options_error(values: dict[str, str]) -> None:
    with contextlib.suppress(OptionsError):
        parse_options(values)
