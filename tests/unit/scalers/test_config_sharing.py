"""Parsed trigger configs share what is the same across triggers (pydantic's set of given
field names, the parameter names read, an empty authentication block) without any config
seeing another's values."""

from __future__ import annotations

from scalers import ScaleTrigger
from scalers.prometheus import PrometheusConfig, PrometheusFactory

FACTORY = PrometheusFactory()


def parse(query: str, **metadata: str) -> PrometheusConfig:
    trigger = ScaleTrigger(
        type="prometheus",
        metadata={"serverAddress": "http://prom:9090", "query": query, "threshold": "10"}
        | metadata,
    )
    return FACTORY.parse(trigger, {}, {})


def test_configs_of_one_shape_share_their_fields_set_and_names() -> None:
    a, b = parse("sum(a)"), parse("sum(b)")
    assert a.query == "sum(a)"
    assert b.query == "sum(b)"
    assert a.model_fields_set == b.model_fields_set
    assert a.model_fields_set is b.model_fields_set
    assert a.read_parameters is b.read_parameters
    assert a.auth is b.auth
    assert not a.auth.modes


def test_a_copy_with_an_update_leaves_the_shared_set_alone() -> None:
    a, b = parse("sum(a)"), parse("sum(b)")
    before = set(a.model_fields_set)
    copied = a.model_copy(update={"unexpected_parameters": ("x",)})
    assert copied.unexpected_parameters == ("x",)
    assert set(a.model_fields_set) == before == set(b.model_fields_set)


def test_authentication_is_not_shared_when_it_differs() -> None:
    plain = parse("sum(a)")
    trigger = ScaleTrigger(
        type="prometheus",
        metadata={
            "serverAddress": "http://prom:9090",
            "query": "q",
            "threshold": "1",
            "authModes": "basic",
        },
    )
    basic = FACTORY.parse(trigger, {}, {"username": "u", "password": "p"})
    assert basic.auth is not plain.auth
    assert basic.auth.username == "u"
    assert basic.auth.password is not None
    assert basic.auth.password.get_secret_value() == "p"
    assert plain.auth.username == ""
    assert plain.auth.password is None
    other = FACTORY.parse(trigger, {}, {"username": "v", "password": "w"})
    assert other.auth.username == "v"
    assert basic.auth.username == "u"
