"""Kubernetes Events (events.k8s.io/v1), deduplicated into series and rate limited.

A controller that reconciles every 30 s and finds the same broken trigger each time would
otherwise write an Event every 30 s per object, flooding etcd and burying everything else in
``kubectl describe``. So, as client-go's event recorder does, an Event that repeats one
already sent — same ``regarding`` object, ``reason``, ``note``, ``type`` and ``action`` —
within :data:`SERIES_WINDOW_SECONDS` of its last occurrence does not create a new object: it
bumps the existing Event's ``series`` (``count``, ``lastObservedTime``) with a merge patch.
Creations are limited per regarding object by a token bucket (client-go's spam filter
numbers: a burst of 25, then one per 5 minutes), and the queue to the API server is bounded.

Recording never blocks and never raises: :meth:`EventRecorder.record` updates the in-memory
series and queues the key; one worker task writes to the API server, coalescing repeats that
arrive faster than it writes (a burst of identical Events becomes one create and one patch).
Failures are logged. Events are diagnostics; losing one must not fail a reconcile.

Time comes from the injected ``now`` clock (Event timestamps are wall-clock ``MicroTime``);
the rate limiter uses the loop clock.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from podscaler import clock
from podscaler.api.reasons import EventType, Reason
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import NotFound

__all__ = ["EventRecorder", "format_micro_time", "object_reference"]

log = logging.getLogger(__name__)

REPORTING_CONTROLLER: Final = "podscaler"

#: A repeat within this many seconds of the last occurrence joins the series (client-go: 6 min).
SERIES_WINDOW_SECONDS: Final = 360.0

#: Notes are limited to 1 kB by API validation.
MAX_NOTE_BYTES: Final = 1024

#: How many distinct series are remembered (client-go's LRU size).
MAX_TRACKED_SERIES: Final = 4096

Obj = dict[str, Any]
SeriesKey = tuple[tuple[str, str, str, str, str], str, str, str, str]


def format_micro_time(moment: datetime) -> str:
    """``metav1.MicroTime``: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def object_reference(obj: Mapping[str, Any]) -> Obj:
    """An ObjectReference to ``obj`` (a full object dict or already a reference)."""
    if "metadata" not in obj:
        return {k: v for k, v in obj.items() if v not in (None, "")}
    meta = obj["metadata"] or {}
    ref = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v not in (None, "")}


def _truncate(note: str) -> str:
    encoded = note.encode()
    if len(encoded) <= MAX_NOTE_BYTES:
        return note
    return encoded[: MAX_NOTE_BYTES - 3].decode(errors="ignore") + "..."


