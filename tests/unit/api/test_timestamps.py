"""Kubernetes timestamps: one lenient reader, one strict writer, and they round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.api.timestamps import format_seconds, format_time, parse_seconds, parse_time


def test_format_converts_to_utc_whole_seconds() -> None:
    moment = datetime(2026, 1, 1, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2026-01-01T10:00:00Z"


def test_a_naive_time_is_utc_both_ways() -> None:
    assert format_time(datetime(2021, 1, 1)) == "2021-01-01T00:00:00Z"
    assert parse_time("2021-01-01T00:00:00") == datetime(2021, 1, 1, tzinfo=UTC)


def test_parse_reads_z_offsets_and_fractions() -> None:
    assert parse_time("2021-10-20T10:48:17Z") == datetime(2021, 10, 20, 10, 48, 17, tzinfo=UTC)
    assert parse_time("2021-10-20T12:48:17+02:00") == datetime(2021, 10, 20, 10, 48, 17, tzinfo=UTC)
    assert parse_seconds("1970-01-01T00:00:01.5Z") == 1.5


def test_absent_or_malformed_is_none_not_an_error() -> None:
    for text in (None, "", "yesterday", 12, "2021-13-01T00:00:00Z"):
        assert parse_time(text) is None
        assert parse_seconds(text) is None


@settings(deadline=None)
@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_format_then_parse_round_trips(seconds: int) -> None:
    text = format_seconds(seconds)
    assert parse_seconds(text) == seconds
    assert format_time(datetime.fromtimestamp(seconds, UTC)) == text


@settings(deadline=None)
@given(st.text(max_size=40))
def test_parse_never_raises(text: str) -> None:
    moment = parse_time(text)
    assert moment is None or moment.tzinfo is not None
