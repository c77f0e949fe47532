"""Status writes off the scale loop: per object, coalesced, bounded, with a short timeout.

Why: an evaluation used to await its status PATCH. On a fresh cluster every object writes its
first status in the first polling interval (10,000 writes in 30 s at 10,000 objects); when the
operator is short of CPU (a busy node, a full garbage collection) the responses are read late,
in-flight requests pile up behind the connection pool, and each one that passes the 30 s
request timeout held its object's loop for those 30 s (bench/RESULTS.md, issue 4: 12,836
timed-out PATCHes, a third of the evaluations lost).

Now an evaluation hands the status it wants to :meth:`StatusWriter.submit` and goes on. A few
workers (``concurrency``) write; each object has at most one write queued or in flight, and a
newer status for it replaces the queued one (the latest wins: status is a snapshot, not a
log). A write that fails (timeout, conflict, server error) is logged and left: the next poll
composes the status again and, if the server still lacks it, submits it again. A write that
finds the object gone is dropped.

What the object's state records (:class:`~.context.ObjectContext`):

* ``status``: what the server is known to hold after our last successful write (``None``:
  read ``obj["status"]`` from the informer);
* ``wanted_status``: the latest status submitted and not yet written; the next evaluation
  composes over it (so condition transition times stay right while a write is pending).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from podscaler.controllers.scaledobject.status import status_patch
from podscaler.controllers.transitions import condition_changes
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.resources import Resource
from podscaler.kube.statuses import patch_status

if TYPE_CHECKING:
    from podscaler.controllers.scaledobject.context import ObjectContext

__all__ = [
    "DEFAULT_STATUS_TIMEOUT_SECONDS",
    "DEFAULT_STATUS_WRITERS",
    "StatusWriter",
    "write_status",
]

log = logging.getLogger(__name__)

#: Status writes in flight at once (the rest wait in the queue, coalesced per object).
DEFAULT_STATUS_WRITERS = 16
#: A status write slower than this is abandoned (and redone by a later poll if still needed).
DEFAULT_STATUS_TIMEOUT_SECONDS = 10.0

Key = tuple[str, str]


async def write_status(
    kube: Kube,
    writer: StatusWriter | None,
    resource: Resource,
    ctx: ObjectContext,
    desired: dict[str, Any],
) -> None:
    """*desired* on its way to the server when it differs from what the server holds: handed to
    *writer*, or (without one) patched before returning. Condition changes are logged at info."""
    for line in condition_changes(
        "ScaledObject", ctx.namespace, ctx.name, ctx.known_status, desired
    ):
        log.info("%s", line)
    current = ctx.status if ctx.status is not None else ctx.obj.get("status")
    patch = status_patch(current, desired)
    if patch is None:
        ctx.wanted_status = None  # the server has it (or a pending write is outdated)
        return
    if writer is not None:
        writer.submit(ctx, desired)
        return
    try:
        written = await patch_status(kube, resource, ctx.namespace, ctx.name, patch)
    except NotFound:
        return
    except KubeError as exc:
        log.warning("status of ScaledObject %s/%s not written: %s", ctx.namespace, ctx.name, exc)
        return
    ctx.status = dict(written.get("status") or {})


class StatusWriter:
    """Writes ScaledObject statuses in the background; see the module docstring."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        concurrency: int = DEFAULT_STATUS_WRITERS,
        timeout_seconds: float = DEFAULT_STATUS_TIMEOUT_SECONDS,
        on_result: Callable[[bool], None] | None = None,
    ) -> None:
        self._kube = kube
        self._resource = resource
        self._concurrency = max(concurrency, 1)
        self._timeout = timeout_seconds
        self._on_result = on_result
        #: Objects with a status to write, oldest first (dicts keep insertion order).
        self._queued: dict[Key, ObjectContext] = {}
        self._writing: set[Key] = set()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self.written = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        """Objects whose status is queued or being written."""
        return len(self._queued) + len(self._writing)

    def submit(self, ctx: ObjectContext, desired: dict[str, Any]) -> None:
        """Make *desired* the status to write for *ctx* (replacing a queued one)."""
        ctx.wanted_status = desired
        key = (ctx.namespace, ctx.name)
        if key not in self._queued:
            # Queued even while an older status of the object is being written: ``_take``
            # skips it until that write has answered, so one object's writes never overlap.
            self._queued[key] = ctx
        self._idle.clear()
        self._ready.set()
        if not self._workers:
            loop = asyncio.get_running_loop()
            self._workers = [
                loop.create_task(self._work(), name=f"status-writer-{i}")
                for i in range(self._concurrency)
            ]

    def forget(self, namespace: str, name: str) -> None:
        """The object is gone: drop its queued write."""
        self._queued.pop((namespace, name), None)
        self._settle()

    async def flush(self) -> None:
        """Wait until every submitted status has been written (or given up)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._queued.clear()
        self._writing.clear()
        self._idle.set()

    def _settle(self) -> None:
        if not self._queued and not self._writing:
            self._idle.set()

    def _take(self) -> ObjectContext | None:
        for key, ctx in self._queued.items():
            if key not in self._writing:  # one write per object at a time, in order
                del self._queued[key]
                self._writing.add(key)
                return ctx
        return None

    async def _work(self) -> None:
        while True:
            ctx = self._take()
            if ctx is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            key = (ctx.namespace, ctx.name)
            try:
                await self._write(ctx)
            finally:
                self._writing.discard(key)
                if key in self._queued:
                    self._ready.set()
                self._settle()

    async def _write(self, ctx: ObjectContext) -> None:
        desired = ctx.wanted_status
        if desired is None:
            return
        current = ctx.status if ctx.status is not None else ctx.obj.get("status")
        patch = status_patch(current, desired)
        if patch is None:
            if ctx.wanted_status is desired:
                ctx.wanted_status = None
            return
        ok = False
        try:
            written = await self._kube.request(
                "PATCH",
                self._resource.path(ctx.namespace, ctx.name, "status"),
                body={"status": patch},
                content_type=MERGE_PATCH,
                timeout_seconds=self._timeout,
            )
        except NotFound:
            ctx.wanted_status = None
            return
        except KubeError as exc:
            self.failed += 1
            log.warning(
                "status of ScaledObject %s/%s not written: %s", ctx.namespace, ctx.name, exc
            )
        else:
            ok = True
            self.written += 1
            ctx.status = dict(written.get("status") or {})
            if ctx.wanted_status is desired:
                ctx.wanted_status = None
        if self._on_result is not None:
            self._on_result(ok)
