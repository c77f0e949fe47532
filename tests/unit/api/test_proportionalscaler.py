"""ProportionalScaler: the model, its cross-field rules, its CRD, and ``podscaler validate``.

Properties: any spec built from valid parts validates with no problems; any negative number in
linear or a ladder step, or a second parameter source, is a problem naming its field.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.crds import crd_manifests
from podscaler.api.manifests import validate_documents
from podscaler.api.proportionalscaler import (
    ProportionalScaler,
    node_label_selector,
    proportional_scaler_problems,
)


def _ps(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "ProportionalScaler",
        "metadata": {"name": "dns", "namespace": "kube-system"},
        "spec": {"scaleTargetRef": {"name": "coredns"}, **spec},
    }


def _paths(obj: dict[str, Any]) -> list[str]:
    return [p.path for p in proportional_scaler_problems(obj)[1]]


def test_story_seven_ladder_validates() -> None:
    obj = _ps(ladder={"nodesToReplicas": [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]})
    ps, problems = proportional_scaler_problems(obj)
    assert problems == []
    assert ps is not None
    assert ps.spec.scale_target_ref.effective_kind == "Deployment"
    assert ps.spec.ladder is not None
    assert ps.spec.ladder.nodes_to_replicas == [[1, 1], [2, 2], [3, 3], [4, 3], [5, 5]]


def test_exactly_one_parameter_source() -> None:
    assert _paths(_ps()) == ["spec"]
    both = _ps(linear={"nodesPerReplica": 1}, configMapRef={"name": "cm"})
    messages = [str(p) for p in proportional_scaler_problems(both)[1]]
    assert messages == [
        "spec: needs exactly one of linear, ladder or configMapRef, not linear and configMapRef"
    ]


def test_linear_rules_read_as_cpa_says_them() -> None:
    assert _paths(_ps(linear={"min": 2})) == ["spec.linear"]
    problems = proportional_scaler_problems(_ps(linear={"nodesPerReplica": 1, "min": 5, "max": 3}))
    assert [str(p) for p in problems[1]] == [
        "spec.linear.max: max replicas count 3 should be greater than / equal to min replicas "
        "count 5"
    ]
    assert _paths(_ps(linear={"nodesPerReplica": -1})) == ["spec.linear.nodesPerReplica"]


def test_steps_are_pairs_and_unknown_fields_are_refused() -> None:
    assert _paths(_ps(ladder={"nodesToReplicas": [[1, 1, 1]]})) == [
        "spec.ladder.nodesToReplicas[0]"
    ]
    assert _paths(_ps(ladder={"nodesToReplica": [[1, 1]]})) == ["spec.ladder.nodesToReplica"]


def test_node_selector_is_checked_and_parsed() -> None:
    bad = _ps(
        linear={"nodesPerReplica": 1},
        nodeSelector={"matchExpressions": [{"key": "a", "operator": "In"}]},
    )
    assert _paths(bad) == ["spec.nodeSelector"]
    good = _ps(
        linear={"nodesPerReplica": 1},
        nodeSelector={
            "matchLabels": {"pool": "general"},
            "matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}],
        },
    )
    ps = ProportionalScaler.model_validate(good)
    selector = node_label_selector(ps.spec)
    assert selector.matches({"pool": "general"})
    assert not selector.matches({"pool": "general", "spot": "true"})
    assert not selector.matches({"pool": "batch"})


def test_crd_has_printer_columns_and_short_name() -> None:
    crd = next(c for c in crd_manifests() if c["spec"]["names"]["kind"] == "ProportionalScaler")
    assert crd["spec"]["names"]["shortNames"] == ["ps"]
    columns = [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns[:6] == ["Target", "Mode", "Nodes", "Cores", "Replicas", "Ready"]


def test_podscaler_validate_knows_the_kind() -> None:
    text = """
apiVersion: autoscaling.podscaler.io/v1alpha1
kind: ProportionalScaler
metadata: {name: dns}
spec:
  scaleTargetRef: {name: coredns}
  linear: {coresPerReplica: 256, nodesPerReplica: 16, min: 4, max: 2}
"""
    findings = validate_documents(text, "dns.yaml")
    assert [(f.severity, f.path) for f in findings] == [("error", "spec.linear.max")]
    assert findings[0].line == 7


steps = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 500)).map(list), max_size=8)
linear_specs = st.fixed_dictionaries(
    {"nodesPerReplica": st.integers(1, 100)},
    optional={
        "coresPerReplica": st.floats(0, 1000, allow_nan=False),
        "min": st.integers(0, 10),
        "max": st.integers(10, 100) | st.just(0),
        "preventSinglePointFailure": st.booleans(),
        "includeUnschedulableNodes": st.booleans(),
    },
)
ladder_specs = st.fixed_dictionaries(
    {},
    optional={
        "coresToReplicas": steps,
        "nodesToReplicas": steps,
        "includeUnschedulableNodes": st.booleans(),
    },
)
sources = st.one_of(
    linear_specs.map(lambda s: {"linear": s}),
    ladder_specs.map(lambda s: {"ladder": s}),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).map(
        lambda n: {"configMapRef": {"name": n}}
    ),
)


@settings(deadline=None)
@given(sources)
def test_any_spec_of_valid_parts_validates(source: dict[str, Any]) -> None:
    assert proportional_scaler_problems(_ps(**source))[1] == []


@settings(deadline=None)
@given(
    st.sampled_from(["coresPerReplica", "nodesPerReplica", "min", "max"]),
    st.integers(-1000, -1),
)
def test_a_negative_linear_field_names_itself(field: str, value: int) -> None:
    spec = {"nodesPerReplica": 1, field: value}
    assert f"spec.linear.{field}" in _paths(_ps(linear=spec))


@settings(deadline=None)
@given(steps.filter(bool), st.data())
def test_a_negative_step_value_names_its_step(rows: list[list[int]], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(0, 1))
    rows[index][column] = -data.draw(st.integers(1, 100))
    paths = _paths(_ps(ladder={"coresToReplicas": rows}))
    assert paths == [f"spec.ladder.coresToReplicas[{index}][{column}]"]


@settings(deadline=None)
@given(
    st.lists(
        st.sampled_from(["linear", "ladder", "configMapRef"]), min_size=2, max_size=3, unique=True
    )
)
def test_two_sources_are_one_problem(names: list[str]) -> None:
    values = {"linear": {"nodesPerReplica": 1}, "ladder": {}, "configMapRef": {"name": "cm"}}
    assert _paths(_ps(**{n: values[n] for n in names})) == ["spec"]
