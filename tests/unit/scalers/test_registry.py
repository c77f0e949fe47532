"""The registry: built-ins, entry points (including broken ones), unknown trigger types, and
the pyproject declaration of the built-ins."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from scalers import ScalerConfigError, ScalerEnvironment, ScalerRegistry, ScaleTrigger
from scalers.cron import CRON
from scalers.registry import ENTRY_POINT_GROUP, builtin_factories, default_registry

ROOT = Path(__file__).resolve().parents[3]


def test_builtins_are_registered() -> None:
    assert {"cpu", "memory", "cron", "prometheus"} <= set(default_registry().trigger_types)


def test_unknown_trigger_type_is_a_config_error() -> None:
    with pytest.raises(ScalerConfigError, match="unknown trigger type 'rabbitmq'") as info:
        default_registry().parse(ScaleTrigger(type="rabbitmq", metadata={}))
    assert info.value.parameter == "type"


def test_pyproject_declares_every_builtin_as_an_entry_point() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP]
    builtins = builtin_factories()
    assert set(declared) == set(builtins)
    for name, value in declared.items():
        factory = EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP).load()
        assert factory is builtins[name]
        assert name in factory.trigger_types


class _Echo:
    """A third-party trigger type: the protocol needs no base class."""

    trigger_types = ("echo",)

    def parse(
        self, trigger, resolved_env, auth_params, *, trigger_index=0, pod_identity_provider=""
    ):  # type: ignore[no-untyped-def]
        raise KeyError("boom")  # misbehaving plugin

    def build(self, config, env):  # type: ignore[no-untyped-def]
        raise NotImplementedError


ECHO = _Echo()


def test_entry_points_add_types_and_broken_ones_only_break_themselves() -> None:
    registry = ScalerRegistry(builtin_factories())
    registry.load_entry_points(
        [
            EntryPoint(name="echo", value=f"{__name__}:ECHO", group=ENTRY_POINT_GROUP),
            EntryPoint(name="ghost", value="no_such_module:X", group=ENTRY_POINT_GROUP),
            EntryPoint(name="cron", value="no_such_module:X", group=ENTRY_POINT_GROUP),
        ]
    )
    assert "echo" in registry.trigger_types
    # A plugin raising something else from parse is still reported as a config error.
    with pytest.raises(ScalerConfigError, match="'echo' failed to parse") as info:
        registry.parse(ScaleTrigger(type="echo", metadata={}))
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(ScalerConfigError, match="installed but unusable"):
        registry.factory("ghost")
    assert registry.factory("cron") is CRON  # a broken override leaves the built-in


def test_register_checks_the_protocol() -> None:
    with pytest.raises(TypeError):
        ScalerRegistry().register("x", object())  # type: ignore[arg-type]


async def test_parse_then_build_through_the_registry() -> None:
    registry = default_registry()
    trigger = ScaleTrigger.model_validate(
        {
            "type": "cron",
            "name": "office-hours",
            "metricType": "AverageValue",
            "metadata": {"timezone": "UTC", "start": "0 9 * * 1-5", "end": "0 17 * * 1-5",
                         "desiredReplicas": "3"},
            "authenticationRef": {"name": "none"},
        }
    )  # fmt: skip
    config = registry.parse(trigger, trigger_index=1)
    assert config.trigger_name == "office-hours"
    scaler = registry.build("cron", config, ScalerEnvironment())
    [spec] = scaler.metric_specs()
    assert spec.kind == "External"
    assert spec.metric_name == "s1-cron-UTC-09xx1-5-017xx1-5"
    await scaler.close()
