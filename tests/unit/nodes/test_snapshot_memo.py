"""A scan reuses what the last one computed of a node whose objects did not change.

Between two node-autoscaler scans most Node and Pod dicts are the very objects the informers
held before (an informer replaces an object's dict when it changes, never mutates it), so
``Cluster.build`` keeps the node states of the snapshot it was built after — and recomputes a
node as soon as the node or any pod on it is another object.
"""

from __future__ import annotations

import copy
from typing import Any

from podscaler.nodes.cluster import Cluster
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.snapshot import ClusterSnapshot
from tests.unit.nodes.scenario import group, node, pod

OPTIONS = NodeAutoscalerOptions()


def _cluster(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], previous: ClusterSnapshot | None = None
) -> Cluster:
    snap = ClusterSnapshot.build(nodes, pods, previous=previous)
    return Cluster.build(snap, [group("g", nodes)], OPTIONS)


def test_unchanged_objects_keep_their_node_state_and_changed_ones_are_recomputed() -> None:
    nodes = [node("a"), node("b")]
    pods = [pod("p1", node_name="a"), pod("p2", node_name="b"), pod("p3", node_name="b")]
    first = _cluster(nodes, pods)
    second = _cluster(nodes, pods, previous=first.snapshot)
    assert second.states["a"] is first.states["a"]
    assert second.states["b"] is first.states["b"]

    # p2 changed (a new dict at a new resourceVersion, as a watch event brings it): node b is
    # computed again, with p2's new requests; node a is still the same.
    bigger = copy.deepcopy(pods[1])
    bigger["metadata"]["resourceVersion"] = "2"
    bigger["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "2"
    third = _cluster(nodes, [pods[0], bigger, pods[2]], previous=second.snapshot)
    assert third.states["a"] is first.states["a"]
    assert third.states["b"] is not first.states["b"]
    assert third.states["b"].requested.cpu_millicores == 2500
    assert third.states == _cluster(nodes, [pods[0], bigger, pods[2]]).states

    # A pod gone from a node, and a node replaced (its status changed): both recomputed.
    node_b = copy.deepcopy(nodes[1])
    node_b["status"]["allocatable"]["cpu"] = "2"
    fourth = _cluster([nodes[0], node_b], [pods[0], bigger], previous=third.snapshot)
    assert fourth.states["b"].allocatable.cpu_millicores == 2000
    assert len(fourth.states["b"].pods) == 1
    assert fourth.states == _cluster([nodes[0], node_b], [pods[0], bigger]).states


def test_the_memo_keeps_only_what_the_latest_snapshot_used() -> None:
    nodes = [node("a"), node("b")]
    pods = [pod("p1", node_name="a")]
    first = _cluster(nodes, pods)
    second = _cluster(nodes[:1], pods, previous=first.snapshot)
    third = _cluster(nodes, pods, previous=second.snapshot)
    assert third.states["a"] is first.states["a"]
    # b was not in the second scan: its state is not carried over two scans.
    assert third.states["b"] is not first.states["b"]
    assert third.states["b"] == first.states["b"]
