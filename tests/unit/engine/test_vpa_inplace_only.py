"""``updateMode: InPlace``: the pure decision (never evict) and the infeasible-retry rule."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.vertical.explain import render_vertical_explanation
from podscaler.engine.vpa.amounts import Resources
from podscaler.engine.vpa.inplace import (
    InPlaceAction,
    ResizeState,
    in_place_action,
    in_place_only_action,
    lower_than_attempt,
)
from podscaler.engine.vpa.updater import UpdateMode, evicts_pods

STATES = ["Deferred", "InProgress", "Infeasible", "Error", None, "Unknown"]


def test_in_place_only_never_evicts_and_waits_however_long() -> None:
    for status in STATES:
        for since in (0.0, 301.0, 3601.0, 86_400.0):
            assert in_place_only_action(ResizeState(status, since)) is not InPlaceAction.EVICT
    assert in_place_only_action(ResizeState("Deferred", 86_400.0)) is InPlaceAction.WAIT
    assert in_place_only_action(ResizeState("InProgress", 86_400.0)) is InPlaceAction.WAIT
    assert in_place_only_action(ResizeState("Infeasible")) is InPlaceAction.SKIP
    assert in_place_only_action(ResizeState("Error")) is InPlaceAction.RESIZE
    assert in_place_only_action(ResizeState()) is InPlaceAction.RESIZE
    # The same states in InPlaceOrRecreate evict: the modes differ exactly there.
    assert in_place_action(ResizeState("Infeasible")) is InPlaceAction.EVICT
    assert in_place_action(ResizeState("Deferred", 301.0)) is InPlaceAction.EVICT


def test_the_updater_acts_on_in_place_scalers() -> None:
    assert UpdateMode("InPlace") is UpdateMode.IN_PLACE
    assert evicts_pods(UpdateMode.IN_PLACE)


def test_retry_only_when_something_is_lower() -> None:
    attempt = {"app": Resources(2000, 4 << 30)}
    assert not lower_than_attempt(attempt, {"app": Resources(2000, 4 << 30)})
    assert not lower_than_attempt(attempt, {"app": Resources(3000, 8 << 30)})
    assert lower_than_attempt(attempt, {"app": Resources(1999, 8 << 30)})
    assert lower_than_attempt(attempt, {"app": Resources(3000, (4 << 30) - 1)})
    # Another container's values, or a resource the attempt did not set, cannot be compared.
    assert not lower_than_attempt(attempt, {"sidecar": Resources(10, 10)})
    assert not lower_than_attempt({"app": Resources(2000, None)}, {"app": Resources(None, 1)})
    assert not lower_than_attempt({}, {"app": Resources(1, 1)})


amounts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))
resources = st.builds(Resources, amounts, amounts)
names = st.sampled_from(["app", "sidecar", "init"])
containers = st.dictionaries(names, resources, max_size=3)


@settings(deadline=None, max_examples=300)
@given(containers, containers)
def test_retry_rule_matches_its_definition(
    attempt: dict[str, Resources], recommended: dict[str, Resources]
) -> None:
    expected = any(
        before is not None and now is not None and now < before
        for name, tried in attempt.items()
        if name in recommended
        for before, now in (
            (tried.cpu_millicores, recommended[name].cpu_millicores),
            (tried.memory_bytes, recommended[name].memory_bytes),
        )
    )
    assert lower_than_attempt(attempt, recommended) is expected


@settings(deadline=None, max_examples=300)
@given(containers)
def test_the_same_or_more_never_retries(attempt: dict[str, Resources]) -> None:
    assert not lower_than_attempt(attempt, attempt)
    more = {
        name: Resources(
            None if r.cpu_millicores is None else r.cpu_millicores + 1,
            None if r.memory_bytes is None else r.memory_bytes + 1,
        )
        for name, r in attempt.items()
    }
    assert not lower_than_attempt(attempt, more)


@settings(deadline=None, max_examples=300)
@given(containers, names, st.sampled_from(["cpu", "memory"]))
def test_one_value_lower_is_enough(attempt: dict[str, Resources], name: str, resource: str) -> None:
    tried = attempt.get(name)
    if tried is None:
        return
    before = tried.cpu_millicores if resource == "cpu" else tried.memory_bytes
    if before is None or before == 0:
        return
    recommended = dict(attempt)
    recommended[name] = (
        Resources(before - 1, tried.memory_bytes)
        if resource == "cpu"
        else Resources(tried.cpu_millicores, before - 1)
    )
    assert lower_than_attempt(attempt, recommended)


def test_explain_says_what_in_place_means() -> None:
    scaler = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "VerticalScaler",
        "metadata": {"name": "web-vs", "namespace": "default"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "updatePolicy": {"updateMode": "InPlace"},
        },
    }
    lines = render_vertical_explanation(scaler, [], 0.0).splitlines()
    assert lines[0].endswith("(updateMode InPlace)")
    assert lines[1].startswith("updates: resized in place only, never evicted")
    scaler["spec"]["updatePolicy"] = {"updateMode": "InPlaceOrRecreate"}  # type: ignore[index]
    assert "never evicted" not in render_vertical_explanation(scaler, [], 0.0)
