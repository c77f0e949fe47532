"""Consumer-group lag and the replica cap of the ``kafka`` trigger, as pure functions.

KEDA's rules (``pkg/scalers/kafka_scaler.go``: ``getLagForPartition``, ``getTotalLag``), kept
apart from the client so the conformance vectors, the unit tests and the explain records all
see the same arithmetic:

* a partition without a committed offset counts as lag 1 under ``offsetResetPolicy: latest``
  (a consumer would start at the end, but something *is* there to be read: scale from zero),
  and as its whole log under ``earliest``; ``scaleToZeroOnInvalidOffset`` makes both 0;
* a partition the latest-offset answer does not mention counts 0 (Azure Event Hubs omits
  empty partitions rather than failing);
* ``excludePersistentLag``: a partition whose committed offset has not moved since the last
  poll is stuck (a poison message, a dead consumer); its lag still activates the trigger but
  adds no replicas, since more consumers cannot drain a partition nobody advances;
* the cap: Kafka gives each partition to at most one consumer of a group, so unless idle
  consumers are allowed the metric is capped at ``partitions * lagThreshold``. The cap tests
  ``totalLag // lagThreshold > upper`` with integer division, exactly as KEDA, so the metric
  can reach ``(upper + 1) * threshold - 1`` and the HPA may ask for one replica more than
  there are partitions (vector ``kafka.total_lag.3``); podscaler keeps that quirk because
  users' ``maxReplicaCount`` settings were tuned against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from podscaler.api.gostrconv import parse_int

__all__ = [
    "INVALID_OFFSET",
    "LagResult",
    "LagSettings",
    "MissingTopicOffsets",
    "OffsetResetPolicy",
    "PartitionLag",
    "PartitionLimitationError",
    "PartitionOffsets",
    "find_factors",
    "lag_by_topic",
    "lag_from_latest_offsets",
    "next_factor",
    "parse_partition_limitation",
    "partition_lag",
    "total_lag",
]

#: What OffsetFetch answers for a partition the group never committed.
INVALID_OFFSET = -1


class OffsetResetPolicy(StrEnum):
    LATEST = "latest"
    EARLIEST = "earliest"


class PartitionLimitationError(ValueError):
    """``partitionLimitation`` is not a list of integers and inclusive ranges."""


def parse_partition_limitation(text: str) -> list[int]:
    """``"1,2,10-12"`` → ``[1, 2, 10, 11, 12]``: comma-separated int32 values and inclusive
    ``a-b`` ranges, whitespace around items allowed, order kept (KEDA's ``ParseInt32List``)."""
    out: list[int] = []
    for raw in text.split(","):
        item = raw.strip()
        bounds = item.split("-")
        if len(bounds) == 1:
            out.append(_int32(bounds[0], text))
        elif len(bounds) == 2:
            start, end = _int32(bounds[0], text), _int32(bounds[1], text)
            if start > end:
                raise PartitionLimitationError(f"range {item!r} ends before it starts")
            out.extend(range(start, end + 1))
        else:
            raise PartitionLimitationError(f"{item!r} is neither a number nor a range a-b")
    return out


def _int32(text: str, whole: str) -> int:
    value = text.strip()
    if parse_int(value, bits=None) is None:
        raise PartitionLimitationError(f"{value!r} in {whole!r} is not an integer")
    number = parse_int(value, bits=32)
    if number is None:
        raise PartitionLimitationError(f"{value!r} is out of the int32 range")
    return number


def find_factors(n: int) -> list[int]:
    """The divisors of ``n`` in increasing order (empty for ``n < 1``)."""
    if n < 1:
        return []
    small: list[int] = []
    large: list[int] = []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i != n // i:
                large.append(n // i)
        i += 1
    return small + large[::-1]


def next_factor(total_lag: int, total_partitions: int, lag_threshold: int) -> int:
    """The fewest consumers that both cover ``total_lag`` at ``lag_threshold`` each and divide
    the partitions evenly (``ensureEvenDistributionOfPartitions``); all partitions otherwise."""
    for factor in find_factors(total_partitions):
        if factor * lag_threshold >= total_lag:
            return factor
    return total_partitions


@dataclass(frozen=True)
class LagSettings:
    """The trigger parameters the lag rules read."""

    lag_threshold: int = 10
    activation_lag_threshold: int = 0
    offset_reset_policy: OffsetResetPolicy = OffsetResetPolicy.LATEST
    scale_to_zero_on_invalid_offset: bool = False
    exclude_persistent_lag: bool = False
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False


@dataclass(frozen=True)
class PartitionOffsets:
    """What the broker said about one partition: the group's committed offset
    (``INVALID_OFFSET`` when none) and the partition's latest offset (``None`` when the
    latest-offset answer omitted it)."""

    topic: str
    partition: int
    committed: int
    latest: int | None


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    lag: int
    lag_with_persistent: int


def partition_lag(
    committed: int,
    latest: int | None,
    settings: LagSettings,
    previous_committed: int | None = None,
) -> tuple[int, int]:
    """``(lag, lag_with_persistent)`` of one partition. Pure.

    ``previous_committed`` is the committed offset seen at the previous poll (only read with
    ``exclude_persistent_lag``).
    """
    if committed == INVALID_OFFSET and settings.scale_to_zero_on_invalid_offset:
        return 0, 0
    if latest is None:
        return 0, 0
    if committed == INVALID_OFFSET:
        if settings.offset_reset_policy is OffsetResetPolicy.LATEST:
            return 1, 1
        return latest, latest
    lag = latest - committed
    if settings.exclude_persistent_lag and previous_committed == committed:
        return 0, lag
    return lag, lag


class MissingTopicOffsets(LookupError):
    """The latest-offset answer has no entry at all for a topic asked about."""


def lag_from_latest_offsets(
    topic: str,
    partition: int,
    committed: int,
    latest_offsets: Mapping[str, Mapping[int, int]],
    settings: LagSettings,
    previous_committed: int | None = None,
) -> tuple[int, int]:
    """:func:`partition_lag` reading the latest offset from a per-topic answer, as KEDA's
    ``getLagForPartition``: a partition without a committed offset under
    ``scaleToZeroOnInvalidOffset`` is 0 before anything else is looked at; then a topic
    missing from the answer is an error (:class:`MissingTopicOffsets`), while a missing
    partition of a present topic counts 0."""
    if committed == INVALID_OFFSET and settings.scale_to_zero_on_invalid_offset:
        return 0, 0
    if topic not in latest_offsets:
        raise MissingTopicOffsets(f"error finding partition offset for topic {topic}")
    latest = latest_offsets[topic].get(partition)
    return partition_lag(committed, latest, settings, previous_committed)


@dataclass(frozen=True)
class LagResult:
    """One poll's outcome: the metric value (after the cap), activity and the working."""

    metric_value: int
    total_lag: int
    total_lag_with_persistent: int
    is_active: bool
    partitions: tuple[PartitionLag, ...]
    partition_count: int
    partitions_with_lag: int
    #: Why the metric differs from the summed lag ("" when it does not): for explanations.
    capped_by: str = ""
    #: Committed offsets to pass as ``previous`` next poll (excludePersistentLag).
    committed: Mapping[tuple[str, int], int] = field(default_factory=dict)


def total_lag(
    offsets: Iterable[PartitionOffsets],
    settings: LagSettings,
    previous: Mapping[tuple[str, int], int] | None = None,
) -> LagResult:
    """Lag summed over the partitions and capped as KEDA's ``getTotalLag``. Pure.

    Partitions whose latest offset is unknown (``latest is None``) are not counted in the
    partition total, as KEDA iterates over the latest-offset answer.
    """
    previous = previous or {}
    lags: list[PartitionLag] = []
    committed_now: dict[tuple[str, int], int] = {}
    count = 0
    for item in offsets:
        key = (item.topic, item.partition)
        lag, with_persistent = partition_lag(
            item.committed, item.latest, settings, previous.get(key)
        )
        if settings.exclude_persistent_lag and item.committed != INVALID_OFFSET:
            committed_now[key] = item.committed
        if item.latest is None:
            continue
        count += 1
        lags.append(PartitionLag(item.topic, item.partition, lag, with_persistent))
    summed = sum(p.lag for p in lags)
    with_persistent = sum(p.lag_with_persistent for p in lags)
    with_lag = sum(1 for p in lags if p.lag > 0)
    metric, capped_by = _capped(summed, count, with_lag, settings)
    return LagResult(
        metric_value=metric,
        total_lag=summed,
        total_lag_with_persistent=with_persistent,
        is_active=with_persistent > settings.activation_lag_threshold,
        partitions=tuple(lags),
        partition_count=count,
        partitions_with_lag=with_lag,
        capped_by=capped_by,
        committed=committed_now,
    )


def _capped(summed: int, partitions: int, with_lag: int, settings: LagSettings) -> tuple[int, str]:
    threshold = settings.lag_threshold
    if settings.allow_idle_consumers and not (
        settings.limit_to_partitions_with_lag or settings.ensure_even_distribution_of_partitions
    ):
        return summed, ""
    value, reason = summed, ""
    upper = partitions
    if settings.ensure_even_distribution_of_partitions:
        value = next_factor(summed, partitions, threshold) * threshold
        reason = "ensureEvenDistributionOfPartitions"
    if settings.limit_to_partitions_with_lag:
        upper = with_lag
    if value // threshold > upper:
        value = upper * threshold
        reason = "partitionsWithLag" if settings.limit_to_partitions_with_lag else "partitions"
    return value, reason if value != summed else ""


def lag_by_topic(result: LagResult) -> dict[str, int]:
    """Summed lag per topic, for explanations and the e2e assertions."""
    out: dict[str, int] = {}
    for item in result.partitions:
        out[item.topic] = out.get(item.topic, 0) + item.lag
    return out
