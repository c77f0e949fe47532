"""Built-in defaulting (``podscaler.sim.apiserver.defaulting``): the table's values as
kube-apiserver documents them, applied through the store as every writer reaches it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.sim.apiserver import defaulting
from podscaler.sim.apiserver.errors import Invalid
from podscaler.sim.apiserver.resources import BUILTIN, ResourceType
from podscaler.sim.apiserver.store import Store


def _rt(group: str, resource: str) -> ResourceType:
    return next(rt for rt in BUILTIN if rt.group == group and rt.resource == resource)


def _template(image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]},
    }


def test_deployment_gets_replicas_strategy_and_pod_template_defaults() -> None:
    store = Store()
    spec = {"selector": {"matchLabels": {"app": "web"}}, "template": _template()}
    obj = store.create(
        _rt("apps", "deployments"), {"metadata": {"name": "w"}, "spec": spec}, namespace="default"
    ).obj
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert obj["spec"]["revisionHistoryLimit"] == 10
    assert obj["spec"]["progressDeadlineSeconds"] == 600
    pod = obj["spec"]["template"]["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"]) == (
        "Always",
        "ClusterFirst",
        "default-scheduler",
    )
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["securityContext"] == {}
    container = pod["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_recreate_strategy_gets_no_rolling_update_and_sent_values_win() -> None:
    obj: dict[str, Any] = {
        "spec": {"replicas": 0, "strategy": {"type": "Recreate"}, "template": _template()}
    }
    defaulting.apply_defaults(_rt("apps", "deployments"), obj)
    assert obj["spec"]["replicas"] == 0
    assert obj["spec"]["strategy"] == {"type": "Recreate"}


def test_image_pull_policy_follows_the_tag() -> None:
    cases = {
        "nginx": "Always",
        "nginx:latest": "Always",
        "registry:5000/nginx": "Always",
        "registry:5000/nginx:1.2": "IfNotPresent",
        "nginx@sha256:" + "0" * 64: "IfNotPresent",
    }
    for image, policy in cases.items():
        assert defaulting._pull_policy({"image": image}) == policy, image


def test_pod_requests_default_to_limits_but_templates_keep_theirs() -> None:
    resources = {"limits": {"cpu": "1"}}
    pod: dict[str, Any] = {"spec": {"containers": [{"name": "c", "resources": resources}]}}
    defaulting.apply_defaults(_rt("", "pods"), pod)
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1"}
    assert pod["spec"]["enableServiceLinks"] is True
    rs: dict[str, Any] = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}
            }
        }
    }
    defaulting.apply_defaults(_rt("apps", "replicasets"), rs)
    assert "requests" not in rs["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_secret_string_data_merges_into_data_and_type_is_opaque() -> None:
    store = Store()
    body = {"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"a": "y", "b": "z"}}
    obj = store.create(_rt("", "secrets"), body, namespace="default").obj
    assert obj["type"] == "Opaque"
    assert "stringData" not in obj
    assert {k: base64.b64decode(v).decode() for k, v in obj["data"].items()} == {"a": "y", "b": "z"}


def test_job_selector_and_labels_carry_its_uid() -> None:
    store = Store()
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}
    obj = store.create(
        _rt("batch", "jobs"),
        {"metadata": {"name": "j"}, "spec": {"template": template}},
        namespace="default",
    ).obj
    uid = obj["metadata"]["uid"]
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "j",
        "controller-uid": uid,
        "job-name": "j",
    }
    assert (obj["spec"]["completions"], obj["spec"]["parallelism"]) == (1, 1)
    assert obj["spec"]["backoffLimit"] == 6


def test_services_get_distinct_cluster_ips_and_headless_stays_headless() -> None:
    store = Store()
    svc = _rt("", "services")
    ips = {
        store.create(
            svc,
            {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}},
            namespace="default",
        ).obj["spec"]["clusterIP"]
        for i in range(50)
    }
    assert len(ips) == 50
    assert all(ip.startswith("10.") for ip in ips)
    headless = store.create(
        svc, {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}}, namespace="default"
    ).obj["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["clusterIPs"] == ["None"]


def _service(name: str, type_: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"type": type_, "ports": list(ports)}}


def test_node_ports_are_allocated_in_range_without_collisions() -> None:
    store = Store()
    svc = _rt("", "services")
    seen: set[int] = set()
    for i in range(40):
        spec = store.create(
            svc,
            _service(f"s{i}", "NodePort", {"name": "a", "port": 80}, {"name": "b", "port": 81}),
            namespace="default",
        ).obj["spec"]
        for port in spec["ports"]:
            assert 30000 <= port["nodePort"] <= 32767
            seen.add(port["nodePort"])
    assert len(seen) == 80
    lb = store.create(svc, _service("lb", "LoadBalancer", {"port": 80}), namespace="default")
    assert lb.obj["spec"]["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= lb.obj["spec"]["ports"][0]["nodePort"] <= 32767
    plain = store.create(svc, _service("plain", "ClusterIP", {"port": 80}), namespace="default")
    assert "nodePort" not in plain.obj["spec"]["ports"][0]


def test_a_node_port_asked_for_must_be_free_and_in_range() -> None:
    store = Store()
    svc = _rt("", "services")
    store.create(
        svc, _service("a", "NodePort", {"port": 80, "nodePort": 30080}), namespace="default"
    )
    with pytest.raises(Invalid, match="provided port is already allocated"):
        store.create(
            svc, _service("b", "NodePort", {"port": 80, "nodePort": 30080}), namespace="default"
        )
    with pytest.raises(Invalid, match="not in the valid range"):
        store.create(
            svc, _service("c", "NodePort", {"port": 80, "nodePort": 80}), namespace="default"
        )
    store.delete(svc, "default", "a")
    # released with its Service
    store.create(
        svc, _service("b", "NodePort", {"port": 80, "nodePort": 30080}), namespace="default"
    )


def test_an_update_keeps_released_and_drops_node_ports_as_upstream() -> None:
    store = Store()
    svc = _rt("", "services")
    created = store.create(
        svc, _service("a", "NodePort", {"name": "web", "port": 80}), namespace="default"
    )
    allocated = created.obj["spec"]["ports"][0]["nodePort"]
    # sent without its node port: the port of the same name keeps it
    again = created.copy()
    del again["spec"]["ports"][0]["nodePort"]
    kept = store.update(svc, again, namespace="default")
    assert kept.obj["spec"]["ports"][0]["nodePort"] == allocated
    # a switch to ClusterIP drops the node port left unchanged, and frees it
    plain = kept.copy()
    plain["spec"]["type"] = "ClusterIP"
    dropped = store.update(svc, plain, namespace="default")
    assert "nodePort" not in dropped.obj["spec"]["ports"][0]
    store.create(
        svc, _service("b", "NodePort", {"port": 80, "nodePort": allocated}), namespace="default"
    )


def test_hpa_defaults_metrics_and_behavior_rules() -> None:
    store = Store()
    hpa = _rt("autoscaling", "horizontalpodautoscalers")
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    plain = store.create(
        hpa,
        {"metadata": {"name": "a"}, "spec": {"scaleTargetRef": ref, "maxReplicas": 5}},
        namespace="default",
    ).obj["spec"]
    assert plain["minReplicas"] == 1
    assert plain["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "behavior" not in plain
    spec = {
        "scaleTargetRef": ref,
        "maxReplicas": 5,
        "behavior": {
            "scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
        },
    }
    behavior = store.create(
        hpa, {"metadata": {"name": "b"}, "spec": spec}, namespace="default"
    ).obj["spec"]["behavior"]
    assert behavior["scaleDown"] == {
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        "selectPolicy": "Max",
    }
    assert behavior["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def test_namespaces_get_their_name_label() -> None:
    store = Store()
    ns = store.get(_rt("", "namespaces"), "", "kube-system").obj
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "kube-system"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(deadline=None, max_examples=200)
@given(st.dictionaries(st.sampled_from(["spec", "metadata", "stringData", "data"]), json_values))
def test_defaulting_any_body_never_raises_and_is_idempotent(body: dict[str, Any]) -> None:
    for rt in BUILTIN:
        once = copy.deepcopy(body)
        defaulting.apply_defaults(rt, once)
        twice = copy.deepcopy(once)
        defaulting.apply_defaults(rt, twice)
        assert twice == once, rt.kind
