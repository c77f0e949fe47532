"""CPA's replica rules and counts, by example and by law.

Examples: the reference's worked cases (max(7, 4) = 7; PSPF above max; an unused parameter
contributes 1; a ladder below its first step; a scale-to-zero ladder) and the explanations
``podscaler explain`` shows. Laws, for any parameters and cluster:

- linear and a ladder whose replicas never fall as thresholds rise are monotone: more nodes or
  more cores never give fewer replicas;
- linear stays within [min, max] except that preventSinglePointFailure may lift it to 2;
- a ladder lookup is the step with the largest threshold not above the count (the first step
  below all of them), as a linear scan finds it;
- the incremental tally always equals counting from scratch, and cores are rounded once, after
  summing.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.cpa import (
    ClusterStatus,
    ClusterTally,
    LadderParams,
    LinearParams,
    NodeFacts,
    cluster_status,
    cores_of,
    decide,
    ladder_lookup,
    node_facts,
)


def _status(nodes: int, cores: int) -> ClusterStatus:
    return ClusterStatus(nodes, nodes, cores, cores)


# ------------------------------------------------------------------------------------ examples


def test_linear_takes_the_larger_term() -> None:
    decision = decide(LinearParams(2.0, 1.0, 1, 0), _status(4, 13))
    assert decision.replicas == 7
    assert decision.rule == "coresPerReplica"
    assert decision.lines()[0] == "from cores: ceil(13 cores / 2) = 7"
    assert decision.lines()[2] == "replicas = max(7, 4) = 7 (coresPerReplica)"


def test_single_point_failure_rule_lifts_above_max() -> None:
    decision = decide(LinearParams(0.0, 16.0, 1, 1, True), _status(3, 12))
    assert decision.replicas == 2
    assert decision.rule == "preventSinglePointFailure"
    assert "raised to 2 by preventSinglePointFailure" in decision.lines()[1]


def test_single_point_failure_needs_more_than_one_node() -> None:
    assert decide(LinearParams(0.0, 16.0, 1, 0, True), _status(1, 4)).replicas == 1


def test_an_unused_parameter_contributes_one_not_min() -> None:
    decision = decide(LinearParams(0.0, 10.0, 3, 0), _status(5, 100))
    assert decision.replicas == 3
    assert decision.rule == "min"
    assert decision.lines()[0] == "from cores: coresPerReplica unset: 1"


def test_max_holds_the_ratio() -> None:
    decision = decide(LinearParams(1.0, 0.0, 1, 5), _status(2, 64))
    assert decision.replicas == 5
    assert decision.rule == "max"
    assert decision.lines()[0] == "from cores: ceil(64 cores / 1) = 64, held at max 5: 5"


def test_cordoned_and_not_ready_nodes_are_left_out_unless_asked() -> None:
    status = ClusterStatus(
        total_nodes=10, schedulable_nodes=3, total_cores=40, schedulable_cores=12
    )
    assert decide(LinearParams(0.0, 1.0, 1, 0), status).replicas == 3
    assert decide(LinearParams(0.0, 1.0, 1, 0, False, True), status).replicas == 10


def test_story_seven_ladder() -> None:
    params = LadderParams(nodes_to_replicas=((1, 1), (2, 2), (3, 3), (4, 3), (5, 5)))
    assert [decide(params, _status(n, 2 * n)).replicas for n in range(7)] == [1, 1, 2, 3, 3, 5, 5]
    decision = decide(params, _status(4, 8))
    assert decision.rule == "nodesToReplicas step [4 3]"
    assert decision.lines()[1] == "from nodes: 4 nodes: nodesToReplicas at step [4 3]: 3"
    assert decision.summary() == (
        "ladder: 4 schedulable nodes and 8 schedulable cores give 3 replicas "
        "(nodesToReplicas step [4 3])"
    )


def test_below_the_first_step_gets_the_first_steps_replicas() -> None:
    decision = decide(LadderParams(cores_to_replicas=((4, 2), (8, 3))), _status(0, 0))
    assert decision.replicas == 2
    assert decision.rule == "coresToReplicas step [4 2], belowFirstStep"


def test_a_ladder_can_scale_to_zero_and_an_empty_table_gives_zero() -> None:
    zero = LadderParams(nodes_to_replicas=((0, 0), (6, 1)))
    assert decide(zero, _status(5, 20)).replicas == 0
    assert decide(zero, _status(6, 24)).replicas == 1
    assert decide(LadderParams(), _status(6, 24)).rule == "empty"


def test_ladder_sorts_its_steps_before_looking_up() -> None:
    params = LadderParams(nodes_to_replicas=((5, 5), (1, 1), (3, 3)))
    assert decide(params, _status(4, 0)).replicas == 3


def test_cores_are_summed_then_rounded_once() -> None:
    nodes = [
        {
            "status": {
                "allocatable": {"cpu": "3500m"},
                "conditions": [{"type": "Ready", "status": "True"}],
            }
        }
        for _ in range(3)
    ]
    assert cluster_status(node_facts(n) for n in nodes) == ClusterStatus(3, 3, 11, 11)


def test_node_facts() -> None:
    ready = [{"type": "Ready", "status": "True"}]
    assert node_facts({"status": {"allocatable": {"cpu": "2"}, "conditions": ready}}) == NodeFacts(
        True, 2_000_000_000
    )
    cordoned = {"spec": {"unschedulable": True}, "status": {"conditions": ready}}
    assert node_facts(cordoned) == NodeFacts(False, 0)
    not_ready = {"status": {"allocatable": {"cpu": 4}, "conditions": [{"type": "Ready"}]}}
    assert node_facts(not_ready) == NodeFacts(False, 4_000_000_000)
    garbage = node_facts({"status": {"allocatable": {"cpu": "lots"}, "conditions": ready}})
    assert garbage == NodeFacts(True, 0, cpu_unreadable=True)
    assert node_facts({"status": {"allocatable": {"cpu": "100n"}}}).cpu_nanocores == 100


# ---------------------------------------------------------------------------------- properties

linear_params = st.builds(
    LinearParams,
    cores_per_replica=st.floats(0, 500, allow_nan=False),
    nodes_per_replica=st.floats(0, 50, allow_nan=False),
    min=st.integers(1, 20),
    max=st.integers(0, 200),
    prevent_single_point_failure=st.booleans(),
    include_unschedulable_nodes=st.booleans(),
).filter(lambda p: p.max == 0 or p.max >= p.min)
counts = st.integers(0, 20_000)


@settings(deadline=None)
@given(linear_params, counts, counts, st.integers(0, 50), st.integers(0, 500))
def test_linear_is_monotone_in_nodes_and_cores(
    params: LinearParams, nodes: int, cores: int, more_nodes: int, more_cores: int
) -> None:
    before = decide(params, _status(nodes, cores)).replicas
    assert decide(params, _status(nodes + more_nodes, cores)).replicas >= before
    assert decide(params, _status(nodes, cores + more_cores)).replicas >= before


@settings(deadline=None)
@given(linear_params, counts, counts)
def test_linear_stays_within_its_bounds(params: LinearParams, nodes: int, cores: int) -> None:
    replicas = decide(params, _status(nodes, cores)).replicas
    # An unused parameter contributes 1 even below min; min binds whenever one is used.
    assert replicas >= (params.min if params.cores_per_replica or params.nodes_per_replica else 1)
    if params.max:
        ceiling = max(params.max, 2) if params.prevent_single_point_failure else params.max
        assert replicas <= max(ceiling, params.min)


steps = st.lists(st.tuples(st.integers(0, 5_000), st.integers(0, 300)), max_size=10)


def _reference_lookup(resources: int, entries: list[tuple[int, int]]) -> int:
    if not entries:
        return 0
    ordered = sorted(entries, key=lambda e: e[0])
    result = ordered[0][1]
    for threshold, replicas in ordered:
        if threshold <= resources:
            result = replicas
    return result


@settings(deadline=None)
@given(steps, counts)
def test_ladder_lookup_is_the_largest_threshold_not_above(
    entries: list[tuple[int, int]], resources: int
) -> None:
    ordered = sorted(entries, key=lambda e: e[0])
    assert ladder_lookup(resources, ordered) == _reference_lookup(resources, entries)


def _rising(entries: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    thresholds = sorted(t for t, _ in entries)
    replicas = sorted(r for _, r in entries)
    return tuple(zip(thresholds, replicas, strict=True))


@settings(deadline=None)
@given(steps.map(_rising), steps.map(_rising), counts, counts, st.integers(0, 99), st.booleans())
def test_a_rising_ladder_is_monotone(
    cores: tuple[tuple[int, int], ...],
    nodes: tuple[tuple[int, int], ...],
    n: int,
    c: int,
    more: int,
    include: bool,
) -> None:
    params = LadderParams(cores, nodes, include)
    before = decide(params, _status(n, c)).replicas
    assert decide(params, _status(n + more, c)).replicas >= before
    assert decide(params, _status(n, c + more)).replicas >= before


node_changes = st.lists(
    st.tuples(
        st.integers(0, 15),
        st.none() | st.builds(NodeFacts, st.booleans(), st.integers(0, 64_000_000_000)),
    ),
    max_size=60,
)


@settings(deadline=None)
@given(node_changes)
def test_the_tally_always_equals_counting_from_scratch(
    changes: list[tuple[int, NodeFacts | None]],
) -> None:
    tally = ClusterTally()
    nodes: dict[str, NodeFacts] = {}
    for index, facts in changes:
        name = f"n{index}"
        if facts is None:
            assert tally.remove(name) == (name in nodes)
            nodes.pop(name, None)
        else:
            changed = tally.put(name, facts)
            assert changed == (nodes.get(name) != facts)
            nodes[name] = facts
        assert tally.status() == cluster_status(nodes.values())
        assert len(tally) == len(nodes)


@settings(deadline=None)
@given(st.lists(st.integers(0, 8_000_000_000), max_size=20))
def test_cores_are_rounded_once_after_summing(nanocores: list[int]) -> None:
    total = cores_of(sum(nanocores))
    assert total <= sum(cores_of(n) for n in nanocores)
    assert total * 1_000_000_000 >= sum(nanocores) > (total - 1) * 1_000_000_000 or total == 0
