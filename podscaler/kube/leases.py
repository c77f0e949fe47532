"""Leader election on a coordination.k8s.io/v1 Lease, with singleton work tied to leadership.

Some work must run in exactly one operator replica (the node autoscaler: two replicas buying
nodes for the same pending pods would buy twice). The replicas share one Lease: the holder
renews ``renewTime`` every ``retry_period_seconds``; the others take it over only when it has
not changed for ``lease_duration_seconds``. Defaults are client-go's (15 s / 10 s / 2 s).

Expiry is judged the way client-go judges it: not by comparing the holder's ``renewTime``
with our own wall clock (replicas' clocks disagree), but by how long the Lease record has
stayed unchanged *as we observed it*, on our loop clock. So a stale holder loses the Lease
``lease_duration_seconds`` after its last renewal was first seen by a candidate (which is
later than ``renewTime + lease_duration_seconds`` whenever the clocks agree).

Losing leadership stops singleton work at once. The leader counts its own renewals; if none
succeeds for ``renew_deadline_seconds`` (shorter than the lease duration, so it stops before
anyone else may start), or if a renewal finds another holder, the singleton task is cancelled
before anything else happens. :meth:`LeaderElector.run` then campaigns again.

On shutdown the leader releases the Lease (empty ``holderIdentity``), so another replica takes
over on its next retry instead of waiting out the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from podscaler import clock
from podscaler.kube.clients import Kube
from podscaler.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from podscaler.kube.events import format_micro_time

__all__ = ["LeaderElector"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Candidates retry at ``retry_period * (1 + JITTER_FACTOR * random)``, as client-go does.
JITTER_FACTOR = 1.2


class LeaderElector:
    """Campaign for one Lease and run singleton work while holding it."""

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_duration_seconds: float = 15.0,
        renew_deadline_seconds: float = 10.0,
        retry_period_seconds: float = 2.0,
        release_on_cancel: bool = True,
        now: Callable[[], datetime] = clock.now,
        on_elected: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        if not lease_duration_seconds > renew_deadline_seconds > retry_period_seconds > 0:
            raise ValueError(
                "need lease_duration_seconds > renew_deadline_seconds > retry_period_seconds > 0"
            )
        self._kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration_seconds = lease_duration_seconds
        self.renew_deadline_seconds = renew_deadline_seconds
        self.retry_period_seconds = retry_period_seconds
        self.release_on_cancel = release_on_cancel
        self._now = now
        self._on_elected = on_elected
        self._on_lost = on_lost
        self.is_leader = False
        self.leader: str | None = None
        """The holder last observed (ourselves included); None before the first read."""
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._observed_lease: dict[str, Any] | None = None

    @property
    def _collection(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"

    @property
    def _path(self) -> str:
        return f"{self._collection}/{self.name}"

    # ---------------------------------------------------------------- public

    async def run(self, singleton: Callable[[], Awaitable[T]]) -> T:
        """Campaign; while leader run ``singleton()``; on loss cancel it and campaign again.

        Returns what ``singleton`` returns (and re-raises what it raises) when it ends by
        itself while we lead; the Lease is released then. Cancelling ``run`` cancels the
        singleton and, with ``release_on_cancel``, releases the Lease.
        """
        loop = asyncio.get_running_loop()
        while True:
            await self._acquire()
            self._set_leader(True)
            work = loop.create_task(_call(singleton), name=f"singleton-{self.name}")
            keeper = loop.create_task(self._keep(), name=f"lease-renew-{self.name}")
            try:
                await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await _cancel(work, keeper)
                if self.release_on_cancel:
                    await self._release()
                self._set_leader(False)
                raise
            if work.done():
                await _cancel(keeper)
                await self._release()
                self._set_leader(False)
                return work.result()
            await _cancel(work)
            log.warning(
                "lease %s/%s: leadership lost; singleton work stopped", self.namespace, self.name
            )
            self._set_leader(False)

    # ---------------------------------------------------------------- internals

    def _set_leader(self, leading: bool) -> None:
        if leading == self.is_leader:
            return
        self.is_leader = leading
        callback = self._on_elected if leading else self._on_lost
        if callback is not None:
            try:
                callback()
            except Exception:
                log.exception("lease %s/%s: leadership callback failed", self.namespace, self.name)

    def _jittered_retry_seconds(self) -> float:
        return self.retry_period_seconds * (1.0 + JITTER_FACTOR * random.random())

    async def _acquire(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.renew_deadline_seconds):
                    if await self._try_acquire_or_renew():
                        log.info(
                            "lease %s/%s: acquired by %s", self.namespace, self.name, self.identity
                        )
                        return
            except (KubeError, TimeoutError) as exc:
                log.warning("lease %s/%s: cannot acquire: %s", self.namespace, self.name, exc)
            await asyncio.sleep(self._jittered_retry_seconds())

    async def _keep(self) -> None:
        """Renew every retry period; return the moment leadership is lost."""
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        while True:
            await asyncio.sleep(self.retry_period_seconds)
            deadline = last_renewed + self.renew_deadline_seconds
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        renewed = await self._try_acquire_or_renew()
                except TimeoutError:
                    return
                except KubeError as exc:
                    log.warning("lease %s/%s: renew failed: %s", self.namespace, self.name, exc)
                    renewed = False
                if renewed:
                    last_renewed = loop.time()
                    break
                if self.leader not in (None, "", self.identity):
                    return  # someone else holds it: stop now, not at the deadline
                pause = min(self.retry_period_seconds, deadline - loop.time())
                if pause <= 0:
                    return
                await asyncio.sleep(pause)

    def _spec(self, old: dict[str, Any] | None, wall: str) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration_seconds)),
            "renewTime": wall,
            "acquireTime": wall,
            "leaseTransitions": 0,
        }
        if old is not None:
            transitions = int(old.get("leaseTransitions") or 0)
            if old.get("holderIdentity") == self.identity:
                spec["acquireTime"] = old.get("acquireTime") or wall
                spec["leaseTransitions"] = transitions
            else:
                spec["leaseTransitions"] = transitions + 1
        return spec

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_at = asyncio.get_running_loop().time()
        self._observed_lease = lease
        self.leader = spec.get("holderIdentity") or None

    async def _try_acquire_or_renew(self) -> bool:
        wall = format_micro_time(self._now())
        try:
            lease = await self._kube.request("GET", self._path)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(None, wall),
            }
            try:
                self._observe(await self._kube.request("POST", self._collection, body=body))
            except (AlreadyExists, Conflict):
                return False
            return True
        self._observe(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration_seconds)
        now = asyncio.get_running_loop().time()
        if holder and holder != self.identity and self._observed_at + duration > now:
            return False
        lease["spec"] = self._spec(spec, wall)
        try:
            self._observe(await self._kube.request("PUT", self._path, body=lease))
        except Conflict:
            return False
        return True

    async def _release(self) -> None:
        """Give the Lease up (best effort): empty holder, so the next candidate needs no wait."""
        lease = self._observed_lease
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        spec = dict(lease.get("spec") or {})
        spec.update(
            holderIdentity="",
            leaseDurationSeconds=1,
            renewTime=format_micro_time(self._now()),
        )
        body = {**lease, "spec": spec}
        try:
            async with asyncio.timeout(self.renew_deadline_seconds):
                self._observe(await self._kube.request("PUT", self._path, body=body))
            log.info("lease %s/%s: released by %s", self.namespace, self.name, self.identity)
        except (KubeError, TimeoutError) as exc:
            log.warning("lease %s/%s: release failed: %s", self.namespace, self.name, exc)


async def _call(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
