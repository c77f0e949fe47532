"""The ``cron`` trigger: hold ``desiredReplicas`` inside a time window.

KEDA's rule (``pkg/scalers/cron_scaler.go``): take the next occurrence of ``start`` and of
``end`` strictly after *now* (minute resolution); the trigger is active exactly when the next
boundary to occur is an end. So the window is ``[start, end)`` and always runs from a start
to the *next* end, whatever day that falls on: windows crossing midnight or a weekend need
nothing special, and ``start: 0 3 * * 1-5`` / ``end: 0 15 * * 0-4`` keeps Friday's window
open until Sunday 15:00 (KEDA issue #6709) — surprising, but it is what users' existing
manifests do today, so it is what podscaler does.

The decision is the pure :func:`cron_activity`; the scaler only supplies the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from pydantic import ConfigDict

from podscaler.api.metrictarget import MetricTargetType
from scalers.contract import (
    ExternalMetricSpec,
    MetricSpec,
    MetricValue,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerFactoryBase,
    TriggerInput,
    exported_metric_value,
)
from scalers.cron_schedule import (
    CronSchedule,
    CronSyntaxError,
    load_timezone,
    next_after,
    parse_cron,
)
from scalers.metadata import (
    MetadataReader,
    external_metric_target,
    external_target_type,
    metric_name,
    normalize_metric_name,
)

__all__ = ["CRON", "CronConfig", "CronDecision", "CronFactory", "CronScaler", "cron_activity"]


class CronConfig(ScalerConfig):
    """A validated ``cron`` trigger."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    timezone: str
    start: str
    end: str
    desired_replicas: int
    metric_type: MetricTargetType = MetricTargetType.AVERAGE_VALUE

    @property
    def metric_name(self) -> str:
        """``s{i}-cron-{timezone}-{start}-{end}``, KEDA's spelling (see :func:`_compact`)."""
        raw = f"cron-{self.timezone}-{_compact(self.start)}-{_compact(self.end)}"
        return metric_name(self.trigger_index, normalize_metric_name(raw))

    def schedules(self) -> tuple[CronSchedule, CronSchedule, tzinfo]:
        """The parsed start and end schedules and the zone (all validated by ``parse``)."""
        return parse_cron(self.start), parse_cron(self.end), load_timezone(self.timezone)


def _compact(expression: str) -> str:
    """KEDA's ``parseCronTimeFormat``: a cron expression made safe for a metric name."""
    for old, new in ((" ", ""), ("*", "x"), ("/", "Sl"), ("?", "Qm"), (",", "Cm")):
        expression = expression.replace(old, new)
    return expression


@dataclass(frozen=True)
class CronDecision:
    """What the trigger decided at ``now``, with the boundaries that decided it."""

    active: bool
    value: int
    next_start: datetime | None
    next_end: datetime | None


def cron_activity(
    start: CronSchedule,
    end: CronSchedule,
    location: tzinfo,
    desired_replicas: int,
    now: datetime,
) -> CronDecision:
    """The window rule at ``now`` (aware). Pure.

    Written as KEDA compares its ``time.Time`` values, including robfig's "no occurrence in
    five years" zero time (``None`` here), which sorts before every real time.
    """
    local_now = now.astimezone(location)
    next_start = next_after(start, local_now, location)
    next_end = next_after(end, local_now, location)
    s = next_start.timestamp() if next_start is not None else float("-inf")
    e = next_end.timestamp() if next_end is not None else float("-inf")
    t = local_now.timestamp()
    active = (t > s and t < e) if s < e else (t > s or t < e)
    return CronDecision(active, desired_replicas if active else 0, next_start, next_end)


class CronFactory(ScalerFactoryBase[CronConfig]):
    """Parses and builds ``cron`` triggers."""

    trigger_types: tuple[str, ...] = ("cron",)
    config_type = CronConfig

    def parse_input(self, given: TriggerInput) -> CronConfig:
        trigger = given.trigger
        reader = MetadataReader.for_input(given, "cron")
        start = reader.required_string("start")
        end = reader.required_string("end")
        timezone = reader.required_string("timezone")
        desired = reader.integer("desiredReplicas")
        assert desired is not None
        metric_type = external_target_type(trigger.metric_type)
        for name, expression in (("start", start), ("end", end)):
            try:
                parse_cron(expression)
            except CronSyntaxError as exc:
                raise ScalerConfigError(
                    f"error parsing {name} schedule {expression!r}: {exc}", parameter=name
                ) from exc
        if start == end:
            raise ScalerConfigError(
                "start and end can not have exactly same time input", parameter="end"
            )
        if desired == 0:
            raise ScalerConfigError("no desiredReplicas specified", parameter="desiredReplicas")
        try:
            # KEDA only finds a bad zone when it first evaluates; saying so at admission
            # is strictly kinder and changes no valid manifest.
            load_timezone(timezone)
        except ValueError as exc:
            raise ScalerConfigError(str(exc), parameter="timezone") from exc
        return CronConfig(
            **given.base_fields(reader.unexpected(), reader.known()),
            timezone=timezone,
            start=start,
            end=end,
            desired_replicas=desired,
            metric_type=metric_type,
        )

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> CronScaler:
        checked = self.config_of(config)
        return CronScaler(checked, env)


class CronScaler:
    """A built ``cron`` trigger; no I/O, the clock comes from the environment."""

    def __init__(self, config: CronConfig, env: ScalerEnvironment) -> None:
        self.config = config
        self._now = env.now
        self._start, self._end, self._zone = config.schedules()

    def metric_specs(self) -> list[MetricSpec]:
        # KEDA targets 1 replica per unit, so the metric value *is* the replica count.
        target = external_metric_target(self.config.metric_type, 1)
        return [ExternalMetricSpec(metric_name=self.config.metric_name, target=target)]

    def decide(self) -> CronDecision:
        """The window rule at the injected clock's now."""
        return cron_activity(
            self._start, self._end, self._zone, self.config.desired_replicas, self._now()
        )

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        now = self._now()
        decision = cron_activity(
            self._start, self._end, self._zone, self.config.desired_replicas, now
        )
        value = MetricValue(
            metric_name=metric_name,
            value=exported_metric_value(decision.value),
            raw=float(decision.value),
            timestamp=now,
        )
        return [value], decision.active

    async def close(self) -> None:
        return None


CRON = CronFactory()
