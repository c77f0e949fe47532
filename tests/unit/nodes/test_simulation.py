"""The predicate index gives the same answers as the plain predicates: first fit, the
topology index (affinity, anti-affinity, spread through the label index), placements of
identical pods swept in bulk, forks that do not leak into each other."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.predicates import PodRequirements, TopologyIndex
from podscaler.nodes.simulation import ClusterSim
from tests.unit.nodes.test_predicates import make_node, make_pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
APPS = ("web", "db", "cache")


@st.composite
def clusters(draw: st.DrawFn) -> list[NodeState]:
    count = draw(st.integers(1, 7))
    states = []
    for i in range(count):
        name = f"n{i}"
        taints = (
            [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
            if draw(st.booleans()) and i % 3 == 0
            else None
        )
        node = make_node(
            name,
            cpu=draw(st.sampled_from(["1", "2", "4"])),
            memory="8Gi",
            pods=draw(st.sampled_from(["3", "10", "110"])),
            labels={
                ZONE: draw(st.sampled_from(["a", "b", "c"])),
                "tier": draw(st.sampled_from(["x", "y"])),
            },
            taints=taints,
        )
        pods = [
            make_pod(
                f"{name}-p{j}",
                cpu=draw(st.sampled_from(["100m", "500m"])),
                namespace=draw(st.sampled_from(["default", "other"])),
                labels={"app": draw(st.sampled_from(APPS))},
                **_rules(draw, allow_affinity=False),
            )
            for j in range(draw(st.integers(0, 3)))
        ]
        states.append(NodeState.build(node, pods))
    return states


def _term(draw: st.DrawFn) -> dict[str, Any]:
    term: dict[str, Any] = {
        "labelSelector": {"matchLabels": {"app": draw(st.sampled_from(APPS))}},
        "topologyKey": draw(st.sampled_from([ZONE, HOST])),
    }
    if draw(st.booleans()):
        term["namespaces"] = [draw(st.sampled_from(["default", "other"]))]
    if draw(st.booleans()):
        term["labelSelector"] = {
            "matchExpressions": [
                {
                    "key": "app",
                    "operator": "In",
                    "values": list(draw(st.sets(st.sampled_from(APPS), min_size=1))),
                }
            ]
        }
    return term


def _rules(draw: st.DrawFn, *, allow_affinity: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    affinity: dict[str, Any] = {}
    if draw(st.booleans()):
        affinity["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": [_term(draw)]
        }
    if allow_affinity and draw(st.booleans()):
        affinity["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [_term(draw)]}
    if affinity:
        spec["affinity"] = affinity
    if allow_affinity and draw(st.booleans()):
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": draw(st.integers(1, 2)),
                "topologyKey": draw(st.sampled_from([ZONE, HOST])),
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": draw(st.sampled_from(APPS))}},
                "minDomains": draw(st.integers(1, 3)),
            }
        ]
    if draw(st.booleans()):
        spec["nodeSelector"] = {"tier": draw(st.sampled_from(["x", "y"]))}
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    return spec


@st.composite
def pending(draw: st.DrawFn) -> PodRequirements:
    pod = make_pod(
        "pending",
        cpu=draw(st.sampled_from(["100m", "700m", "3"])),
        namespace=draw(st.sampled_from(["default", "other"])),
        labels={"app": draw(st.sampled_from(APPS))},
        **_rules(draw),
    )
    return PodRequirements.from_pod(pod)


@settings(deadline=None, max_examples=300)
@given(clusters(), pending())
def test_the_index_answers_as_the_plain_predicates(
    states: list[NodeState], req: PodRequirements
) -> None:
    fast = ClusterSim(states)
    plain = ClusterSim(states, indexed=False)
    assert fast.topology(req) == TopologyIndex.build(req, states)
    assert fast.first_fit(req) == plain.first_fit(req)


@settings(deadline=None, max_examples=200)
@given(clusters(), pending(), st.integers(1, 12))
def test_copies_land_where_one_by_one_placement_puts_them(
    states: list[NodeState], req: PodRequirements, count: int
) -> None:
    fast = ClusterSim(states)
    plain = ClusterSim(states, indexed=False)
    placed_fast = fast.place_copies(req, count)
    placed_plain = plain.place_copies(req, count)
    assert placed_fast == placed_plain
    for a, b in zip(fast.states(), plain.states(), strict=True):
        assert a.requested == b.requested
        assert len(a.pods) == len(b.pods)


@settings(deadline=None, max_examples=100)
@given(clusters(), pending())
def test_a_fork_does_not_see_its_parents_later_placements(
    states: list[NodeState], req: PodRequirements
) -> None:
    sim = ClusterSim(states)
    fork = sim.fork()
    before = fork.topology(req)
    index = sim.first_fit(req)
    if index is not None:
        sim.place(req, index, 2)
    assert fork.topology(req) == before
    fork_index = fork.first_fit(req)
    if fork_index is not None:
        fork.place(req, fork_index)
    assert sim.topology(req) == TopologyIndex.build(req, list(sim.states()))


def test_removed_and_replaced_nodes_drop_their_pods_from_the_index() -> None:
    web = make_pod("w", cpu="100m", labels={"app": "web"})
    states = [
        NodeState.build(make_node("n0", labels={ZONE: "a"}), [web]),
        NodeState.build(make_node("n1", labels={ZONE: "b"})),
    ]
    anti = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ZONE}
            ]
        }
    }
    req = PodRequirements.from_pod(make_pod("new", labels={"app": "web"}, affinity=anti))
    sim = ClusterSim(states)
    assert sim.topology(req).anti_affinity == frozenset({(ZONE, "a")})
    sim.replace_node(NodeState.build(make_node("n0", labels={ZONE: "a"})))
    assert sim.topology(req).anti_affinity == frozenset()
    sim.place(req, sim.index_of("n1"))
    assert sim.topology(req).anti_affinity == frozenset({(ZONE, "b")})
    sim.remove_node("n1")
    assert sim.topology(req).anti_affinity == frozenset()


@settings(deadline=None, max_examples=100)
@given(
    clusters(), st.lists(pending(), min_size=1, max_size=3), st.integers(1, 6), st.integers(0, 4)
)
def test_binpacking_estimates_the_same_with_and_without_the_index(
    states: list[NodeState], reqs: list[PodRequirements], count: int, limit: int
) -> None:
    from podscaler.nodes.binpacking import NodeLimiter, estimate
    from podscaler.nodes.pending import PodGroup

    template = NodeState.build(make_node("tpl", cpu="2", pods="8", labels={ZONE: "a", "tier": "x"}))
    groups = [PodGroup(req, tuple(req.pod for _ in range(count))) for req in reqs]
    fast = estimate(groups, template, ClusterSim(states), NodeLimiter.of(limit or None))
    plain = estimate(
        groups, template, ClusterSim(states, indexed=False), NodeLimiter.of(limit or None)
    )
    assert fast == plain
