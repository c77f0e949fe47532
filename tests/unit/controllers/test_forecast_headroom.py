"""Predictive node headroom: a predictive trigger's replicas over ``nodeHorizon`` become
placeholder pods in the node planner's snapshot (copies of one of the workload's pods,
unschedulable), for as long as the ScaledObject keeps offering them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from podscaler.controllers.triggers.headroom import (
    HEADROOM_LABEL,
    HeadroomBoard,
    HeadroomOffer,
    extra_replicas,
    placeholder_owner,
    placeholder_pods,
)
from podscaler.nodes.pending import is_unschedulable
from scalers import ScaleTrigger
from scalers.predictive import PREDICTIVE, PredictiveConfig, node_headroom_details


def _pod(name: str, node: str | None, labels: dict[str, str], namespace: str = "shop") -> Any:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "labels": labels,
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "controller": True}],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "web", "resources": {"requests": {"cpu": "500m"}}}],
        },
        "status": {"phase": "Running" if node else "Pending"},
    }


PODS = [
    _pod("web-b", "node-1", {"app": "web"}),
    _pod("web-a", None, {"app": "web"}),
    _pod("api-a", "node-1", {"app": "api"}),
    _pod("web-other", "node-2", {"app": "web"}, namespace="other"),
]


def _offer(count: int, selector: str = "app=web", until: float = 100.0) -> HeadroomOffer:
    return HeadroomOffer("shop", "web", selector, count, until)


def test_placeholders_copy_a_scheduled_pod_of_the_workload_and_wait_for_a_node() -> None:
    made = placeholder_pods([_offer(2)], PODS)
    assert [p["metadata"]["name"] for p in made] == [
        "web-forecast-headroom-0",
        "web-forecast-headroom-1",
    ]
    for pod in made:
        assert is_unschedulable(pod)
        assert "nodeName" not in pod["spec"]
        assert pod["spec"]["containers"] == PODS[0]["spec"]["containers"]
        assert pod["metadata"]["namespace"] == "shop"
        assert pod["metadata"]["labels"] == {"app": "web", HEADROOM_LABEL: "web"}
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert len({p["metadata"]["uid"] for p in made}) == 2
    assert PODS[0]["spec"]["nodeName"] == "node-1"  # the template is not changed


@pytest.mark.parametrize(
    ("offer", "pods"),
    [
        (_offer(2, selector=""), PODS),  # no selector: not every pod of the namespace
        (_offer(2, selector="app in (web"), PODS),  # unreadable selector
        (_offer(2, selector="app=batch"), PODS),  # no pod yet (scaled to zero)
        (_offer(0), PODS),
    ],
)
def test_no_template_or_no_count_no_placeholder(offer: HeadroomOffer, pods: list[Any]) -> None:
    assert placeholder_pods([offer], pods) == []


def test_placeholders_are_never_templates_of_placeholders() -> None:
    made = placeholder_pods([_offer(1)], PODS)
    only_placeholders = placeholder_pods([_offer(1)], made)
    assert only_placeholders == []


def test_offers_expire_and_a_zero_withdraws() -> None:
    board = HeadroomBoard()
    board.offer(_offer(3, until=100.0))
    board.offer(HeadroomOffer("shop", "api", "app=api", 1, 50.0))
    assert [o.owner for o in board.current(40.0)] == ["api", "web"]
    assert [o.owner for o in board.current(60.0)] == ["web"]
    board.offer(_offer(0))
    assert board.current(60.0) == []


def test_one_board_per_loop() -> None:
    async def board() -> HeadroomBoard:
        return HeadroomBoard.for_running_loop()

    async def twice() -> tuple[HeadroomBoard, HeadroomBoard]:
        return await board(), await board()

    first, again = asyncio.run(twice())
    assert first is again
    assert asyncio.run(board()) is not first


@pytest.mark.parametrize(
    ("details", "current", "most", "extra"),
    [
        ({"nodeForecastReplicas": 9}, 4, 14, 5),
        ({"nodeForecastReplicas": 20}, 4, 14, 10),  # within maxReplicaCount
        ({"nodeForecastReplicas": 3}, 4, 14, 0),  # the forecast is below what runs
        ({"nodeForecastReplicas": True}, 0, 14, 0),
        ({"forecast": 900.0}, 4, 14, 0),  # a trigger without nodeHorizon
        (None, 4, 14, 0),
    ],
)
def test_extra_replicas(
    details: dict[str, Any] | None, current: int, most: int, extra: int
) -> None:
    assert extra_replicas(details, current, most) == extra


def _config(**metadata: str) -> PredictiveConfig:
    given = {
        "serverAddress": "http://prometheus:9090",
        "query": "sum(rate(http_requests_total[1m]))",
        "threshold": "95",
        **metadata,
    }
    return PREDICTIVE.parse(ScaleTrigger(type="predictive", metadata=given), {}, {})


def test_the_trigger_says_how_many_replicas_the_node_horizon_needs() -> None:
    config = _config(nodeHorizon="6m")
    assert config.node_horizon_seconds == 360.0
    assert node_headroom_details(config, 900.0) == {
        "nodeForecast": 900.0,
        "nodeHorizonSeconds": 360.0,
        "nodeForecastReplicas": 10,
    }
    assert node_headroom_details(config, float("nan"))["nodeForecastReplicas"] == 0
    assert _config().node_horizon_seconds == 0.0  # off unless asked for
    given = {"serverAddress": "http://p:9090", "query": "q", "threshold": "95", "nodeHorizon": "6m"}
    trigger = ScaleTrigger.model_validate(
        {"type": "predictive", "metadata": given, "metricType": "Value"}
    )
    value = PREDICTIVE.parse(trigger, {}, {})
    assert node_headroom_details(value, 900.0) == {}  # replicas only for AverageValue


def test_decided_replicas_get_placeholders_until_their_pods_exist() -> None:
    """A scale-up to 5 with 2 live pods: 3 placeholders; as pods appear they give way."""
    decided = HeadroomOffer("shop", "web", "app=web", 0, 100.0, decided=5)
    assert len(placeholder_pods([decided], PODS)) == 3
    more = [*PODS, _pod("web-c", None, {"app": "web"}), _pod("web-d", None, {"app": "web"})]
    assert len(placeholder_pods([decided], more)) == 1
    assert placeholder_pods([decided], PODS, decisions=False) == []
    # the forecast's count and the decision's gap are not added: the larger stands
    both = HeadroomOffer("shop", "web", "app=web", 2, 100.0, decided=5)
    assert len(placeholder_pods([both], PODS)) == 3


def test_placeholder_names_lead_back_to_their_scaled_object() -> None:
    made = placeholder_pods([_offer(1)], PODS)
    assert placeholder_owner(made[0]["metadata"]["name"]) == "web"
    assert placeholder_owner("web-7d9f-abcde") is None
    assert placeholder_owner("web-forecast-headroom-x") is None


def test_the_board_wakes_its_listeners_when_an_offer_asks_for_more() -> None:
    board = HeadroomBoard()
    woken: list[int] = []
    board.listen(lambda: woken.append(1))
    board.offer(HeadroomOffer("shop", "web", "app=web", 0, 100.0, decided=3))
    board.offer(HeadroomOffer("shop", "web", "app=web", 0, 110.0, decided=3))  # the same
    board.offer(HeadroomOffer("shop", "web", "app=web", 0, 120.0, decided=2))  # less
    assert len(woken) == 1
    board.offer(HeadroomOffer("shop", "web", "app=web", 0, 130.0, decided=6))
    assert len(woken) == 2
