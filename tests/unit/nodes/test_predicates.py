"""The scheduling predicates: each filter on its own, the order they reject in, the
kube-scheduler message a pending pod shows, and the least-allocated choice among nodes.

Pods and nodes are plain dicts shaped as the API serves them, built by the small helpers
below so each table row shows only what it is about.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podscaler.nodes.nodestate import (
    DEFAULT_CPU_REQUEST_MILLICORES,
    DEFAULT_MEMORY_REQUEST_BYTES,
    NodeState,
    PodSpecError,
    Resources,
    nonzero_requests,
    pod_requests,
)
from podscaler.nodes.predicates import (
    FitResult,
    NodeFailure,
    PodRequirements,
    filter_nodes,
    unschedulable_message,
)
from podscaler.nodes.scoring import least_allocated_score, rank_nodes, select_node

GI = 1024**3
MI = 1024**2


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str | None = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    unschedulable: bool = False,
    ready: str | None = "True",
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "ephemeral-storage": "100Gi", **(extra or {})}
    if pods is not None:
        allocatable["pods"] = pods
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **(labels or {})},
        },
        "spec": {},
        "status": {"allocatable": allocatable, "capacity": dict(allocatable)},
    }
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if ready is not None:
        node["status"]["conditions"] = [{"type": "Ready", "status": ready}]
    return node


def make_pod(
    name: str = "web-1",
    *,
    cpu: str | None = None,
    memory: str | None = None,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: dict[str, Any] = {"name": "app", "image": "app"}
    if requests:
        container["resources"] = {"requests": requests}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [container], **spec},
        "status": {"phase": "Pending"},
    }


def on_nodes(**pods: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return dict(pods)


def only_failure(result: FitResult, node: str) -> NodeFailure:
    assert node in result.failures, f"{node} unexpectedly fits"
    return result.failures[node]


# --- effective requests ---------------------------------------------------------------------


def container(cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests}, **extra}


@pytest.mark.parametrize(
    ("spec", "cpu_millicores", "memory_bytes"),
    [
        pytest.param({"containers": [container("100m", "1Gi")]}, 100, GI, id="one container"),
        pytest.param(
            {"containers": [container("100m", "1Gi"), container("250m", "512Mi")]},
            350,
            GI + 512 * MI,
            id="containers are summed",
        ),
        pytest.param(
            {
                "containers": [container("100m", "1Gi")],
                "initContainers": [container("2", "64Mi"), container("500m", "4Gi")],
            },
            2000,
            4 * GI,
            id="init containers count as their maximum, per resource",
        ),
        pytest.param(
            {
                "containers": [container("1", "1Gi")],
                "initContainers": [
                    container("200m", "100Mi", restartPolicy="Always"),
                    container("1", "1Gi"),
                ],
            },
            1200,
            GI + 100 * MI,
            id="a sidecar adds to the app containers and to later init containers",
        ),
        pytest.param(
            {
                "containers": [container("1", "1Gi")],
                "overhead": {"cpu": "250m", "memory": "120Mi"},
            },
            1250,
            GI + 120 * MI,
            id="overhead is added",
        ),
        pytest.param(
            {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "memory": "2Gi"}}}]},
            1000,
            2 * GI,
            id="limits stand in for missing requests",
        ),
        pytest.param({"containers": [{"name": "c"}]}, 0, 0, id="no requests"),
        pytest.param({"containers": [container("0.0001")]}, 1, 0, id="cpu rounds up to 1m"),
    ],
)
def test_effective_request(spec: dict[str, Any], cpu_millicores: int, memory_bytes: int) -> None:
    requests = pod_requests({"metadata": {"name": "p"}, "spec": spec})
    assert (requests.cpu_millicores, requests.memory_bytes) == (cpu_millicores, memory_bytes)


def test_nonzero_requests_default_only_unset_resources() -> None:
    unset = nonzero_requests(make_pod())
    assert unset.cpu_millicores == DEFAULT_CPU_REQUEST_MILLICORES
    assert unset.memory_bytes == DEFAULT_MEMORY_REQUEST_BYTES
    explicit_zero = nonzero_requests(make_pod(cpu="0", memory="0"))
    assert (explicit_zero.cpu_millicores, explicit_zero.memory_bytes) == (0, 0)


def test_bad_quantity_names_the_pod_and_field() -> None:
    with pytest.raises(PodSpecError, match=r"default/bad: spec.containers\[0\].resources"):
        pod_requests(make_pod("bad", cpu="lots"))


def test_terminal_pods_hold_no_resources() -> None:
    done = make_pod("done", cpu="4")
    done["status"]["phase"] = "Succeeded"
    state = NodeState.build(make_node("n1"), [done])
    assert state.requested == Resources()
    assert state.pods == ()


# --- each predicate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "node", "placed", "plugin", "reasons"),
    [
        pytest.param(
            make_pod(cpu="5"),
            make_node("n1", cpu="4"),
            [],
            "NodeResourcesFit",
            ("Insufficient cpu",),
            id="cpu",
        ),
        pytest.param(
            make_pod(cpu="1"),
            make_node("n1", cpu="4"),
            [make_pod("a", cpu="3500m")],
            "NodeResourcesFit",
            ("Insufficient cpu",),
            id="cpu used by placed pods",
        ),
        pytest.param(
            make_pod(cpu="5", memory="16Gi"),
            make_node("n1"),
            [],
            "NodeResourcesFit",
            ("Insufficient cpu", "Insufficient memory"),
            id="every short resource is reported",
        ),
        pytest.param(
            make_pod(
                containers=[
                    {"name": "c", "resources": {"requests": {"ephemeral-storage": "200Gi"}}}
                ]
            ),
            make_node("n1"),
            [],
            "NodeResourcesFit",
            ("Insufficient ephemeral-storage",),
            id="ephemeral-storage",
        ),
        pytest.param(
            make_pod(containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]),
            make_node("n1"),
            [],
            "NodeResourcesFit",
            ("Insufficient nvidia.com/gpu",),
            id="extended resource the node lacks",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", pods="2"),
            [make_pod("a"), make_pod("b")],
            "NodeResourcesFit",
            ("Too many pods",),
            id="pods count",
        ),
        pytest.param(
            make_pod(nodeSelector={"disk": "ssd"}),
            make_node("n1", labels={"disk": "hdd"}),
            [],
            "NodeAffinity",
            ("node(s) didn't match Pod's node affinity/selector",),
            id="nodeSelector",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
            [],
            "TaintToleration",
            ("node(s) had untolerated taint {dedicated: gpu}",),
            id="NoSchedule taint",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", taints=[{"key": "evict", "effect": "NoExecute"}]),
            [],
            "TaintToleration",
            ("node(s) had untolerated taint {evict: }",),
            id="NoExecute taint without value",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", unschedulable=True),
            [],
            "NodeUnschedulable",
            ("node(s) were unschedulable",),
            id="cordoned",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", ready="False"),
            [],
            "TaintToleration",
            ("node(s) had untolerated taint {node.kubernetes.io/not-ready: }",),
            id="not ready",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", ready="Unknown"),
            [],
            "TaintToleration",
            ("node(s) had untolerated taint {node.kubernetes.io/unreachable: }",),
            id="unreachable",
        ),
        pytest.param(
            make_pod(nodeName="n2"),
            make_node("n1"),
            [],
            "NodeName",
            ("node(s) didn't match the requested node name",),
            id="nodeName",
        ),
        pytest.param(
            make_pod(containers=[{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]),
            make_node("n1"),
            [make_pod("a", containers=[{"name": "c", "ports": [{"hostPort": 80}]}])],
            "NodePorts",
            ("node(s) didn't have free ports for the requested pod ports",),
            id="host port taken",
        ),
    ],
)
def test_predicate_rejects(
    pod: dict[str, Any],
    node: dict[str, Any],
    placed: list[dict[str, Any]],
    plugin: str,
    reasons: tuple[str, ...],
) -> None:
    result = filter_nodes(pod, [node], {"n1": placed})
    failure = only_failure(result, "n1")
    assert (failure.plugin, failure.reasons) == (plugin, reasons)


@pytest.mark.parametrize(
    ("pod", "node", "placed"),
    [
        pytest.param(make_pod(cpu="4", memory="8Gi"), make_node("n1"), [], id="exactly full"),
        pytest.param(
            make_pod(),
            make_node("n1", cpu="1"),
            [make_pod("a", cpu="2")],
            id="a zero request fits even an overcommitted node",
        ),
        pytest.param(
            make_pod(cpu="4"),
            make_node("n1"),
            [make_pod("gone", cpu="4") | {"status": {"phase": "Failed"}}],
            id="terminal pods free their room",
        ),
        pytest.param(
            make_pod(
                tolerations=[
                    {
                        "key": "dedicated",
                        "operator": "Equal",
                        "value": "gpu",
                        "effect": "NoSchedule",
                    }
                ]
            ),
            make_node("n1", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
            [],
            id="Equal toleration",
        ),
        pytest.param(
            make_pod(tolerations=[{"key": "dedicated", "operator": "Exists"}]),
            make_node("n1", taints=[{"key": "dedicated", "value": "x", "effect": "NoExecute"}]),
            [],
            id="Exists toleration, any effect",
        ),
        pytest.param(
            make_pod(tolerations=[{"operator": "Exists"}]),
            make_node(
                "n1", ready="False", taints=[{"key": "a", "value": "b", "effect": "NoSchedule"}]
            ),
            [],
            id="empty key with Exists tolerates everything",
        ),
        pytest.param(
            make_pod(),
            make_node("n1", taints=[{"key": "soft", "value": "x", "effect": "PreferNoSchedule"}]),
            [],
            id="PreferNoSchedule does not filter",
        ),
        pytest.param(
            make_pod(
                tolerations=[
                    {
                        "key": "node.kubernetes.io/unschedulable",
                        "operator": "Exists",
                        "effect": "NoSchedule",
                    }
                ]
            ),
            make_node("n1", unschedulable=True),
            [],
            id="cordon tolerated (DaemonSet pods)",
        ),
        pytest.param(
            make_pod(), make_node("n1", ready=None), [], id="no Ready condition: a template"
        ),
        pytest.param(
            make_pod(containers=[{"name": "c", "ports": [{"hostPort": 80, "protocol": "UDP"}]}]),
            make_node("n1"),
            [make_pod("a", containers=[{"name": "c", "ports": [{"hostPort": 80}]}])],
            id="same host port, other protocol",
        ),
        pytest.param(
            make_pod(containers=[{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]),
            make_node("n1", extra={"nvidia.com/gpu": "1"}),
            [],
            id="extended resource present",
        ),
    ],
)
def test_predicate_admits(
    pod: dict[str, Any], node: dict[str, Any], placed: list[dict[str, Any]]
) -> None:
    result = filter_nodes(pod, [node], {"n1": placed})
    assert result.feasible_names == ("n1",), result.failures


def test_toleration_with_wrong_value_or_effect_does_not_tolerate() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    for toleration in (
        {"key": "dedicated", "operator": "Equal", "value": "cpu"},
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "other", "operator": "Exists"},
    ):
        result = filter_nodes(
            make_pod(tolerations=[toleration]), [make_node("n1", taints=[taint])], {}
        )
        assert not result.schedulable, toleration


def test_first_untolerated_taint_is_the_one_reported() -> None:
    taints = [
        {"key": "soft", "value": "x", "effect": "PreferNoSchedule"},
        {"key": "tolerated", "value": "x", "effect": "NoSchedule"},
        {"key": "first", "value": "1", "effect": "NoExecute"},
        {"key": "second", "value": "2", "effect": "NoSchedule"},
    ]
    pod = make_pod(tolerations=[{"key": "tolerated", "operator": "Exists"}])
    failure = only_failure(filter_nodes(pod, [make_node("n1", taints=taints)], {}), "n1")
    assert failure.reasons == ("node(s) had untolerated taint {first: 1}",)


def test_unschedulable_is_checked_before_taints_and_resources() -> None:
    node = make_node(
        "n1", cpu="1", unschedulable=True, taints=[{"key": "t", "effect": "NoSchedule"}]
    )
    failure = only_failure(filter_nodes(make_pod(cpu="2"), [node], {}), "n1")
    assert failure.plugin == "NodeUnschedulable"


# --- node affinity ---------------------------------------------------------------------------


def with_node_affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return make_pod(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }
    )


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    ("terms", "labels", "fits"),
    [
        ([{"matchExpressions": [expr("zone", "In", "a", "b")]}], {"zone": "b"}, True),
        ([{"matchExpressions": [expr("zone", "In", "a", "b")]}], {"zone": "c"}, False),
        ([{"matchExpressions": [expr("zone", "In", "a")]}], {}, False),
        ([{"matchExpressions": [expr("zone", "NotIn", "a")]}], {"zone": "b"}, True),
        ([{"matchExpressions": [expr("zone", "NotIn", "a")]}], {}, True),
        ([{"matchExpressions": [expr("zone", "NotIn", "a")]}], {"zone": "a"}, False),
        ([{"matchExpressions": [expr("gpu", "Exists")]}], {"gpu": ""}, True),
        ([{"matchExpressions": [expr("gpu", "Exists")]}], {}, False),
        ([{"matchExpressions": [expr("spot", "DoesNotExist")]}], {}, True),
        ([{"matchExpressions": [expr("spot", "DoesNotExist")]}], {"spot": "true"}, False),
        ([{"matchExpressions": [expr("cores", "Gt", "8")]}], {"cores": "16"}, True),
        ([{"matchExpressions": [expr("cores", "Gt", "8")]}], {"cores": "8"}, False),
        ([{"matchExpressions": [expr("cores", "Gt", "8")]}], {"cores": "many"}, False),
        ([{"matchExpressions": [expr("cores", "Lt", "8")]}], {"cores": "4"}, True),
        ([{"matchExpressions": [expr("cores", "Lt", "8")]}], {}, False),
        ([{"matchExpressions": [expr("cores", "Gt", "x")]}], {"cores": "9"}, False),
        ([{"matchExpressions": [expr("zone", "Near", "a")]}], {"zone": "a"}, False),
        # within a term requirements are ANDed ...
        (
            [{"matchExpressions": [expr("zone", "In", "a"), expr("gpu", "Exists")]}],
            {"zone": "a"},
            False,
        ),
        # ... terms are ORed, and an invalid or empty term never matches
        (
            [
                {"matchExpressions": [expr("zone", "In", "a")]},
                {"matchExpressions": [expr("gpu", "Exists")]},
            ],
            {"gpu": "1"},
            True,
        ),
        ([{}], {"zone": "a"}, False),
        ([], {"zone": "a"}, False),
        ([{"matchFields": [expr("metadata.name", "In", "n1")]}], {}, True),
        ([{"matchFields": [expr("metadata.name", "NotIn", "n1")]}], {}, False),
        ([{"matchFields": [expr("metadata.uid", "In", "n1")]}], {}, False),
    ],
)
def test_required_node_affinity(
    terms: list[dict[str, Any]], labels: dict[str, str], fits: bool
) -> None:
    result = filter_nodes(with_node_affinity(*terms), [make_node("n1", labels=labels)], {})
    assert result.schedulable is fits
    if not fits:
        assert only_failure(result, "n1").reasons == (
            "node(s) didn't match Pod's node affinity/selector",
        )


def test_node_selector_and_affinity_must_both_match() -> None:
    pod = with_node_affinity({"matchExpressions": [expr("zone", "In", "a")]})
    pod["spec"]["nodeSelector"] = {"disk": "ssd"}
    nodes = [
        make_node("both", labels={"zone": "a", "disk": "ssd"}),
        make_node("zone-only", labels={"zone": "a"}),
        make_node("disk-only", labels={"disk": "ssd"}),
    ]
    assert filter_nodes(pod, nodes, {}).feasible_names == ("both",)


# --- inter-pod affinity ----------------------------------------------------------------------


def anti_affinity(
    selector: dict[str, Any], key: str = "kubernetes.io/hostname", **term: Any
) -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": selector, "topologyKey": key, **term}
            ]
        }
    }


def test_anti_affinity_on_hostname_spreads_replicas() -> None:
    rule = anti_affinity({"matchLabels": {"app": "web"}})
    nodes = [make_node("n1"), make_node("n2"), make_node("n3")]
    placed = on_nodes(
        n1=[make_pod("web-0", labels={"app": "web"})], n3=[make_pod("db-0", labels={"app": "db"})]
    )
    result = filter_nodes(make_pod("web-1", labels={"app": "web"}, affinity=rule), nodes, placed)
    assert result.feasible_names == ("n2", "n3")
    assert only_failure(result, "n1").reasons == ("node(s) didn't match pod anti-affinity rules",)


def test_anti_affinity_respects_namespaces() -> None:
    rule = anti_affinity({"matchLabels": {"app": "web"}})
    other_ns = make_pod("web-0", namespace="other", labels={"app": "web"})
    pod = make_pod("web-1", labels={"app": "web"}, affinity=rule)
    assert filter_nodes(pod, [make_node("n1")], {"n1": [other_ns]}).schedulable
    listed = anti_affinity({"matchLabels": {"app": "web"}}, namespaces=["other"])
    pod = make_pod("web-1", labels={"app": "web"}, affinity=listed)
    assert not filter_nodes(pod, [make_node("n1")], {"n1": [other_ns]}).schedulable
    everywhere = anti_affinity({"matchLabels": {"app": "web"}}, namespaceSelector={})
    pod = make_pod("web-1", labels={"app": "web"}, affinity=everywhere)
    assert not filter_nodes(pod, [make_node("n1")], {"n1": [other_ns]}).schedulable
    by_label = anti_affinity(
        {"matchLabels": {"app": "web"}}, namespaceSelector={"matchLabels": {"team": "x"}}
    )
    pod = make_pod("web-1", labels={"app": "web"}, affinity=by_label)
    assert filter_nodes(pod, [make_node("n1")], {"n1": [other_ns]}).schedulable
    labelled = {"other": {"team": "x"}}
    result = filter_nodes(pod, [make_node("n1")], {"n1": [other_ns]}, namespace_labels=labelled)
    assert not result.schedulable


def test_anti_affinity_on_zone_closes_every_node_of_the_zone() -> None:
    rule = anti_affinity({"matchExpressions": [expr("app", "In", "web")]}, key="zone")
    nodes = [
        make_node("a1", labels={"zone": "a"}),
        make_node("a2", labels={"zone": "a"}),
        make_node("b1", labels={"zone": "b"}),
        make_node("nozone"),
    ]
    placed = on_nodes(a1=[make_pod("web-0", labels={"app": "web"})])
    result = filter_nodes(make_pod("web-1", labels={"app": "web"}, affinity=rule), nodes, placed)
    assert result.feasible_names == ("b1", "nozone")


def test_existing_pods_anti_affinity_repels_the_incoming_pod() -> None:
    guard = make_pod(
        "guard", labels={"app": "guard"}, affinity=anti_affinity({"matchLabels": {"app": "noisy"}})
    )
    nodes = [make_node("n1"), make_node("n2")]
    result = filter_nodes(make_pod("noisy", labels={"app": "noisy"}), nodes, {"n1": [guard]})
    assert result.feasible_names == ("n2",)
    assert only_failure(result, "n1").reasons == (
        "node(s) didn't satisfy existing pods anti-affinity rules",
    )


def test_nil_label_selector_selects_nothing() -> None:
    rule = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    pod = make_pod("p", labels={"app": "web"}, affinity=rule)
    assert filter_nodes(
        pod, [make_node("n1")], {"n1": [make_pod("q", labels={"app": "web"})]}
    ).schedulable


def test_match_label_keys_narrow_to_the_same_revision() -> None:
    rule = anti_affinity({"matchLabels": {"app": "web"}}, matchLabelKeys=["rev"])
    old = make_pod("web-old", labels={"app": "web", "rev": "1"})
    pod = make_pod("web-new", labels={"app": "web", "rev": "2"}, affinity=rule)
    assert filter_nodes(pod, [make_node("n1")], {"n1": [old]}).schedulable
    same = make_pod("web-same", labels={"app": "web", "rev": "2"})
    assert not filter_nodes(pod, [make_node("n1")], {"n1": [same]}).schedulable


def test_pod_affinity_follows_the_target_and_lets_the_first_one_start() -> None:
    rule = {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}
            ]
        }
    }
    nodes = [make_node("a1", labels={"zone": "a"}), make_node("b1", labels={"zone": "b"})]
    follower = make_pod("api", labels={"app": "api"}, affinity=rule)
    result = filter_nodes(follower, nodes, {"b1": [make_pod("cache-0", labels={"app": "cache"})]})
    assert result.feasible_names == ("b1",)
    assert only_failure(result, "a1").reasons == ("node(s) didn't match pod affinity rules",)
    # no cache anywhere: the follower waits ...
    assert not filter_nodes(follower, nodes, {}).schedulable
    # ... but a pod affine to its own kind may start the group
    first = make_pod("cache-0", labels={"app": "cache"}, affinity=rule)
    assert filter_nodes(first, nodes, {}).feasible_names == ("a1", "b1")
    assert not filter_nodes(first, [make_node("nozone")], {}).schedulable


# --- the message -----------------------------------------------------------------------------


def test_message_for_one_reason() -> None:
    nodes = [make_node(f"n{i}", cpu="1") for i in range(3)]
    result = filter_nodes(make_pod(cpu="2"), nodes, {})
    assert unschedulable_message(result) == "0/3 nodes are available: 3 Insufficient cpu."


def test_message_aggregates_and_sorts_like_kube_scheduler() -> None:
    nodes = [
        make_node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        make_node("small-1", memory="1Gi"),
        make_node("small-2", memory="1Gi"),
        make_node("arm-1", labels={"arch": "arm64"}),
        make_node("arm-2", labels={"arch": "arm64"}),
    ]
    pod = make_pod(memory="2Gi", nodeSelector={"arch": "amd64"})
    for node in nodes[1:3]:
        node["metadata"]["labels"]["arch"] = "amd64"
    result = filter_nodes(pod, nodes, {})
    assert unschedulable_message(result) == (
        "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
        "2 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector."
    )


def test_message_counts_every_reason_of_a_node_and_sorts_counts_as_text() -> None:
    nodes = [make_node(f"n{i:02}", cpu="1", memory="1Gi") for i in range(10)]
    nodes += [make_node("c1", unschedulable=True), make_node("c2", unschedulable=True)]
    result = filter_nodes(make_pod(cpu="2", memory="2Gi"), nodes, {})
    assert unschedulable_message(result) == (
        "0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, "
        "2 node(s) were unschedulable."
    )


def test_message_with_preemption_postscript() -> None:
    nodes = [make_node("n1", cpu="1"), make_node("n2", unschedulable=True)]
    result = filter_nodes(make_pod(cpu="500m"), nodes, {"n1": [make_pod("a", cpu="1")]})
    assert unschedulable_message(result, preemption=True) == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )


def test_message_without_nodes() -> None:
    assert unschedulable_message(filter_nodes(make_pod(), [], {})) == (
        "no nodes available to schedule pods"
    )


def test_request_bigger_than_the_node_is_unresolvable() -> None:
    result = filter_nodes(make_pod(cpu="8"), [make_node("n1", cpu="4")], {})
    assert only_failure(result, "n1").resolvable is False


# --- scoring ---------------------------------------------------------------------------------


def test_least_allocated_prefers_the_emptier_node_and_breaks_ties_by_name() -> None:
    nodes = [make_node("c"), make_node("b"), make_node("a"), make_node("busy")]
    placed = on_nodes(busy=[make_pod("x", cpu="3", memory="6Gi")])
    result = filter_nodes(make_pod(cpu="1", memory="2Gi"), nodes, placed)
    ranked = rank_nodes(result.pod, result.feasible)
    assert [name for _, name in ranked] == ["a", "b", "c", "busy"]
    # (4-1)/4 cpu and (8-2)/8 memory free, plus 3 x 100 for no soft taint
    assert ranked[0][0] == 75 + 300
    assert select_node(result) == "a"


def test_a_soft_taint_the_pod_does_not_tolerate_sends_it_elsewhere() -> None:
    """DeletionCandidateOfClusterAutoscaler (PreferNoSchedule) outweighs a fuller node, as
    kube-scheduler's TaintToleration score (weight 3) does; a toleration cancels it; when
    every node has it the pod still lands."""
    soft = {
        "key": "DeletionCandidateOfClusterAutoscaler",
        "value": "1",
        "effect": "PreferNoSchedule",
    }
    nodes = [make_node("empty", taints=[soft]), make_node("busy")]
    placed = on_nodes(busy=[make_pod("x", cpu="3", memory="6Gi")])
    assert select_node(filter_nodes(make_pod(cpu="500m"), nodes, placed)) == "busy"
    tolerant = make_pod(cpu="500m", tolerations=[{"operator": "Exists"}])
    assert select_node(filter_nodes(tolerant, nodes, placed)) == "empty"
    both = [make_node("a", taints=[soft]), make_node("b", taints=[soft])]
    assert select_node(filter_nodes(make_pod(cpu="500m"), both, {})) == "a"


def test_scoring_counts_request_less_pods_at_the_defaults() -> None:
    state = NodeState.build(make_node("n1", cpu="1", memory="1000Mi"), [make_pod("a")])
    facts = PodRequirements.from_pod(make_pod())
    # 200m of 1000m and 400Mi of 1000Mi in use with the new pod: (80 + 60) / 2
    assert least_allocated_score(facts, state) == 70


def test_select_node_without_feasible_nodes() -> None:
    assert select_node(filter_nodes(make_pod(cpu="8"), [make_node("n1")], {})) is None


# --- properties ------------------------------------------------------------------------------

cpu_millicores = st.integers(min_value=0, max_value=64_000)
memory_mebibytes = st.integers(min_value=0, max_value=256 * 1024)


@given(
    pod_cpu=cpu_millicores,
    pod_memory=memory_mebibytes,
    used_cpu=cpu_millicores,
    used_memory=memory_mebibytes,
    spare_cpu=cpu_millicores,
    spare_memory=memory_mebibytes,
    placed=st.integers(min_value=0, max_value=5),
)
def test_a_roomy_untainted_node_always_fits(
    pod_cpu: int,
    pod_memory: int,
    used_cpu: int,
    used_memory: int,
    spare_cpu: int,
    spare_memory: int,
    placed: int,
) -> None:
    """Whatever is already placed, a ready node with room left and no taints or selectors
    takes the pod, and scoring never goes outside 0..100."""
    neighbours = [
        make_pod(
            f"p{i}",
            cpu=f"{used_cpu // max(placed, 1)}m",
            memory=f"{used_memory // max(placed, 1)}Mi",
        )
        for i in range(placed)
    ]
    node = make_node(
        "n1",
        cpu=f"{pod_cpu + used_cpu + spare_cpu}m",
        memory=f"{pod_memory + used_memory + spare_memory}Mi",
        pods=str(placed + 1),
    )
    result = filter_nodes(
        make_pod(cpu=f"{pod_cpu}m", memory=f"{pod_memory}Mi"), [node], {"n1": neighbours}
    )
    assert result.feasible_names == ("n1",), result.failures
    assert 0 <= least_allocated_score(result.pod, result.feasible[0]) <= 100
