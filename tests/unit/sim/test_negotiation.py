"""Which form an ``Accept`` header asks for (``negotiation.py``, ``discovery.py``): the first
alternative the server can give, protobuf and unknown forms passed over; and when the answer
is written as YAML."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver import discovery
from podscaler.sim.apiserver.errors import NotAcceptable
from podscaler.sim.apiserver.negotiation import Answer, negotiate, to_yaml, wants_yaml

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PROTO = "application/vnd.kubernetes.protobuf"


@pytest.mark.parametrize(
    ("accept", "endpoint", "want"),
    [
        ("", "list", Answer("object")),
        ("application/json", "object", Answer("object")),
        (f"{TABLE}, {TABLE.replace('v1', 'v1beta1')}, application/json", "list", Answer("table")),
        (f"application/json, {TABLE}", "list", Answer("object")),
        (f"{PROTO};as=Table;v=v1;g=meta.k8s.io, {TABLE}", "watch", Answer("table")),
        (f"{PROTO}, application/json", "object", Answer("object")),
        (f"{META_LIST}, application/json", "list", Answer("metadata")),
        (f"{META_LIST}, application/json", "object", Answer("object")),
        (f"{META}, application/json", "watch", Answer("metadata")),
        (META.replace("v=v1", "v=v1beta1"), "object", Answer("metadata", "v1beta1")),
        ("application/json;as=Table;v=v1;g=other.io, application/json", "list", Answer("object")),
        ("application/json;as=Scale;v=v1;g=meta.k8s.io", "object", Answer("object")),
    ],
)
def test_the_first_form_the_server_gives_wins(accept: str, endpoint: str, want: Answer) -> None:
    assert negotiate(accept, endpoint) == want  # type: ignore[arg-type]


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.mark.parametrize(
    ("accept", "want"),
    [
        (f"{AGGREGATED},{AGGREGATED.replace('v=v2', 'v=v2beta1')},application/json", "v2"),
        (f"{AGGREGATED.replace('v=v2', 'v=v2beta1')},application/json", "v2beta1"),
        (f"{PROTO};g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,{AGGREGATED}", "v2"),
        (f"application/json,{AGGREGATED}", None),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
        ("", None),
    ],
)
def test_aggregated_discovery_is_given_when_preferred(accept: str, want: str | None) -> None:
    assert discovery.aggregated_version(accept) == want


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet=st.sampled_from('abgv=;,/ *"json.TableMeta12'), max_size=80))
def test_any_header_gets_an_answer_or_a_406(accept: str) -> None:
    for endpoint in ("object", "list", "watch"):
        try:
            form = negotiate(accept, endpoint).form  # type: ignore[arg-type]
        except NotAcceptable:
            continue
        assert form in ("object", "table", "metadata")
    assert discovery.aggregated_version(accept) in (None, "v2", "v2beta1")


def test_only_media_types_upstream_does_not_speak_are_406() -> None:
    with pytest.raises(NotAcceptable):
        negotiate("text/html", "list")
    assert negotiate("text/html, application/yaml", "list") == Answer("object")
    assert negotiate(PROTO, "object") == Answer("object")


@pytest.mark.parametrize(
    ("accept", "want"),
    [
        ("", False),
        ("application/yaml", True),
        ("application/json, application/yaml", False),
        ("application/yaml, application/json", True),
        (f"{PROTO}, application/yaml", True),
        ("application/yaml;q=0.5, application/json", False),
        ("application/json;q=0.1, application/yaml", True),
        ("application/yaml;q=0, application/json", False),
        ("text/html, application/yaml", True),
        ("application/yaml;as=Table;v=v1;g=meta.k8s.io", True),
        ("*/*, application/yaml", False),
    ],
)
def test_yaml_is_chosen_where_it_is_the_preferred_spoken_type(accept: str, want: bool) -> None:
    assert wants_yaml(accept) is want


@settings(deadline=None, max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_yaml_answers_read_back_as_the_json_they_came_from(value: object) -> None:
    assert yaml.safe_load(to_yaml(json.dumps(value).encode())) == value
