"""Adapters from ``cpa.json`` (cluster-proportional-autoscaler vectors) to
:mod:`podscaler.engine.cpa`.

Parsing vectors go through the ConfigMap-value parsers (Go's JSON rules, upstream's checks).
Replica vectors build the parameters the way upstream's tests build their controllers: directly,
so a field the vector leaves out is Go's zero value and ``min`` is *not* defaulted to 1 (only
the parser does that). ``cluster_status`` vectors become Node objects and are counted both from
scratch and through the incremental tally.

Every adapter refuses an ``expected`` key it does not know, and a parameter name it does not
know, so a vector the engine cannot be checked against fails instead of passing quietly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from podscaler.engine.cpa import (
    ClusterStatus,
    ClusterTally,
    LadderParams,
    LinearParams,
    Params,
    ParamsError,
    cluster_status,
    decide,
    ladder_lookup,
    node_facts,
    parse_ladder,
    parse_linear,
    replicas_from_param,
)
from tests.conformance.registry import Vector, adapter

_LINEAR_KEYS = {
    "coresPerReplica",
    "nodesPerReplica",
    "min",
    "max",
    "preventSinglePointFailure",
    "includeUnschedulableNodes",
}
_LADDER_KEYS = {"coresToReplicas", "nodesToReplicas", "includeUnschedulableNodes"}
_STATUS_KEYS = {"totalNodes", "schedulableNodes", "totalCores", "schedulableCores"}


def _known(vector: Vector, mapping: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    assert not unknown, f"{vector['id']}: {what} has keys this adapter does not know: {unknown}"


def _linear(vector: Vector, raw: Mapping[str, Any]) -> LinearParams:
    _known(vector, raw, _LINEAR_KEYS, "params")
    return LinearParams(
        cores_per_replica=float(raw.get("coresPerReplica", 0)),
        nodes_per_replica=float(raw.get("nodesPerReplica", 0)),
        min=int(raw.get("min", 0)),
        max=int(raw.get("max", 0)),
        prevent_single_point_failure=bool(raw.get("preventSinglePointFailure", False)),
        include_unschedulable_nodes=bool(raw.get("includeUnschedulableNodes", False)),
    )


def _entries(raw: Any) -> tuple[tuple[int, int], ...]:
    return tuple((int(t), int(r)) for t, r in raw or ())


def _ladder(vector: Vector, raw: Mapping[str, Any]) -> LadderParams:
    _known(vector, raw, _LADDER_KEYS, "params")
    return LadderParams(
        cores_to_replicas=_entries(raw.get("coresToReplicas")),
        nodes_to_replicas=_entries(raw.get("nodesToReplicas")),
        include_unschedulable_nodes=bool(raw.get("includeUnschedulableNodes", False)),
    )


def _status(vector: Vector, raw: Mapping[str, Any]) -> ClusterStatus:
    _known(vector, raw, _STATUS_KEYS, "clusterStatus")
    return ClusterStatus(
        total_nodes=int(raw["totalNodes"]),
        schedulable_nodes=int(raw["schedulableNodes"]),
        total_cores=int(raw["totalCores"]),
        schedulable_cores=int(raw["schedulableCores"]),
    )


def _check_parse(vector: Vector, parse: Any, keys: set[str]) -> None:
    expected = vector["expected"]
    _known(vector, expected, {"params", "error"}, "expected")
    text = vector["input"]["json"]
    if expected.get("error"):
        with pytest.raises(ParamsError):
            parse(text)
        return
    params: Params = parse(text)
    got = params.to_json()
    want = expected["params"]
    _known(vector, want, keys, "expected.params")
    for key, value in want.items():
        assert got[key] == value, f"{vector['id']}: {key} = {got[key]!r}, want {value!r}"


@adapter("cpa", "linear_parse")
def linear_parse(vector: Vector) -> None:
    _check_parse(vector, parse_linear, _LINEAR_KEYS)


@adapter("cpa", "ladder_parse")
def ladder_parse(vector: Vector) -> None:
    _check_parse(vector, parse_ladder, _LADDER_KEYS)


def _check_replicas(vector: Vector, got: int) -> None:
    expected = vector["expected"]
    _known(vector, expected, {"replicas"}, "expected")
    assert got == expected["replicas"], f"{vector['id']}: {got} replicas, want {expected}"


@adapter("cpa", "linear_single_param")
def linear_single_param(vector: Vector) -> None:
    inp = vector["input"]
    params = _linear(vector, inp["params"])
    # Upstream's test passes coresPerReplica as the per-replica value; a vector may name it.
    if "perReplica" in inp:
        per = float(inp["perReplica"])
    elif params.cores_per_replica or "nodesPerReplica" not in inp["params"]:
        per = params.cores_per_replica
    else:
        per = params.nodes_per_replica
    got = replicas_from_param(int(inp["resources"]), per, params.min, params.max)
    _check_replicas(vector, got)


@adapter("cpa", "linear")
def linear(vector: Vector) -> None:
    inp = vector["input"]
    decision = decide(_linear(vector, inp["params"]), _status(vector, inp["clusterStatus"]))
    _check_replicas(vector, decision.replicas)


@adapter("cpa", "ladder_lookup")
def ladder_lookup_(vector: Vector) -> None:
    inp = vector["input"]
    _check_replicas(vector, ladder_lookup(int(inp["resources"]), _entries(inp["entries"])))


@adapter("cpa", "ladder")
def ladder(vector: Vector) -> None:
    inp = vector["input"]
    decision = decide(_ladder(vector, inp["params"]), _status(vector, inp["clusterStatus"]))
    _check_replicas(vector, decision.replicas)


def _node(index: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "metadata": {"name": f"node-{index}"},
        "spec": {"unschedulable": bool(raw.get("unschedulable", False))},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if raw.get("ready") else "False"}]
        },
    }
    if raw.get("allocatableCpu") is not None:
        node["status"]["allocatable"] = {"cpu": raw["allocatableCpu"]}
    return node


@adapter("cpa", "cluster_status")
def cluster_status_(vector: Vector) -> None:
    expected = vector["expected"]
    _known(vector, expected, _STATUS_KEYS, "expected")
    facts = [node_facts(_node(i, raw)) for i, raw in enumerate(vector["input"]["nodes"])]
    tally = ClusterTally()
    for index, fact in enumerate(facts):
        tally.put(f"node-{index}", fact)
    for status in (cluster_status(facts), tally.status()):
        got = {
            "totalNodes": status.total_nodes,
            "schedulableNodes": status.schedulable_nodes,
            "totalCores": status.total_cores,
            "schedulableCores": status.schedulable_cores,
        }
        for key, value in expected.items():
            assert got[key] == value, f"{vector['id']}: {key} = {got[key]}, want {value}"
