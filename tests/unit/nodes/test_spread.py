"""Topology spread (DoNotSchedule) as a Filter predicate: skew against the smallest eligible
domain, nodes missing the key, minDomains, the inclusion policies, and which pods count."""

from __future__ import annotations

from typing import Any

from podscaler.nodes.predicates import filter_nodes
from podscaler.nodes.spread import read_spread_constraints
from tests.unit.nodes.test_predicates import make_node, make_pod


def spread(key: str, skew: int = 1, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": skew,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
            **extra,
        }
    ]


def web(name: str, **spec: Any) -> dict[str, Any]:
    return make_pod(name, labels={"app": "web"}, **spec)


ZONE = "topology.kubernetes.io/zone"


def zonal_nodes() -> list[dict[str, Any]]:
    return [
        make_node("a1", labels={ZONE: "a"}),
        make_node("b1", labels={ZONE: "b"}),
        make_node("c1", labels={ZONE: "c"}),
    ]


def test_skew_is_measured_against_the_emptiest_domain() -> None:
    placed = {"a1": [web("w0")], "b1": [web("w1")]}
    result = filter_nodes(web("w2", topologySpreadConstraints=spread(ZONE)), zonal_nodes(), placed)
    assert result.feasible_names == ("c1",)
    assert result.failures["a1"].plugin == "PodTopologySpread"
    assert result.failures["a1"].reasons == (
        "node(s) didn't match pod topology spread constraints",
    )


def test_a_node_without_the_key_is_rejected_as_missing_the_label() -> None:
    nodes = [*zonal_nodes(), make_node("bare")]
    result = filter_nodes(web("w0", topologySpreadConstraints=spread(ZONE)), nodes, {})
    assert result.failures["bare"].reasons == (
        "node(s) didn't match pod topology spread constraints (missing required label)",
    )
    assert not result.failures["bare"].resolvable


def test_other_namespaces_terminal_and_terminating_pods_do_not_count() -> None:
    gone = web("w-old")
    gone["status"]["phase"] = "Succeeded"
    leaving = web("w-leaving")
    leaving["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    placed = {
        "a1": [make_pod("x", namespace="other", labels={"app": "web"}), gone, leaving],
    }
    result = filter_nodes(web("w0", topologySpreadConstraints=spread(ZONE)), zonal_nodes(), placed)
    assert result.feasible_names == ("a1", "b1", "c1")


def test_min_domains_treats_the_minimum_as_zero_when_domains_are_missing() -> None:
    placed = {"a1": [web("w0")], "b1": [web("w1")], "c1": [web("w2")]}
    plain = web("w3", topologySpreadConstraints=spread(ZONE))
    assert filter_nodes(plain, zonal_nodes(), placed).feasible_names == ("a1", "b1", "c1")
    wants_four = web("w3", topologySpreadConstraints=spread(ZONE, minDomains=4))
    assert filter_nodes(wants_four, zonal_nodes(), placed).feasible_names == ()


def test_domains_of_nodes_the_pod_cannot_select_are_ignored_by_default() -> None:
    nodes = [
        make_node("a1", labels={ZONE: "a", "tier": "web"}),
        make_node("b1", labels={ZONE: "b", "tier": "web"}),
        make_node("c1", labels={ZONE: "c", "tier": "db"}),
    ]
    placed = {"a1": [web("w0")]}
    honour = web("w1", nodeSelector={"tier": "web"}, topologySpreadConstraints=spread(ZONE))
    assert filter_nodes(honour, nodes, placed).feasible_names == ("b1",)
    ignore = web(
        "w1",
        nodeSelector={"tier": "web"},
        topologySpreadConstraints=spread(ZONE, nodeAffinityPolicy="Ignore"),
    )
    # zone c (empty, not selectable) now holds the minimum, so b stays the only fit
    assert filter_nodes(ignore, nodes, placed).feasible_names == ("b1",)
    placed["b1"] = [web("w2")]
    assert filter_nodes(honour, nodes, placed).feasible_names == ("a1", "b1")
    assert filter_nodes(ignore, nodes, placed).feasible_names == ()


def test_schedule_anyway_and_malformed_constraints_are_not_filters() -> None:
    soft = [{**spread(ZONE)[0], "whenUnsatisfiable": "ScheduleAnyway"}]
    broken = [{"maxSkew": 0, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}]
    assert read_spread_constraints(web("w", topologySpreadConstraints=soft)) == ()
    assert read_spread_constraints(web("w", topologySpreadConstraints=broken)) == ()


def test_match_label_keys_narrow_the_selector_to_the_pods_own_values() -> None:
    constraint = spread(ZONE, matchLabelKeys=["rev"])
    placed = {"a1": [make_pod("old", labels={"app": "web", "rev": "1"})]}
    pod = make_pod("new", labels={"app": "web", "rev": "2"}, topologySpreadConstraints=constraint)
    assert filter_nodes(pod, zonal_nodes(), placed).feasible_names == ("a1", "b1", "c1")
