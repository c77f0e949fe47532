"""The cron trigger: robfig-compatible parsing and next-occurrence (cross-checked against
croniter where both agree by design), KEDA's window rule across midnight, weekends and DST,
metric names, and the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from scalers import ScalerConfigError, ScalerEnvironment, ScaleTrigger
from scalers.cron import CRON, CronConfig, cron_activity
from scalers.cron_schedule import CronSyntaxError, next_after, parse_cron

LA = ZoneInfo("America/Los_Angeles")


def _config(**metadata: str) -> CronConfig:
    base = {"timezone": "Etc/UTC", "start": "0 9 * * *", "end": "0 17 * * *"}
    base.update(metadata)
    base.setdefault("desiredReplicas", "4")
    return CRON.parse(ScaleTrigger(type="cron", metadata=base), {}, {})


def _active(config: CronConfig, now: datetime) -> bool:
    start, end, zone = config.schedules()
    return cron_activity(start, end, zone, config.desired_replicas, now).active


@pytest.mark.parametrize(
    "spec",
    [
        "0 0 * * 7",  # robfig's day of week is 0-6
        "@daily",
        "0 0 0 * * *",  # no seconds field
        "0 0 L * *",
        "-30 * * * *",
        "30 * * -3 *",
        "60 * * * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "1-2-3 * * * *",
        "",
    ],
)
def test_robfig_rejects(spec: str) -> None:
    with pytest.raises(CronSyntaxError):
        parse_cron(spec)


def test_names_ranges_steps_and_tz_prefix_parse() -> None:
    for spec in ("0 0 * * Thu", "0 0 * JAN-mar mon-FRI", "*/15 1-23/2 ? * *", "0,30 * * * *"):
        parse_cron(spec)
    schedule = parse_cron("TZ=Asia/Tokyo 0 9 * * *")
    after = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    assert next_after(schedule, after, UTC) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def test_config_errors_name_the_parameter() -> None:
    cases = {
        "start": {"start": "nope"},
        "end": {"end": "0 9 * * *"},  # same as start
        "desiredReplicas": {"desiredReplicas": "0"},
        "timezone": {"timezone": "Mars/Olympus"},
    }
    for parameter, metadata in cases.items():
        with pytest.raises(ScalerConfigError) as info:
            _config(**metadata)
        assert info.value.parameter == parameter, metadata
    with pytest.raises(ScalerConfigError, match="Utilization"):
        CRON.parse(
            ScaleTrigger(
                type="cron",
                metadata={"timezone": "UTC", "start": "0 1 * * *", "end": "0 2 * * *",
                          "desiredReplicas": "1"},
                metricType="Utilization",
            ),
            {},
            {},
        )  # fmt: skip


def test_next_is_strictly_after_and_minute_aligned() -> None:
    schedule = parse_cron("* * * * *")
    at = datetime(2026, 8, 20, 10, 0, 0, tzinfo=UTC)
    assert next_after(schedule, at, UTC) == at + timedelta(minutes=1)
    assert next_after(schedule, at + timedelta(seconds=59.5), UTC) == at + timedelta(minutes=1)


def test_window_is_start_inclusive_end_exclusive() -> None:
    config = _config()
    day = datetime(2026, 8, 20, tzinfo=UTC)
    assert not _active(config, day.replace(hour=8, minute=59, second=59))
    assert _active(config, day.replace(hour=9))
    assert _active(config, day.replace(hour=16, minute=59, second=59))
    assert not _active(config, day.replace(hour=17))


def test_window_across_midnight() -> None:
    config = _config(start="0 22 * * *", end="0 6 * * *")
    day = datetime(2026, 8, 20, tzinfo=UTC)
    assert _active(config, day.replace(hour=23))
    assert _active(config, day.replace(hour=5, minute=59))
    assert not _active(config, day.replace(hour=6))
    assert not _active(config, day.replace(hour=21, minute=59))


def test_weekend_window_runs_to_the_next_end_whatever_the_day() -> None:
    # Friday 18:00 -> Monday 08:00
    config = _config(start="0 18 * * 5", end="0 8 * * 1")
    assert _active(config, datetime(2026, 8, 22, 12, tzinfo=UTC))  # Saturday
    assert _active(config, datetime(2026, 8, 24, 7, 59, tzinfo=UTC))  # Monday
    assert not _active(config, datetime(2026, 8, 24, 8, tzinfo=UTC))
    assert not _active(config, datetime(2026, 8, 26, 12, tzinfo=UTC))  # Wednesday


def test_dst_spring_forward_skips_a_nonexistent_start_as_keda_does() -> None:
    # 2026-03-08: Los Angeles jumps from 02:00 PST to 03:00 PDT; 02:30 does not exist.
    schedule = parse_cron("30 2 * * *")
    first = next_after(schedule, datetime(2026, 3, 8, 0, 0, tzinfo=LA), LA)
    assert first == datetime(2026, 3, 9, 2, 30, tzinfo=LA)
    config = _config(timezone="America/Los_Angeles", start="30 2 * * *", end="0 4 * * *")
    # KEDA's rule looks only at the next boundaries. Once the start of 8 March is skipped,
    # the next boundary after the 7 March window is the 8 March 04:00 end, so the trigger
    # stays active for that whole day: faithful to KEDA (robfig), and worth knowing.
    assert _active(config, datetime(2026, 3, 7, 12, 0, tzinfo=LA))
    assert _active(config, datetime(2026, 3, 8, 3, 30, tzinfo=LA))
    assert not _active(config, datetime(2026, 3, 8, 4, 0, tzinfo=LA))
    assert not _active(config, datetime(2026, 3, 9, 2, 29, tzinfo=LA))
    assert _active(config, datetime(2026, 3, 9, 2, 30, tzinfo=LA))


def test_dst_fall_back_fires_a_repeated_time_twice() -> None:
    # 2026-11-01: 01:00-02:00 happens twice in Los Angeles (PDT, then PST).
    schedule = parse_cron("30 1 * * *")
    first = next_after(schedule, datetime(2026, 11, 1, 0, 0, tzinfo=LA), LA)
    assert first is not None
    second = next_after(schedule, first, LA)
    assert second is not None
    assert first.utcoffset() == timedelta(hours=-7)
    assert second.utcoffset() == timedelta(hours=-8)
    assert second.timestamp() - first.timestamp() == 3600


def test_hours_keep_absolute_time_across_dst() -> None:
    config = _config(timezone="Europe/Berlin", start="0 1 * * *", end="0 4 * * *")
    # 2026-03-29: Berlin skips 02:00-03:00; at 03:30 CEST the window is still open.
    assert _active(config, datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")))


def test_never_occurring_schedule_uses_keda_comparisons() -> None:
    # 30 February never happens: robfig returns Go's zero time, KEDA's comparison then
    # treats the trigger as active until the next end (start "before" everything).
    start, end = parse_cron("0 0 30 2 *"), parse_cron("0 12 * * *")
    now = datetime(2026, 8, 20, 8, tzinfo=UTC)
    assert next_after(start, now, UTC) is None
    assert cron_activity(start, end, UTC, 3, now).active
    assert not cron_activity(end, start, UTC, 3, now).active


def test_metric_names() -> None:
    config = CRON.parse(
        ScaleTrigger(
            type="cron",
            metadata={"timezone": "Asia/Seoul", "start": "00,15,30,45 * * * *",
                      "end": "05,20,35,50 * * * *", "desiredReplicas": "2"},
        ),
        {},
        {},
        trigger_index=0,
    )  # fmt: skip
    # KEDA at the pinned commit spells "," as "Cm" (older releases kept the comma).
    assert config.metric_name == "s0-cron-Asia-Seoul-00Cm15Cm30Cm45xxxx-05Cm20Cm35Cm50xxxx"
    assert _config(start="0 */2 * * ?").metric_name == "s0-cron-Etc-UTC-0xSl2xxQm-017xxx"


async def test_scaler_uses_the_injected_clock() -> None:
    times = iter([datetime(2026, 8, 20, 10, tzinfo=UTC), datetime(2026, 8, 20, 20, tzinfo=UTC)])
    config = _config()
    scaler = CRON.build(config, ScalerEnvironment(now=lambda: next(times)))
    values, active = await scaler.get_metrics_and_activity(config.metric_name)
    assert active
    assert [v.value for v in values] == [4.0]
    values, active = await scaler.get_metrics_and_activity(config.metric_name)
    assert not active
    assert [v.value for v in values] == [0.0]
    [spec] = scaler.metric_specs()
    assert spec.kind == "External"
    assert spec.target.to_hpa() == {"type": "AverageValue", "averageValue": "1"}
    await scaler.close()


# ------------------------------------------------------------------------------ croniter

FIELD = st.one_of(
    st.just("*"),
    st.integers(0, 5).map(str),
    st.tuples(st.integers(0, 4), st.integers(5, 9)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(2, 5).map(lambda s: f"*/{s}"),
)


@settings(max_examples=300, deadline=None)
@given(
    minute=FIELD,
    hour=FIELD,
    dom=st.sampled_from(["*", "1", "1-10", "15,28"]),
    month=st.sampled_from(["*", "1-6", "2", "*/3"]),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_next_agrees_with_croniter_in_utc(
    minute: str, hour: str, dom: str, month: str, start: datetime
) -> None:
    """With day of week unrestricted and no DST, robfig and croniter mean the same thing."""
    spec = f"{minute} {hour} {dom} {month} *"
    after = start.replace(tzinfo=UTC)
    ours = next_after(parse_cron(spec), after, UTC)
    theirs = croniter(spec, after).get_next(datetime)
    assert ours == theirs, spec
