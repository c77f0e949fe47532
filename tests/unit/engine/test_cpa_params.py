"""The CPA ConfigMap parsers: Go's JSON rules, upstream's checks and messages, for any input.

Examples pin the cases upstream's tests and README raise (a trailing comma, ``"true"`` as a
string, a negative min, max below min, a ConfigMap with two keys); properties check that any
text is either accepted or refused with :class:`ParamsError` (never another exception), that
parameters written out as JSON come back the same, that key case does not matter, and the
``[2]int`` rules of Go's decoder for ladder steps.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.manifests import validate_documents
from podscaler.engine.cpa import (
    LadderParams,
    LinearParams,
    ParamsError,
    parse_config_data,
    parse_ladder,
    parse_linear,
)
from podscaler.engine.cpa.params import config_map_problems

# ------------------------------------------------------------------------------------ examples


def test_upstream_linear_example_parses() -> None:
    params = parse_linear(
        '{"coresPerReplica": 2, "nodesPerReplica": 1, "min": 1, "max": 100,'
        ' "preventSinglePointFailure": true, "includeUnschedulableNodes": true}'
    )
    assert params == LinearParams(2.0, 1.0, 1, 100, True, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"coresPerReplica": 2, "min": 1, "max": 100,}', "could not parse parameters"),
        ('{ "coresPerReplica": "whatisthis"', "could not parse parameters"),
        ('{"nodesPerReplica": -20}', "invalid negative value for nodesPerReplica: -20"),
        ('{"coresPerReplica": -0.5}', "invalid negative value for coresPerReplica: -0.5"),
        ('{"nodesPerReplica": 1, "min": -1}', "invalid negative value for min: -1"),
        (
            '{"nodesPerReplica": 1, "min": 100, "max": 50}',
            "max replicas count 50 should be greater than / equal to min replicas count 100",
        ),
        ('{"min": 1, "max": 100}', "should at least provide either CoresPerReplica"),
        (
            '{"coresPerReplica": 2, "includeUnschedulableNodes": "true"}',
            "cannot unmarshal string into Go struct field linearParams.includeUnschedulableNodes"
            " of type bool",
        ),
        ('{"coresPerReplica": 2, "min": 1.5}', "cannot unmarshal number 1.5"),
        ('{"coresPerReplica": 2, "max": 1e2}', "cannot unmarshal number 1e2"),
        ('{"coresPerReplica": 1e999}', "cannot unmarshal number 1e999"),
        ('{"coresPerReplica": NaN}', "could not parse parameters"),
        ("[1, 2]", "cannot unmarshal array into Go value of type linearParams"),
        ("", "could not parse parameters"),
    ],
)
def test_linear_refusals_say_what_upstream_says(text: str, message: str) -> None:
    with pytest.raises(ParamsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_linear(text)


def test_min_zero_or_missing_becomes_one_and_max_zero_means_none() -> None:
    assert parse_linear('{"nodesPerReplica": 3}') == LinearParams(0.0, 3.0, 1, 0)
    assert parse_linear('{"nodesPerReplica": 3, "min": 0, "max": 0}').min == 1


def test_null_sets_nothing_and_unknown_keys_are_ignored() -> None:
    assert parse_linear('{"nodesPerReplica": 3, "min": null, "whatever": [1, {}]}').min == 1
    assert parse_ladder("null") == LadderParams()


def test_repeated_key_decodes_into_what_the_first_left() -> None:
    assert parse_linear('{"nodesPerReplica": 3, "nodesPerReplica": null}').nodes_per_replica == 3
    params = parse_ladder('{"coresToReplicas": [[5, 6]], "coresToReplicas": [null, [1]]}')
    assert params.cores_to_replicas == ((5, 6), (1, 0))


def test_ladder_keeps_the_given_order_and_sorts_on_demand() -> None:
    params = parse_ladder('{"nodesToReplicas": [[5, 5], [1, 1], [3, 3]]}')
    assert params.nodes_to_replicas == ((5, 5), (1, 1), (3, 3))
    assert params.sorted().nodes_to_replicas == ((1, 1), (3, 3), (5, 5))


@pytest.mark.parametrize(
    "text",
    [
        '{ "coresToReplicas" : {{ 1:1 } }',
        '{ "coresToReplicas" : [[ "1, "a"]] }',
        '{ "coresToReplicas" : [[:-200]] }',
        '{ "coresToReplicas" : [[1, -200]] }',
        '{ "nodesToReplicas" : [[-1, 2]] }',
        '{ "nodesToReplicas" : [["1", 2]] }',
        '{ "nodesToReplicas" : [1, 2] }',
        '{ "nodesToReplicas" : {"a": 1} }',
    ],
)
def test_ladder_refusals(text: str) -> None:
    with pytest.raises(ParamsError):
        parse_ladder(text)


def test_ladder_negative_entry_message() -> None:
    with pytest.raises(ParamsError, match=r"invalid negative values in entry \[1 -2\] in nodes_"):
        parse_ladder('{"nodesToReplicas": [[1, -2]]}')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, r"expected only one entry, got: map\[\]"),
        ({"linear": "{}", "ladder": "{}"}, "expected only one entry"),
        ({"Linear": '{"nodesPerReplica": 1}'}, "not a supported control mode: Linear"),
        ({"linear": "{"}, "error parsing linear params: could not parse parameters"),
        ({"ladder": "[]"}, "error parsing ladder params: could not parse parameters"),
    ],
)
def test_configmap_data_refusals(data: dict[str, str], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        parse_config_data(data)


def test_configmap_data_modes() -> None:
    assert parse_config_data({"linear": '{"coresPerReplica": 4}'}).mode == "linear"
    ladder = parse_config_data({"ladder": '{"nodesToReplicas": [[1, 1]]}'})
    assert ladder == LadderParams(nodes_to_replicas=((1, 1),))


# ---------------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "coresPerReplica",
        "nodesPerReplica",
        "min",
        "max",
        "preventSinglePointFailure",
        "includeUnschedulableNodes",
        "coresToReplicas",
        "nodesToReplicas",
        "other",
    ]
)
documents = st.dictionaries(keys, json_values, max_size=6)


@settings(deadline=None)
@given(st.text(max_size=60) | documents.map(json.dumps))
def test_any_text_is_accepted_or_refused_with_a_params_error(text: str) -> None:
    for parse in (parse_linear, parse_ladder):
        with contextlib.suppress(ParamsError):
            parse(text)


@settings(deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=3))
def test_configmap_data_is_accepted_or_refused_with_a_params_error(data: dict[str, str]) -> None:
    try:
        params = parse_config_data(data)
    except ParamsError:
        return
    assert len(data) == 1
    assert next(iter(data)) == params.mode


per_replica = st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.integers(0, 1000)
valid_linear = st.builds(
    LinearParams,
    cores_per_replica=per_replica.map(float),
    nodes_per_replica=per_replica.map(float),
    min=st.integers(0, 1000),
    max=st.integers(0, 2000),
    prevent_single_point_failure=st.booleans(),
    include_unschedulable_nodes=st.booleans(),
).filter(
    lambda p: (p.cores_per_replica or p.nodes_per_replica) and (p.max == 0 or p.max >= (p.min or 1))
)


@settings(deadline=None)
@given(valid_linear)
def test_linear_params_written_as_json_come_back(params: LinearParams) -> None:
    parsed = parse_linear(json.dumps(params.to_json()))
    assert parsed.to_json() == {**params.to_json(), "min": params.min or 1}


@settings(deadline=None)
@given(valid_linear, st.randoms(use_true_random=False))
def test_key_case_does_not_matter(params: LinearParams, rng: Any) -> None:
    def scramble(key: str) -> str:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in key)

    document = {scramble(k): v for k, v in params.to_json().items()}
    assert parse_linear(json.dumps(document)) == parse_linear(json.dumps(params.to_json()))


@settings(deadline=None)
@given(valid_linear.map(lambda p: p.min or 1), st.floats(0.01, 100.0).filter(lambda f: f % 1))
def test_a_fraction_where_an_int_goes_is_refused(minimum: int, fraction: float) -> None:
    with pytest.raises(ParamsError, match="cannot unmarshal number"):
        parse_linear(json.dumps({"nodesPerReplica": 1, "min": minimum + fraction}))


entries = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**4)), max_size=12)


@settings(deadline=None)
@given(entries, entries, st.booleans())
def test_ladder_params_come_back_in_their_order(
    cores: list[tuple[int, int]], nodes: list[tuple[int, int]], include: bool
) -> None:
    params = LadderParams(tuple(cores), tuple(nodes), include)
    assert parse_ladder(json.dumps(params.to_json())) == params


@settings(deadline=None)
@given(st.lists(st.integers(0, 100), max_size=5))
def test_a_step_of_any_length_is_read_as_go_reads_a_two_element_array(step: list[int]) -> None:
    padded = ([*step, 0, 0])[:2]
    params = parse_ladder(json.dumps({"nodesToReplicas": [step]}))
    assert params.nodes_to_replicas == ((padded[0], padded[1]),)


@settings(deadline=None)
@given(entries.filter(bool), st.data())
def test_a_negative_number_anywhere_in_a_step_is_refused(
    steps: list[tuple[int, int]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(steps) - 1))
    column = data.draw(st.integers(0, 1))
    negative = data.draw(st.integers(-(10**6), -1))
    rows = [list(s) for s in steps]
    rows[index][column] = negative
    with pytest.raises(ParamsError, match="invalid negative values"):
        parse_ladder(json.dumps({"coresToReplicas": rows}))


# --- podscaler validate: a CPA ConfigMap among the manifests ---------------------------------


def _validate_config_map(data: object) -> list[tuple[str, str, str]]:
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dns-autoscaler", "namespace": "kube-system"},
        "data": data,
    }
    findings = validate_documents(
        yaml.safe_dump(document), "cm.yaml", config_map_checker=config_map_problems
    )
    return [(f.severity, f.path, f.message) for f in findings]


def test_validate_checks_a_cpa_config_map_as_cpa_reads_it() -> None:
    good = _validate_config_map({"linear": '{"coresPerReplica":256,"nodesPerReplica":16}'})
    assert [(severity, path) for severity, path, _ in good] == [("info", "data")]
    # The README's ladder example ends its object with a comma: Go's JSON refuses it.
    comma = _validate_config_map({"ladder": '{"coresToReplicas": [[1, 1], [64, 3]],\n}'})
    assert comma[1][:2] == ("error", "data.ladder")
    assert comma[1][2].startswith("error parsing ladder params: could not parse parameters")
    # Written as a YAML mapping: the API server refuses a ConfigMap value that is no string.
    mapping = _validate_config_map({"linear": {"coresPerReplica": 256}})
    assert mapping[1][:2] == ("error", "data.linear")
    assert mapping[1][2].startswith("must be a string")
    extra = _validate_config_map({"ladder": '{"nodesToReplicas":[[1,2]]}', "other": "x"})
    assert extra[1][:2] == ("error", "data")
    assert "expected only one entry" in extra[1][2]


def test_other_config_maps_are_still_skipped() -> None:
    [finding] = _validate_config_map({"nginx.conf": "events {}"})
    assert finding[0] == "info"
    assert finding[2].startswith("skipped: v1 ConfigMap")


@settings(deadline=None, max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["linear", "ladder", "other"]),
        st.none() | st.integers() | st.text(max_size=40) | st.just('{"min": 1}'),
        min_size=1,
    )
)
def test_any_cpa_config_map_gives_problems_never_an_exception(data: dict[str, object]) -> None:
    for problem in config_map_problems({"data": data}):
        assert problem.path.startswith("data")
