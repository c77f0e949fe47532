"""The vertical controllers' pure parts: reading pods and statuses, the per-scaler history,
status composition, the eviction rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.controllers.vertical.history import shown_url
from podscaler.controllers.vertical.model import ScalerHistory
from podscaler.controllers.vertical.options import VerticalOptions
from podscaler.controllers.vertical.pods import (
    container_requests,
    container_terminations,
    is_live,
    owner_key,
    running_requests,
    usage_of,
)
from podscaler.controllers.vertical.recommender import _moved, published_targets, trim_pod
from podscaler.controllers.vertical.resize import resize_state
from podscaler.controllers.vertical.status import compose_status
from podscaler.controllers.vertical.updater import RateLimiter, recommended_of
from podscaler.engine.vpa import (
    DAY_SECONDS,
    AggregationSettings,
    ConditionState,
    recommend,
    restore_aggregate,
)
from podscaler.engine.vpa.checkpoints import checkpoint_status

T0 = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
MIB = 2**20

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "uid": "u1",
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "web-5d9c7", "uid": "rs1", "controller": True}
            ],
            "managedFields": [{"big": "x" * 100}],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "x",
                    "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                },
                {"name": "odd", "resources": {"requests": {"cpu": "lots"}}},
            ],
            "volumes": [{"name": "v"}],
        },
        "status": {"phase": "Running", **status},
    }


def test_a_pod_is_read_for_requests_owner_and_ooms() -> None:
    pod = _pod(
        containerStatuses=[
            {
                "name": "app",
                "lastState": {
                    "terminated": {
                        "reason": "OOMKilled",
                        "startedAt": "2026-03-02T00:00:00Z",
                        "finishedAt": "2026-03-02T00:05:00Z",
                    }
                },
            }
        ]
    )
    app, odd = container_requests(pod)
    assert (app.cpu_request_millicores, app.memory_request_millibytes) == (100, 50 * MIB * 1000)
    assert (odd.cpu_request_millicores, odd.memory_request_millibytes) == (None, None)
    assert owner_key(pod) == ("ReplicaSet", "web-5d9c7", "rs1")
    (oom,) = container_terminations(pod)
    assert (oom.reason, oom.finished_seconds - oom.started_seconds) == ("OOMKilled", 300.0)
    assert is_live(pod)
    assert not is_live({**pod, "metadata": {**pod["metadata"], "deletionTimestamp": "x"}})
    trimmed = trim_pod(pod)
    assert "managedFields" not in trimmed["metadata"]
    assert "volumes" not in trimmed["spec"]
    assert container_requests(trimmed) == container_requests(pod)


def test_a_pending_resize_is_read_as_what_runs() -> None:
    """Resized to 587m in the spec, Deferred by the kubelet: the container still runs with
    100m, and the trimmed pod the updater reads keeps both that and the condition."""
    pod = {
        "metadata": {"name": "web-1"},
        "spec": {
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "587m", "memory": "250Mi"}}},
                {"name": "side", "resources": {"requests": {"cpu": "10m"}}},
            ],
            "volumes": [],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True"},
                {
                    "type": "PodResizePending",
                    "status": "True",
                    "reason": "Deferred",
                    "lastTransitionTime": "2026-03-02T00:00:00Z",
                },
            ],
            "containerStatuses": [
                {"name": "app", "resources": {"requests": {"cpu": "100m"}}, "ready": True}
            ],
        },
    }
    trimmed = trim_pod(pod)
    assert [c["type"] for c in trimmed["status"]["conditions"]] == ["PodResizePending"]
    app, side = running_requests(trimmed)
    assert app.cpu_request_millicores == 100  # what runs
    assert app.memory_request_millibytes == 250 * MIB * 1000  # not reported: the spec's
    assert side.cpu_request_millicores == 10
    assert running_requests({"spec": pod["spec"]}) == container_requests(pod)
    state = resize_state(trimmed, datetime(2026, 3, 2, 0, 6, tzinfo=UTC))
    assert (state.status, state.since_seconds) == ("Deferred", 360.0)


def test_published_targets_seed_what_a_restarted_recommender_announced() -> None:
    status = {
        "recommendation": {
            "containerRecommendations": [
                {"containerName": "app", "target": {"cpu": "587m", "memory": "262144k"}},
                {"containerName": "bad", "target": {"cpu": "lots"}},
                {"target": {"cpu": "1"}},
            ]
        }
    }
    assert published_targets(status) == {"app": (587, 262144000)}
    assert published_targets(None) == {}
    assert published_targets({"recommendation": []}) == {}


@settings(deadline=None, max_examples=200)
@given(json_values)
def test_reading_any_json_never_raises(value: Any) -> None:
    """Pods, PodMetrics and statuses come from the API: odd content is skipped, never fatal."""
    document = value if isinstance(value, dict) else {"containers": value}
    usage_of(document)
    usage_of({"containers": [{"name": "app", "usage": value}]})
    recommended_of({"recommendation": {"containerRecommendations": [value]}})
    recommended_of({"recommendation": value})
    recommended_of({"recommendation": {"containerRecommendations": [{"target": value}]}})
    published_targets({"recommendation": value})
    published_targets({"recommendation": {"containerRecommendations": [value]}})
    published_targets(
        {"recommendation": {"containerRecommendations": [{"containerName": "a", "target": value}]}}
    )
    running_requests({"spec": {"containers": [{"name": "a"}]}, "status": document})
    running_requests(
        {"spec": {"containers": [{"name": "a"}]}, "status": {"containerStatuses": value}}
    )
    running_requests(
        {
            "spec": {"containers": [{"name": "a"}]},
            "status": {"containerStatuses": [{"name": "a", "resources": value}]},
        }
    )


def test_usage_of_pod_metrics() -> None:
    at, (app,) = usage_of(
        {
            "timestamp": "2026-03-02T00:01:00Z",
            "containers": [{"name": "app", "usage": {"cpu": "512345678n", "memory": "200Mi"}}],
        }
    )
    assert at == T0 + 60
    assert (app.cpu_millicores, app.memory_bytes) == (513, 200 * MIB)


def test_history_takes_each_sample_once_and_each_oom_once() -> None:
    history = ScalerHistory(AggregationSettings())
    pod = ("shop", "web-1")
    assert history.add_usage(pod, "app", T0, 500, 200 * MIB)
    assert not history.add_usage(pod, "app", T0, 500, 200 * MIB)
    assert history.record_oom(pod, "u1", "app", T0 + 30, 300 * MIB) is not None
    assert history.record_oom(pod, "u1", "app", T0 + 30, 300 * MIB) is None
    assert history.aggregates["app"].total_samples_count == 1
    history.forget_pods([], set())
    assert history.containers == {}
    assert history.ooms_seen == set()
    assert "app" in history.aggregates  # history outlives pods


def test_garbage_collection_drops_expired_and_gone_containers() -> None:
    history = ScalerHistory(AggregationSettings())
    history.add_usage(("shop", "web-1"), "app", T0, 100, MIB)
    history.add_usage(("shop", "web-1"), "sidecar", T0, 10, MIB)
    assert history.collect_garbage(T0 + 60, {"app", "sidecar"}) == []
    assert history.collect_garbage(T0 + 60, {"app"}) == ["sidecar"]
    assert history.collect_garbage(T0 + 7 * DAY_SECONDS, None) == []
    assert history.collect_garbage(T0 + 8 * DAY_SECONDS, None) == ["app"]


def test_a_restored_history_is_not_fed_the_same_sample_twice() -> None:
    first = ScalerHistory(AggregationSettings())
    for minute in range(10):
        first.add_usage(("shop", "web-1"), "app", T0 + 60 * minute, 500, 100 * MIB)
    saved = checkpoint_status(first.aggregates["app"], T0 + 540)
    second = ScalerHistory(AggregationSettings())
    second.restore("app", restore_aggregate(saved, T0 + 540))
    assert not second.add_usage(("shop", "web-1"), "app", T0 + 540, 500, None)
    assert second.add_usage(("shop", "web-2"), "app", T0 + 600, 500, None)
    assert second.aggregates["app"].total_samples_count == 11


def test_status_keeps_transition_times_and_drops_resolved_conditions() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    history = ScalerHistory(AggregationSettings())
    history.add_usage(("shop", "web-1"), "app", T0, 500, 100 * MIB)
    recommendation = recommend(history.aggregates)
    missing = [ConditionState("NoPodsMatched", "True", "NoPodsMatched", "none")]
    first = compose_status(
        previous=None, generation=1, recommendation=recommendation, conditions=missing, now=now
    )
    provided = [ConditionState("RecommendationProvided", "True", "RecommendationProvided", "ok")]
    later = now + timedelta(minutes=5)
    second = compose_status(
        previous=first, generation=1, recommendation=None, conditions=provided, now=later
    )
    assert [c["type"] for c in second["conditions"]] == ["RecommendationProvided"]
    assert second["recommendation"] == first["recommendation"], "kept when none this pass"
    third = compose_status(
        previous=second,
        generation=2,
        recommendation=None,
        conditions=provided,
        now=later + timedelta(minutes=5),
    )
    assert third["conditions"][0]["lastTransitionTime"] == "2026-03-02T00:05:00Z"
    assert third["observedGeneration"] == 2


def test_the_eviction_rate_limit() -> None:
    unlimited = RateLimiter(0.0, 1)
    assert all(unlimited.take(0.0) for _ in range(100))
    limited = RateLimiter(0.5, 2)
    assert [limited.take(0.0) for _ in range(3)] == [True, True, False]
    assert not limited.take(1.0)
    assert limited.take(2.0)


def test_an_announcement_needs_a_ten_percent_move() -> None:
    assert not _moved((100, 1000), (109, 1000))
    assert _moved((100, 1000), (110, 1000))
    assert _moved((100, None), (100, 5))


def test_history_flags_refuse_what_cannot_work_and_hide_the_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cr3t-token\n", encoding="utf-8")
    settings = VerticalOptions(
        prometheus_url="https://prom:9090", prometheus_token_file=str(token)
    ).settings(dry_run=False)
    assert settings.prometheus is not None
    assert settings.prometheus.bearer_token == "s3cr3t-token"
    assert "s3cr3t" not in repr(settings)
    for options, words in (
        (VerticalOptions(prometheus_url="prom:9090"), "http(s) URL"),
        (VerticalOptions(prometheus_token_file=str(token)), "need --vertical-history-prometheus"),
        (
            VerticalOptions(prometheus_url="http://p", prometheus_token_file=str(tmp_path / "x")),
            "cannot read",
        ),
    ):
        with pytest.raises(ValueError, match="--vertical-history") as caught:
            options.settings(dry_run=False)
        assert words in str(caught.value)
    assert VerticalOptions().settings(dry_run=True).prometheus is None


def test_prometheus_credentials_in_a_url_never_reach_a_message() -> None:
    assert shown_url("https://admin:hunter2@prom.example:9090/api") == (
        "https://prom.example:9090/api"
    )
    assert shown_url("http://prom:9090") == "http://prom:9090"
