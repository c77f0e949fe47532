"""What the request handlers need of the server, as a protocol.

The REST front (``rest.py``, ``watching.py``, ``subresources.py``), OpenAPI, the aggregator and
the review answers each take the server they serve as an argument. Naming
:class:`~podscaler.sim.apiserver.server.ApiServer` there would make every one of them import
the module that imports them; they name :class:`ServerState` instead, which sits below all of
them, and ``ApiServer`` satisfies it structurally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from podscaler.sim.apiserver.authentication import User
from podscaler.sim.apiserver.authpolicy import AuthPolicy
from podscaler.sim.apiserver.resources import ResourceTable, ResourceType
from podscaler.sim.apiserver.store import Entry, Obj, Store, Watcher
from podscaler.sim.apiserver.views import Objects
from podscaler.sim.apiserver.webhooks import WebhookCaller

__all__ = ["ServerState"]


class ServerState(Protocol):
    """The embedded API server as its handlers see it."""

    store: Store
    table: ResourceTable
    #: Watches being served over HTTP (closed when the server stops).
    open_watches: set[Watcher]
    #: Seconds between watch BOOKMARK events.
    bookmark_interval: float
    #: Answers to TokenReview and SubjectAccessReview.
    auth_policy: AuthPolicy
    #: Calls the mutating admission webhooks on creation.
    webhooks: WebhookCaller

    def now(self) -> datetime: ...

    def objects(self, rt: ResourceType) -> Objects:
        """The store as requests for ``rt`` see it (itself, or a converting view)."""
        ...

    def after_write(self, rt: ResourceType, entry: Entry) -> Entry:
        """Side effects of a write (CRDs start or stop serving, APIServices are checked)."""
        ...

    def validate_crd(self, rt: ResourceType, obj: Obj) -> None: ...

    def token_user(self, token: str) -> User | None: ...
