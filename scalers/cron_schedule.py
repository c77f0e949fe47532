"""Cron expressions exactly as KEDA's cron trigger reads them (robfig/cron v3).

Why not croniter alone: the cron trigger's window rule compares the *next* start and end
occurrences, so every difference in "next occurrence" is a difference in replicas. robfig's
parser (``Minute | Hour | Dom | Month | Dow``) differs from croniter in ways users hit:

- exactly five fields; no descriptors (``@daily``), no seconds, no ``L``/``W``/``#``/``H``;
  day of week is ``0-6`` (``7`` is an error), names are the three-letter English ones;
- day-of-month and day-of-week are ANDed when either was written with ``*`` or ``?`` (a step
  over ``*`` larger than 1, like ``*/2``, does not count as a star), ORed otherwise;
- daylight-saving transitions: hours are walked in absolute time, so a time skipped by a
  spring-forward transition does not fire that day, and a time repeated by a fall-back
  transition fires twice; nonexistent local times are resolved as Go's ``time.Date`` does;
- no occurrence within five years means "never" (Go's zero time).

:func:`next_after` re-implements robfig's ``SpecSchedule.Next`` on top of :mod:`zoneinfo`; the
unit tests cross-check it against croniter wherever the two agree by design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronSchedule", "CronSyntaxError", "load_timezone", "next_after", "parse_cron"]

_STAR = 1 << 63
_ATOI = re.compile(r"[+-]?[0-9]+")
_EPOCH = datetime(1970, 1, 1)


class CronSyntaxError(ValueError):
    """The expression is not one robfig/cron's five-field parser accepts."""


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(
    1,
    12,
    {
        name: number
        for number, name in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
            1,
        )
    },
)
_DOW = _Bounds(
    0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression as bit sets (bit ``n`` set = value ``n`` matches; bit 63 = the
    field was written with a star). ``location`` is set by a ``TZ=``/``CRON_TZ=`` prefix."""

    spec: str
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    location: tzinfo | None = None


def load_timezone(name: str) -> tzinfo:
    """An IANA zone (``UTC`` included), as Go's ``time.LoadLocation`` would find it."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def parse_cron(spec: str) -> CronSchedule:
    """Parse ``spec`` like ``cron.NewParser(Minute|Hour|Dom|Month|Dow).Parse``."""
    text = spec
    if not text:
        raise CronSyntaxError("empty spec string")
    location: tzinfo | None = None
    if text.startswith(("TZ=", "CRON_TZ=")):
        space = text.find(" ")
        if space < 0:
            raise CronSyntaxError(f"provided bad location in {spec!r}")
        zone = text[text.index("=") + 1 : space]
        try:
            location = load_timezone(zone)
        except ValueError as exc:
            raise CronSyntaxError(f"provided bad location {zone}: {exc}") from exc
        text = text[space:].strip()
    if text.startswith("@"):
        raise CronSyntaxError(f"parser does not accept descriptors: {text}")
    fields = text.split()
    if len(fields) != 5:
        raise CronSyntaxError(f"expected exactly 5 fields, found {len(fields)}: {fields}")
    return CronSchedule(
        spec=spec,
        minute=_field(fields[0], _MINUTES),
        hour=_field(fields[1], _HOURS),
        dom=_field(fields[2], _DOM),
        month=_field(fields[3], _MONTHS),
        dow=_field(fields[4], _DOW),
        location=location,
    )


def _field(field: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in field.split(","):
        if expr:  # robfig splits with FieldsFunc: empty items vanish
            bits |= _range(expr, bounds)
    return bits


def _range(expr: str, bounds: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end, extra = bounds.low, bounds.high, _STAR
    else:
        start = _int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds)
        else:
            raise CronSyntaxError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = bounds.high
        if step > 1:
            extra = 0
    else:
        raise CronSyntaxError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise CronSyntaxError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronSyntaxError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronSyntaxError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronSyntaxError(f"step of range should be a positive number: {expr}")
    bits = 0
    for value in range(start, end + 1, step):
        bits |= 1 << value
    return bits | extra


def _int_or_name(text: str, bounds: _Bounds) -> int:
    if bounds.names is not None and text.lower() in bounds.names:
        return bounds.names[text.lower()]
    return _atoi(text)


def _atoi(text: str) -> int:
    if not _ATOI.fullmatch(text) or abs(int(text)) >= 2**63:
        raise CronSyntaxError(f"failed to parse int from {text}")
    value = int(text)
    if value < 0:
        raise CronSyntaxError(f"negative number ({value}) not allowed: {text}")
    return value


# ------------------------------------------------------------------------------------ Next


class _Clock:
    """Go ``time.Time`` arithmetic in one location, over integer Unix seconds."""

    def __init__(self, location: tzinfo) -> None:
        self.location = location

    def fields(self, unix: int) -> datetime:
        return datetime.fromtimestamp(unix, self.location)

    def _offset(self, unix: int) -> int:
        offset = self.fields(unix).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def date(self, year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
        """Go ``time.Date``: overflowing fields normalise; a local time that does not exist
        (spring forward) or exists twice (fall back) resolves as Go resolves it."""
        year += (month - 1) // 12
        month = (month - 1) % 12 + 1
        local = datetime(year, month, 1) + timedelta(
            days=day - 1, hours=hour, minutes=minute, seconds=second
        )
        wall = (local - _EPOCH) // timedelta(seconds=1)
        first = self._offset(wall)
        return wall - self._offset(wall - first)


def _weekday(moment: datetime) -> int:
    return (moment.weekday() + 1) % 7  # Go: Sunday == 0


def _day_matches(schedule: CronSchedule, moment: datetime) -> bool:
    dom = bool((1 << moment.day) & schedule.dom)
    dow = bool((1 << _weekday(moment)) & schedule.dow)
    if schedule.dom & _STAR or schedule.dow & _STAR:
        return dom and dow
    return dom or dow


def next_after(schedule: CronSchedule, after: datetime, location: tzinfo) -> datetime | None:
    """The first activation strictly after ``after`` (robfig ``SpecSchedule.Next``), in the
    schedule's own zone if it has one, else in ``location``; ``None`` when there is none
    within five years."""
    if after.tzinfo is None:
        raise ValueError("next_after needs an aware datetime")
    zone = schedule.location or location
    clock = _Clock(zone)
    # The upcoming whole second (robfig: add 1s minus the sub-second part).
    t = int(after.timestamp() // 1) + 1
    added = False
    year_limit = clock.fields(t).year + 5

    while True:  # each pass is one "goto WRAP"
        now = clock.fields(t)
        if now.year > year_limit:
            return None
        wrapped = False
        while not (1 << now.month) & schedule.month:
            if not added:
                added = True
                t = clock.date(now.year, now.month, 1, 0, 0, 0)
                now = clock.fields(t)
            t = clock.date(now.year, now.month + 1, now.day, now.hour, now.minute, now.second)
            now = clock.fields(t)
            if now.month == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not _day_matches(schedule, now):
            if not added:
                added = True
                t = clock.date(now.year, now.month, now.day, 0, 0, 0)
                now = clock.fields(t)
            t = clock.date(now.year, now.month, now.day + 1, now.hour, now.minute, now.second)
            now = clock.fields(t)
            # Midnight may not exist on a DST day: nudge back onto the day boundary.
            if now.hour != 0:
                t += (24 - now.hour) * 3600 if now.hour > 12 else -now.hour * 3600
                now = clock.fields(t)
            if now.day == 1:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << now.hour) & schedule.hour:
            if not added:
                added = True
                t = clock.date(now.year, now.month, now.day, now.hour, 0, 0)
            t += 3600
            now = clock.fields(t)
            if now.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while not (1 << now.minute) & schedule.minute:
            if not added:
                added = True
                t -= t % 60
            t += 60
            now = clock.fields(t)
            if now.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue
        while now.second != 0:  # the five-field parser only ever fires at second 0
            added = True
            t += 1
            now = clock.fields(t)
            if now.second == 0:
                wrapped = True
                break
        if wrapped:
            continue
        return datetime.fromtimestamp(t, after.tzinfo)
