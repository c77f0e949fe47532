"""Pods the world's controllers create, through the API server's whole admission chain.

A pod POSTed over REST is defaulted, admitted by the built-in plugins, sent to every matching
mutating webhook, validated and stored (``rest.create``). The world's controllers write
in-process (``writing.py``) and their synchronous steps cannot wait for a webhook's HTTPS
answer, so without this module a pod the ReplicaSet controller re-created after a
VerticalScaler eviction came back with its template's requests: the webhook that would have
set the recommendation was never asked.

:class:`PodCreations` gives the controllers one ``create`` that takes the right path:

* **no MutatingWebhookConfiguration stored** (the demo, most scenarios): the synchronous write
  it always was, decided by one dict length per pod, so the world is no slower;
* **some configuration stored**: the creation runs as a task through
  :meth:`~podscaler.sim.world.writing.ApiWriter.create_admitted` — the same chain as a REST
  POST, webhooks called over HTTPS as the controller's service account. Until it lands it is
  *in flight* for its owner, counted by the controllers as a pod that exists (upstream's
  controllers keep "expectations" for the same reason), so the next reconcile neither creates
  it twice nor deletes to make room for it. When it lands (or is refused) the owner is looked
  at again and the world woken. A refusal (a webhook with ``failurePolicy: Fail`` down, a
  denial) is a ``FailedCreate`` Event on the owner, retried after :data:`RETRY_SECONDS`.

Under the simulated loop an HTTPS call to a webhook served in the same process holds the clock
while its bytes are in flight (``sim/clock.py``): a pod admitted through a webhook is stored at
the simulated instant it was asked for, and a run stays a function of its seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from podscaler.sim.apiserver.authentication import User
from podscaler.sim.apiserver.errors import ApiError
from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.state import Key

if TYPE_CHECKING:
    from podscaler.sim.world.events import EventWriter
    from podscaler.sim.world.state import ClusterState, Timers
    from podscaler.sim.world.writing import ApiWriter, Kinds

__all__ = ["RETRY_SECONDS", "PodCreations", "controller_user"]

log = logging.getLogger(__name__)

#: Simulated seconds before an owner whose pod was refused is reconciled again.
RETRY_SECONDS: Final = 10.0


def controller_user(component: str) -> User:
    """The identity kube-controller-manager's controller *component* calls the API as
    (``--use-service-account-credentials``): what a webhook sees in ``userInfo``."""
    return User(
        f"system:serviceaccount:kube-system:{component}",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
    )


class PodCreations:
    """Creates the world's pods, through the webhooks when any are configured."""

    def __init__(
        self,
        writer: ApiWriter,
        kinds: Kinds,
        events: EventWriter,
        state: ClusterState,
        timers: Timers,
        monotonic: Callable[[], float],
    ) -> None:
        self.writer = writer
        self.kinds = kinds
        self.events = events
        self.state = state
        self.timers = timers
        self.monotonic = monotonic
        #: Called when an admitted creation lands or is refused (the world wakes up).
        self.wake: Callable[[], None] = lambda: None
        #: Pods created through the webhooks, and refused there (tests, benchmarks).
        self.admitted = 0
        self.refused = 0
        self._by_owner: dict[str, int] = {}
        self._names: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def in_flight(self, owner: Obj) -> int:
        """Pods being admitted for *owner* (not stored yet)."""
        return self._by_owner.get(str(owner["metadata"].get("uid")), 0)

    def reserved(self, key: Key) -> bool:
        """Whether a pod of this name is being admitted."""
        return key in self._names

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def create(self, owner: Obj, pod: Obj, namespace: str, message: str, component: str) -> bool:
        """Create *pod* for *owner*: ``SuccessfulCreate`` (*message*) once it is stored,
        ``FailedCreate`` when refused. False when refused at once (the caller stops creating
        for this owner now); True when stored, or on its way through the webhooks."""
        if not self.writer.webhooks_configured():
            try:
                self.writer.create(self.kinds.pods, pod, namespace)
            except ApiError as exc:  # admission refused it (a missing PriorityClass)
                self._failed(owner, exc, component)
                return False
            self.events.record(owner, "Normal", "SuccessfulCreate", message, component)
            return True
        uid = str(owner["metadata"].get("uid"))
        key = (namespace, str(pod["metadata"]["name"]))
        self._by_owner[uid] = self._by_owner.get(uid, 0) + 1
        self._names.add(key)
        task = asyncio.ensure_future(self._admit(owner, pod, namespace, message, component))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _admit(
        self, owner: Obj, pod: Obj, namespace: str, message: str, component: str
    ) -> None:
        uid = str(owner["metadata"].get("uid"))
        key = (namespace, str(pod["metadata"]["name"]))
        try:
            await self.writer.create_admitted(
                self.kinds.pods, pod, namespace, controller_user(component)
            )
        except ApiError as exc:
            self.refused += 1
            self._failed(owner, exc, component)
            self.timers.at(self.monotonic() + RETRY_SECONDS, lambda: self._look_again(owner))
        except Exception:  # a bug must not stop the owner's pods for good
            self.refused += 1
            log.exception("creating pod %s/%s failed", *key)
            self.timers.at(self.monotonic() + RETRY_SECONDS, lambda: self._look_again(owner))
        else:
            self.admitted += 1
            self.events.record(owner, "Normal", "SuccessfulCreate", message, component)
        finally:
            left = self._by_owner.get(uid, 1) - 1
            if left > 0:
                self._by_owner[uid] = left
            else:
                self._by_owner.pop(uid, None)
            self._names.discard(key)
            self._look_again(owner)

    def _failed(self, owner: Obj, exc: ApiError, component: str) -> None:
        self.events.record(owner, "Warning", "FailedCreate", f"Error creating: {exc}", component)

    def _look_again(self, owner: Obj) -> None:
        self.state.owner_changed(owner)
        self.wake()

    async def close(self) -> None:
        """Cancel the creations still in flight (the world is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
