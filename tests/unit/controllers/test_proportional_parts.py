"""The proportional controller's pure parts: CPA's flags, node trimming and per-selector
counting, the status it writes, and what ``podscaler explain`` prints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.selectors import parse_label_selector
from podscaler.cli import main
from podscaler.controllers.proportional import (
    CpaFlags,
    FlagError,
    NodeCounts,
    ProportionalOptions,
    trim_node,
)
from podscaler.controllers.proportional.explain import render_explanation
from podscaler.controllers.proportional.flags import parse_default_params, parse_targets
from podscaler.controllers.proportional.status import Problem, compose_status
from podscaler.engine.cpa import ClusterStatus, LadderParams, decide, parse_config_data

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _node(name: str, cpu: str = "2", ready: bool = True, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "resourceVersion": "1",
            "managedFields": [{"manager": "kubelet"}],
        },
        "spec": {"podCIDR": "10.0.0.0/24"},
        "status": {
            "allocatable": {"cpu": cpu, "memory": "8Gi"},
            "capacity": {"cpu": cpu},
            "images": [{"names": ["a"], "sizeBytes": 1}],
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastHeartbeatTime": "2026-01-05T00:00:00Z",
                },
            ],
        },
    }


# ------------------------------------------------------------------------------- CPA's flags


def test_targets_as_cpa_reads_them() -> None:
    targets = parse_targets("Deployment/coredns, replicaset/x,REPLICATIONCONTROLLER/y")
    assert [(t.api_version, t.kind, t.name) for t in targets] == [
        ("apps/v1", "Deployment", "coredns"),
        ("apps/v1", "ReplicaSet", "x"),
        ("v1", "ReplicationController", "y"),
    ]


@pytest.mark.parametrize("text", ["", "coredns", "statefulset/x", "deployment/", "deployment/a/b"])
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(FlagError, match="--target"):
        parse_targets(text)


def test_default_params_are_remarshalled_per_mode() -> None:
    data = parse_default_params('{"ladder": {"nodesToReplicas": [[1, 1], [2, 2]]}}')
    assert data == {"ladder": '{"nodesToReplicas":[[1,1],[2,2]]}'}
    assert parse_config_data(data) == LadderParams(nodes_to_replicas=((1, 1), (2, 2)))
    with pytest.raises(FlagError):
        parse_default_params("[1]")


def test_flags_need_a_namespace_and_a_configmap() -> None:
    with pytest.raises(FlagError, match="--namespace"):
        CpaFlags.parse(configmap="c", target="deployment/x", namespace=None)
    with pytest.raises(FlagError, match="--nodelabels"):
        CpaFlags.parse(configmap="c", target="deployment/x", namespace="n", nodelabels="a=(")
    flags = CpaFlags.parse(
        configmap="c", target="deployment/x", namespace="kube-system", nodelabels="pool=a"
    )
    assert flags.node_selector.matches({"pool": "a"})
    assert not flags.node_selector.matches({"pool": "b"})


def test_run_options_from_the_command_line() -> None:
    assert ProportionalOptions().cpa_flags(None) is None
    chosen = ProportionalOptions(configmap="dns", target="deployment/coredns")
    flags = chosen.cpa_flags("kube-system")
    assert flags is not None
    assert flags.namespace == "kube-system"
    with pytest.raises(FlagError, match="go together"):
        ProportionalOptions(configmap="dns").cpa_flags("kube-system")
    with pytest.raises(FlagError, match="need --configmap and --target"):
        ProportionalOptions(nodelabels="pool=a").cpa_flags("kube-system")


def test_podscaler_run_takes_my_pod_namespace_as_cpa_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from podscaler.commands.run import GROUPS
    from podscaler.commands.run import settings as run_settings

    monkeypatch.setenv("MY_POD_NAMESPACE", "kube-system")
    values: dict[str, Any] = {}
    for group in GROUPS:
        for option in group.params:
            assert option.name is not None
            values[option.name] = option.default
    values.update(configmap="dns", target="deployment/coredns")
    chosen = run_settings(values)
    assert chosen.cpa_flags is not None
    assert chosen.cpa_flags.namespace == "kube-system"
    assert chosen.proportional_resync_seconds == 10.0


def test_podscaler_run_refuses_a_target_without_configmap() -> None:
    result = CliRunner().invoke(main, ["run", "--target", "deployment/coredns"])
    assert result.exit_code == 2
    assert "--configmap and --target go together" in result.output


# ------------------------------------------------------------------------- nodes and counts


def test_trim_node_keeps_what_counting_reads() -> None:
    trimmed = trim_node(_node("n0", pool="a"))
    assert trimmed["metadata"] == {"name": "n0", "labels": {"pool": "a"}, "resourceVersion": "1"}
    assert trimmed["status"] == {
        "conditions": [{"type": "Ready", "status": "True"}],
        "allocatable": {"cpu": "2"},
    }
    assert trimmed["spec"] == {"unschedulable": False}


def test_counts_per_selector_and_only_what_moved() -> None:
    counts = NodeCounts()
    everything = counts.acquire(parse_label_selector(""))
    assert counts.put(trim_node(_node("a0", "3500m", pool="a"))) == {everything}
    pool_a = counts.acquire(parse_label_selector("pool=a"))
    assert counts.status(pool_a) == ClusterStatus(1, 1, 4, 4)  # filled from what was seen
    assert counts.put(trim_node(_node("b0", "16", pool="b"))) == {everything}
    assert counts.put(trim_node(_node("a1", "3500m", pool="a"))) == {everything, pool_a}
    assert counts.status(pool_a) == ClusterStatus(2, 2, 7, 7)
    assert counts.status(everything) == ClusterStatus(3, 3, 23, 23)
    # A heartbeat (same facts, same labels) moves nothing.
    beat = _node("a1", "3500m", pool="a")
    beat["status"]["conditions"][1]["lastHeartbeatTime"] = "2026-01-05T00:01:00Z"
    assert counts.put(trim_node(beat)) == set()
    # Relabelled out of pool a: only that tally moves.
    assert counts.put(trim_node(_node("a1", "3500m", pool="b"))) == {pool_a}
    assert counts.put(trim_node(_node("a0", "3500m", ready=False, pool="a"))) == {
        everything,
        pool_a,
    }
    assert counts.status(pool_a) == ClusterStatus(1, 0, 4, 0)
    assert counts.remove(trim_node(_node("b0"))) == {everything}
    counts.release(pool_a)
    assert counts.put(trim_node(_node("a9", pool="a"))) == {everything}


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.sampled_from(["a", "b"]),
            st.booleans(),
            st.sampled_from(["500m", "2", "3500m"]),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_counts_equal_a_recount_whatever_the_events(
    events: list[tuple[int, str, bool, str, bool]],
) -> None:
    counts = NodeCounts()
    selectors = {text: counts.acquire(parse_label_selector(text)) for text in ("", "pool=a")}
    nodes: dict[str, dict[str, Any]] = {}
    for index, pool, ready, cpu, delete in events:
        node = trim_node(_node(f"n{index}", cpu, ready, pool=pool))
        if delete:
            counts.remove(node)
            nodes.pop(f"n{index}", None)
        else:
            counts.put(node)
            nodes[f"n{index}"] = node
    for text, key in selectors.items():
        recount = NodeCounts()
        other = recount.acquire(parse_label_selector(text))
        for node in nodes.values():
            recount.put(node)
        assert counts.status(key) == recount.status(other)


# ------------------------------------------------------------------ status and explanation


def _decision() -> Any:
    params = LadderParams(nodes_to_replicas=((1, 1), (2, 2), (3, 3), (4, 3), (5, 5)))
    return decide(params, ClusterStatus(5, 5, 10, 10))


def test_status_carries_counts_decision_and_conditions() -> None:
    status = compose_status(
        previous=None,
        generation=3,
        decision=_decision(),
        source="spec",
        parameters_problem=None,
        target_problem=None,
        last_scale_time=NOW,
        dry_run=False,
        now=NOW,
    )
    assert status["schedulableNodes"] == 5
    assert status["replicas"] == 5
    assert status["lastDecision"]["rule"] == "nodesToReplicas step [5 5]"
    assert status["lastScaleTime"] == "2026-01-05T12:00:00Z"
    assert [c["type"] for c in status["conditions"]] == ["Ready", "ParametersValid"]
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])
    again = compose_status(
        previous=status,
        generation=3,
        decision=_decision(),
        source="spec",
        parameters_problem=Problem("ProportionalParametersInvalid", "spec: bad"),
        target_problem=None,
        last_scale_time=None,
        dry_run=False,
        now=datetime(2026, 1, 5, 13, 0, tzinfo=UTC),
    )
    ready, valid = again["conditions"]
    assert ready["status"] == "True"
    assert ready["lastTransitionTime"] == "2026-01-05T12:00:00Z"  # unchanged status
    assert (valid["status"], valid["reason"]) == ("False", "ProportionalParametersInvalid")
    assert again["lastScaleTime"] == "2026-01-05T12:00:00Z"


def test_no_parameters_is_not_ready() -> None:
    status = compose_status(
        previous=None,
        generation=1,
        decision=None,
        source=None,
        parameters_problem=Problem("ProportionalConfigMapNotFound", "ConfigMap x not found"),
        target_problem=None,
        last_scale_time=None,
        dry_run=False,
        now=NOW,
    )
    assert "replicas" not in status
    assert status["conditions"][0]["reason"] == "NoParameters"


def test_explanation_shows_counts_and_the_step() -> None:
    status = compose_status(
        previous=None,
        generation=1,
        decision=_decision(),
        source="ConfigMap kube-system/dns (resourceVersion 7)",
        parameters_problem=None,
        target_problem=None,
        last_scale_time=None,
        dry_run=False,
        now=NOW,
    )
    obj = {
        "metadata": {"namespace": "kube-system", "name": "dns"},
        "spec": {"scaleTargetRef": {"name": "coredns"}, "configMapRef": {"name": "dns"}},
        "status": status,
    }
    text = render_explanation(obj)
    assert text.splitlines()[:4] == [
        "ProportionalScaler kube-system/dns -> Deployment coredns",
        "mode: ladder (parameters from ConfigMap kube-system/dns (resourceVersion 7))",
        "nodes: 5 schedulable of 5; cores: 10 schedulable of 10",
        "decided: 5 replicas by nodesToReplicas step [5 5]",
    ]
    assert "  from nodes: 5 nodes: nodesToReplicas at step [5 5]: 5" in text
    assert "Ready=True (ScaledProportionally)" in text
