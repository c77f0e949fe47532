"""Credentials follow their sources: rebuild triggers when what they were built from changes.

A trigger's auth params are resolved once, when its scalers are built (``auth``): Secrets and
ConfigMaps named by a TriggerAuthentication / ClusterTriggerAuthentication, and those behind
the target container's env. Rotating a Secret must not need a restart or a spec edit, so this
module remembers what each build read, with the ``resourceVersion`` it saw, and marks the
object for a rebuild (and wakes its loop) when any of it changes:

* **TriggerAuthentications and ClusterTriggerAuthentications** are watched with informers
  (the operator may list and watch them): an update or delete whose ``resourceVersion``
  differs from the one a build read rebuilds its users at once.
* **Secrets and ConfigMaps** may only be read by name (the operator's RBAC grants ``get``, not
  ``list``/``watch``: a watch would stream every Secret of the cluster into the operator).
  Every ``period_seconds`` (60 s by default) each *distinct* referenced object is read once,
  however many ScaledObjects share it, and compared by ``resourceVersion``. A trigger whose
  poll fails with an authentication-looking error (401/403, AWS ``InvalidClientTokenId``,
  SASL failures …) asks for that object's references to be re-read at once — the usual story
  is "someone rotated the key and the source started refusing the old one" — rate-limited to
  once per ``recheck_seconds`` per object so wrong credentials nobody fixes cost one GET per
  Secret every few seconds, not one per poll.

Only versions are compared and only names are logged: values never leave ``auth``. A Secret
that disappears counts as a change, so the rebuild fails with the usual clear condition
(``Secret x not found``) instead of scaling on credentials that no longer exist.

Recording is a :class:`contextvars.ContextVar`: ``auth`` calls :func:`note_read` for every
object it fetches, and only reads made inside :func:`recording` (one build of one object, in
its own task) are kept. A change that lands while a build is running is not lost: the read log
carries a serial taken when the build started, and :meth:`AuthRefresher.track` invalidates again
if the object was invalidated after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from podscaler.controllers.loop import Wake
from podscaler.kube.clients import Kube
from podscaler.kube.errors import KubeError, NotFound
from podscaler.kube.informers import Informer
from podscaler.kube.kinds import CLUSTER_TRIGGER_AUTHENTICATIONS, TRIGGER_AUTHENTICATIONS

__all__ = [
    "CLUSTER_TRIGGER_AUTHENTICATIONS",
    "TRIGGER_AUTHENTICATIONS",
    "AuthRefresher",
    "Owner",
    "ReadKey",
    "ReadLog",
    "Rebuildable",
    "looks_like_auth_failure",
    "note_read",
    "recording",
]

log = logging.getLogger(__name__)


#: ``(kind, namespace or "" when cluster-scoped, name)`` of an object a build read.
ReadKey = tuple[str, str, str]
#: ``(kind, namespace, name)`` of a ScaledObject or ScaledJob.
Owner = tuple[str, str, str]

#: Read by name, compared on the period (and after an auth failure).
_POLLED_KINDS: Final = frozenset({"Secret", "ConfigMap"})
_WATCHED: Final = {
    "TriggerAuthentication": TRIGGER_AUTHENTICATIONS,
    "ClusterTriggerAuthentication": CLUSTER_TRIGGER_AUTHENTICATIONS,
}

#: What sources answer when the credentials are wrong, expired or revoked. Deliberately broad:
#: a false positive costs one GET per referenced object (rate-limited), a miss only delays the
#: rebuild to the next period.
_AUTH_FAILURE: Final = re.compile(
    r"\b(401|403)\b|unauthori[sz]ed|forbidden|access ?denied|InvalidClientTokenId"
    r"|SignatureDoesNotMatch|UnrecognizedClient|InvalidAccessKeyId|ExpiredToken"
    r"|InvalidToken|authenticat|SASL|credential|permission denied",
    re.IGNORECASE,
)

_SERIALS = itertools.count(1)


def looks_like_auth_failure(message: str) -> bool:
    """Whether a trigger's error reads like refused credentials."""
    return bool(_AUTH_FAILURE.search(message))


@dataclass
class ReadLog:
    """The objects one build read, with the ``resourceVersion`` of each."""

    serial: int = field(default_factory=lambda: next(_SERIALS))
    versions: dict[ReadKey, str] = field(default_factory=dict)