@dataclass(slots=True)
class _Series:
    """One deduplicated Event as we know it."""

    body: Obj
    namespace: str
    count: int = 1
    last_observed: datetime = field(default_factory=clock.now)
    created: bool = False
    sent_count: int = 0
    queued: bool = False


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class EventRecorder:
    """Records Events for one operator replica (``reporting_instance``, e.g. the pod name)."""

    def __init__(
        self,
        kube: Kube,
        *,
        now: Callable[[], datetime],
        reporting_instance: str,
        reporting_controller: str = REPORTING_CONTROLLER,
        series_window_seconds: float = SERIES_WINDOW_SECONDS,
        burst: int = 25,
        refill_seconds: float = 300.0,
        max_queued: int = 1000,
    ) -> None:
        self._kube = kube
        self._now = now
        self.reporting_instance = reporting_instance[:128]
        self.reporting_controller = reporting_controller
        self.series_window_seconds = series_window_seconds
        self.burst = burst
        self.refill_seconds = refill_seconds
        self._series: OrderedDict[SeriesKey, _Series] = OrderedDict()
        self._buckets: dict[tuple[str, str, str, str, str], _Bucket] = {}
        self._queue: asyncio.Queue[_Series] = asyncio.Queue(maxsize=max_queued)
        self._worker: asyncio.Task[None] | None = None
        self._names = itertools.count()
        self.dropped = 0
        """Events not written because of the rate limit or a full queue (for metrics)."""

    def record(
        self,
        regarding: Mapping[str, Any],
        reason: Reason | str,
        note: str,
        *,
        type_: EventType | str | None = None,
        action: str = "Reconcile",
        related: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue an Event about ``regarding`` (an object dict or an ObjectReference).

        ``type_`` defaults to the reason's own type for :class:`Reason` members, else Normal.
        Must be called from the event loop; never raises.
        """
        try:
            self._record(regarding, reason, note, type_, action, related)
        except Exception:
            log.exception("could not record event %s", reason)

    def _record(
        self,
        regarding: Mapping[str, Any],
        reason: Reason | str,
        note: str,
        type_: EventType | str | None,
        action: str,
        related: Mapping[str, Any] | None,
    ) -> None:
        if type_ is None:
            type_ = reason.event_type if isinstance(reason, Reason) else EventType.Normal
        ref = object_reference(regarding)
        note = _truncate(note)
        ref_key = (
            str(ref.get("apiVersion", "")),
            str(ref.get("kind", "")),
            str(ref.get("namespace", "")),
            str(ref.get("name", "")),
            str(ref.get("uid", "")),
        )
        key: SeriesKey = (ref_key, str(reason), note, str(type_), action)
        now = self._now()
        series = self._series.get(key)
        if series is not None and (
            (now - series.last_observed).total_seconds() <= self.series_window_seconds
        ):
            series.count += 1
            series.last_observed = now
            self._series.move_to_end(key)
        else:
            if not self._take_token(ref_key):
                self.dropped += 1
                log.debug("event %s about %s dropped by the rate limit", reason, ref_key)
                return
            series = self._new_series(ref, str(reason), note, str(type_), action, related, now)
            self._series[key] = series
            self._series.move_to_end(key)
            while len(self._series) > MAX_TRACKED_SERIES:
                self._series.popitem(last=False)
        if not series.queued:
            try:
                self._queue.put_nowait(series)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning("event queue full; dropping event %s", reason)
                return
            series.queued = True
            self._ensure_worker()

    def _new_series(
        self,
        ref: Obj,
        reason: str,
        note: str,
        type_: str,
        action: str,
        related: Mapping[str, Any] | None,
        now: datetime,
    ) -> _Series:
        namespace = str(ref.get("namespace") or "default")
        stamp = int(now.timestamp() * 1_000_000)
        name = f"{ref.get('name', 'unknown')}.{stamp:x}{next(self._names):x}"
        body: Obj = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "eventTime": format_micro_time(now),
            "reportingController": self.reporting_controller,
            "reportingInstance": self.reporting_instance,
            "action": action[:128],
            "reason": reason[:128],
            "note": note,
            "type": type_,
            "regarding": ref,
        }
        if related is not None:
            body["related"] = object_reference(related)
        return _Series(body=body, namespace=namespace, last_observed=now)

    def _take_token(self, ref_key: tuple[str, str, str, str, str]) -> bool:
        now = asyncio.get_running_loop().time()
        bucket = self._buckets.get(ref_key)
        if bucket is None:
            bucket = self._buckets[ref_key] = _Bucket(float(self.burst), now)
        refill = (now - bucket.updated) / self.refill_seconds if self.refill_seconds > 0 else 1e9
        bucket.tokens = min(float(self.burst), bucket.tokens + refill)
        bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._work(), name="event-recorder"
            )

    async def _work(self) -> None:
        while True:
            series = await self._queue.get()
            series.queued = False
            try:
                await self._send(series)
            except Exception as exc:
                log.warning("could not write event %s: %s", series.body.get("reason"), exc)
            finally:
                self._queue.task_done()

    def _series_body(self, series: _Series) -> Obj:
        return {"count": series.count, "lastObservedTime": format_micro_time(series.last_observed)}

    async def _send(self, series: _Series) -> None:
        collection = f"/apis/events.k8s.io/v1/namespaces/{series.namespace}/events"
        if series.created:
            if series.count == series.sent_count:
                return
            count = series.count
            name = series.body["metadata"]["name"]
            try:
                await self._kube.request(
                    "PATCH",
                    f"{collection}/{name}",
                    body={"series": self._series_body(series)},
                    content_type=MERGE_PATCH,
                )
                series.sent_count = count
                return
            except NotFound:
                # The Event expired (TTL) or was deleted: start over under a fresh name.
                series.created = False
                series.body["metadata"]["name"] = f"{name}.{next(self._names):x}"
        count = series.count
        body = dict(series.body)
        if count > 1:
            body["series"] = self._series_body(series)
        await self._kube.request("POST", collection, body=body)
        series.created = True
        series.sent_count = count

    async def flush(self) -> None:
        """Wait until every queued Event has been written (or failed)."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Write what is queued, then stop the worker."""
        if self._worker is not None:
            try:
                async with asyncio.timeout(5.0):
                    await self.flush()
            except TimeoutError:
                log.warning("event recorder closed with %d events unwritten", self._queue.qsize())
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
