"""engine.scaledjob: how many Jobs a poll creates, Job states and history limits.

The strategy table itself is pinned by the conformance vectors; these tests cover the whole
decision (minimum, activity, combination of triggers, clamping) and the Job bookkeeping.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from podscaler.api.scaledjob import MultipleScalersCalculation, ScalingStrategyName
from podscaler.engine.scaledjob import (
    JobState,
    StrategySettings,
    combine_metrics,
    decide_jobs,
    history_to_delete,
    job_metric,
    job_state,
)


def decide(metrics: list[Any], running: int = 0, pending: int = 0, **kw: Any) -> Any:
    return decide_jobs(
        metrics,
        running=running,
        pending=pending,
        min_replica_count=kw.pop("minimum", 0),
        max_replica_count=kw.pop("maximum", 100),
        settings=kw.pop("settings", StrategySettings()),
        **kw,
    )


def test_a_burst_creates_one_job_per_target_up_to_the_maximum() -> None:
    assert decide([job_metric(7, 1, 100)]).create == 7
    assert decide([job_metric(7, 2, 100)]).create == 4
    assert decide([job_metric(70, 1, 5)], maximum=5).create == 5


def test_running_jobs_count_against_the_queue_by_default() -> None:
    assert decide([job_metric(10, 1, 100)], running=8).create == 2
    assert decide([job_metric(10, 1, 100)], running=12).create == 0


def test_inactive_triggers_create_nothing_and_the_minimum_is_kept() -> None:
    assert decide([job_metric(5, 1, 100, active=False)]).create == 0
    decision = decide([], running=1, minimum=3)
    assert (decision.active, decision.create) == (True, 2)


def test_eager_fills_to_the_maximum() -> None:
    settings = StrategySettings(ScalingStrategyName.EAGER)
    assert decide([job_metric(3, 1, 10)], running=2, maximum=10, settings=settings).create == 3


def test_custom_without_a_percentage_is_the_default_strategy() -> None:
    settings = StrategySettings(ScalingStrategyName.CUSTOM, 1, "not-a-number")
    assert settings.effective()[0] is ScalingStrategyName.DEFAULT


def test_triggers_combine_as_configured() -> None:
    a, b = job_metric(4, 1, 100), job_metric(10, 2, 100)
    assert combine_metrics([a, b], MultipleScalersCalculation.MAX) == b
    assert combine_metrics([a, b], MultipleScalersCalculation.MIN) == a
    total = combine_metrics([a, b], MultipleScalersCalculation.SUM)
    assert total is not None
    assert (total.queue_length, total.max_value) == (14, 9)


@given(
    st.integers(0, 500), st.integers(1, 20), st.integers(0, 50), st.integers(0, 50),
    st.integers(0, 60), st.sampled_from(list(ScalingStrategyName)),
)  # fmt: skip
def test_never_negative_and_never_past_the_maximum(
    queue: int, target: int, running: int, pending: int, maximum: int, name: Any
) -> None:
    decision = decide(
        [job_metric(queue, target, maximum)],
        running=running,
        pending=min(pending, running),
        maximum=maximum,
        settings=StrategySettings(name, 0, "0.5"),
    )
    assert decision.create >= 0
    if name is not ScalingStrategyName.CUSTOM:
        assert running + decision.create <= max(maximum, running)


def job(name: str, condition: str | None = None, at: str = "") -> dict[str, Any]:
    status = {}
    if condition:
        status = {"conditions": [{"type": condition, "status": "True", "lastTransitionTime": at}]}
    return {"metadata": {"name": name}, "status": status}


def test_job_states_follow_conditions_and_pods() -> None:
    assert job_state(job("a", "Complete")) is JobState.SUCCEEDED
    assert job_state(job("a", "Failed")) is JobState.FAILED
    assert job_state(job("a")) is JobState.PENDING
    running = {"status": {"phase": "Running"}}
    assert job_state(job("a"), [running]) is JobState.RUNNING
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert job_state(job("a"), [running], ["Ready"]) is JobState.PENDING
    assert job_state(job("a"), [ready], ["Ready"]) is JobState.RUNNING


def test_history_keeps_the_newest_finished_jobs() -> None:
    jobs = [
        (job(f"ok{i}", "Complete", f"2026-01-01T00:00:0{i}Z"), JobState.SUCCEEDED) for i in range(4)
    ] + [(job("bad", "Failed", "2026-01-01T00:00:00Z"), JobState.FAILED)]
    assert history_to_delete(iter(jobs), 2, 1) == ["ok0", "ok1"]
    assert history_to_delete(jobs, 0, 0) == ["ok0", "ok1", "ok2", "ok3", "bad"]