_current: ContextVar[ReadLog | None] = ContextVar("podscaler_auth_reads", default=None)


@contextlib.contextmanager
def recording() -> Iterator[ReadLog]:
    """Collect :func:`note_read` calls made by the body (and what it awaits) in a log."""
    reads = ReadLog()
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


def note_read(kind: str, namespace: str, name: str, obj: Mapping[str, Any]) -> None:
    """``auth`` read *obj*: remember its version if a build is being recorded (else nothing)."""
    reads = _current.get()
    if reads is None:
        return
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    reads.versions[(kind, namespace, name)] = version


class Rebuildable(Protocol):
    """What both controllers' per-object contexts offer: forgetting the built generation makes
    the next evaluation rebuild the triggers, and ``wake`` makes it happen now."""

    built_generation: int | None
    wake: Wake


@dataclass
class _Tracked:
    reads: ReadLog
    target: Rebuildable
    next_recheck: float = float("-inf")


class AuthRefresher:
    """Remembers what each object's triggers were built from, and rebuilds on changes.

    One instance serves both controllers (owners are keyed by kind). ``start`` opens the
    informers and the period task; ``aclose`` stops them.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None,
        period_seconds: float = 60.0,
        recheck_seconds: float = 5.0,
        parallel_reads: int = 8,
    ) -> None:
        self.kube = kube
        self.period_seconds = period_seconds
        self.recheck_seconds = recheck_seconds
        self._parallel = asyncio.Semaphore(parallel_reads)
        self._tracked: dict[Owner, _Tracked] = {}
        self._invalidated: dict[Owner, int] = {}
        self._informers = {
            "TriggerAuthentication": Informer(kube, TRIGGER_AUTHENTICATIONS, namespace=namespace),
            "ClusterTriggerAuthentication": Informer(kube, CLUSTER_TRIGGER_AUTHENTICATIONS),
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: asyncio.Task[None] | None = None
        #: How many rebuilds were asked for (tests and metrics read it).
        self.rebuilds = 0
        #: How many Secret/ConfigMap reads the checks made.
        self.reads = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        for kind, informer in self._informers.items():
            informer.add_handler(
                on_add=self._watched_handler(kind),
                on_update=self._watched_update_handler(kind),
                on_delete=self._watched_delete_handler(kind),
            )
            informer.start()
        if self.period_seconds > 0:
            self._periodic = asyncio.get_running_loop().create_task(
                self._run_periodically(), name="auth-refresh"
            )

    async def aclose(self) -> None:
        tasks = [t for t in (self._periodic, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._periodic = None
        for informer in self._informers.values():
            await informer.aclose()
        self._tracked.clear()

    # ---------------------------------------------------------------- the controllers' side

    def track(self, owner: Owner, reads: ReadLog, target: Rebuildable) -> None:
        """*owner*'s triggers were just built from *reads*; *target* is its context."""
        self._tracked[owner] = _Tracked(reads, target)
        invalidated = self._invalidated.pop(owner, None)
        if invalidated is not None and invalidated > reads.serial:
            # Something changed while this build was reading: it may have read the old value.
            self._rebuild(owner, "a referenced object changed during the build")

    def forget(self, owner: Owner) -> None:
        """*owner* is gone: stop checking what it read."""
        self._tracked.pop(owner, None)
        self._invalidated.pop(owner, None)

    def report_errors(self, owner: Owner, errors: Iterable[str]) -> None:
        """A poll of *owner* failed with *errors*: re-read its Secrets/ConfigMaps now if one
        of them looks like refused credentials (at most once per ``recheck_seconds``)."""
        tracked = self._tracked.get(owner)
        if tracked is None or not any(looks_like_auth_failure(e) for e in errors):
            return
        now = asyncio.get_running_loop().time()
        if now < tracked.next_recheck:
            return
        tracked.next_recheck = now + self.recheck_seconds
        task = asyncio.get_running_loop().create_task(
            self._recheck(owner), name=f"auth-recheck-{owner[1]}/{owner[2]}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- checking

    async def _recheck(self, owner: Owner) -> None:
        try:
            await self.check([owner])
        except Exception:  # principle 5
            log.exception("re-reading the credentials of %s %s/%s failed", *owner)

    async def check(self, owners: Iterable[Owner] | None = None) -> int:
        """Compare what *owners* (default: every tracked object) read with what is there now.

        Secrets and ConfigMaps are read once each, however many owners share them;
        (Cluster)TriggerAuthentications are compared with the informers' caches. Returns how
        many owners were asked to rebuild.
        """
        chosen = list(self._tracked) if owners is None else list(owners)
        wanted: set[ReadKey] = set()
        for owner in chosen:
            tracked = self._tracked.get(owner)
            if tracked is not None:
                wanted.update(k for k in tracked.reads.versions if k[0] in _POLLED_KINDS)
        current = dict(zip(wanted, await asyncio.gather(*map(self._version, wanted)), strict=True))
        for kind, informer in self._informers.items():
            if informer.has_synced:
                for owner in chosen:
                    tracked = self._tracked.get(owner)
                    for key in tracked.reads.versions if tracked is not None else ():
                        if key[0] == kind:
                            current[key] = _version_of(informer.get(key[1] or None, key[2]))
        changed = 0
        for owner in chosen:
            tracked = self._tracked.get(owner)
            if tracked is None:
                continue
            for key, seen in tracked.reads.versions.items():
                now = current.get(key, seen)
                if now is not None and now != seen:
                    self._rebuild(owner, f"{key[0]} {_where(key)} changed")
                    changed += 1
                    break
        return changed

    async def _version(self, key: ReadKey) -> str | None:
        """The object's ``resourceVersion`` now; ``""`` when it is gone, ``None`` when it
        could not be read (no conclusion: an API hiccup must not rebuild everything)."""
        kind, namespace, name = key
        plural = "secrets" if kind == "Secret" else "configmaps"
        async with self._parallel:
            self.reads += 1
            try:
                obj = await self.kube.request(
                    "GET", f"/api/v1/namespaces/{namespace}/{plural}/{name}"
                )
            except NotFound:
                return ""
            except (KubeError, TimeoutError) as exc:
                log.info("cannot re-read %s %s/%s: %s", kind, namespace, name, type(exc).__name__)
                return None
        return _version_of(obj)

    async def _run_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.period_seconds)
            started = loop.time()
            try:
                changed = await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # principle 5: a bug here must not stop the checks
                log.exception("checking referenced Secrets/ConfigMaps failed")
                continue
            log.debug(
                "auth refresh: %d objects checked, %d rebuilt, %.3fs",
                len(self._tracked),
                changed,
                loop.time() - started,
            )

    # ---------------------------------------------------------------- informer handlers

    def _watched_changed(self, kind: str, obj: Mapping[str, Any], version: str) -> None:
        meta = obj.get("metadata") or {}
        key = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for owner, tracked in list(self._tracked.items()):
            seen = tracked.reads.versions.get(key)
            if seen is not None and seen != version:
                self._rebuild(owner, f"{kind} {_where(key)} changed")

    def _watched_handler(self, kind: str) -> Callable[[dict[str, Any]], Any]:
        async def on_add(obj: dict[str, Any]) -> None:
            self._watched_changed(kind, obj, _version_of(obj))

        return on_add

    def _watched_update_handler(self, kind: str) -> Callable[[dict[str, Any], dict[str, Any]], Any]:
        async def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            self._watched_changed(kind, new, _version_of(new))

        return on_update

    def _watched_delete_handler(self, kind: str) -> Callable[[dict[str, Any]], Any]:
        async def on_delete(obj: dict[str, Any]) -> None:
            self._watched_changed(kind, obj, "")

        return on_delete

    # ---------------------------------------------------------------- rebuilding

    def _rebuild(self, owner: Owner, why: str) -> None:
        self._invalidated[owner] = next(_SERIALS)
        tracked = self._tracked.get(owner)
        if tracked is None:
            return
        log.info("%s %s/%s: %s; rebuilding its triggers", owner[0], owner[1], owner[2], why)
        self.rebuilds += 1
        tracked.target.built_generation = None
        tracked.target.wake.set()


def _version_of(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _where(key: ReadKey) -> str:
    return f"{key[1]}/{key[2]}" if key[1] else key[2]
