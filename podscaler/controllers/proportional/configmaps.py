"""The CPA ConfigMaps ProportionalScalers reference, each watched by name.

Upstream CPA fetches its ConfigMap on every poll and re-parses it when the resourceVersion
moved. Here each referenced ConfigMap gets an informer narrowed to it by a field selector
(``metadata.name=NAME`` in its namespace), shared by every scaler that names it and stopped when
the last one lets go: an edit reaches the scalers as a watch event, and no ConfigMap the
operator does not need is listed or cached.

``on_change`` is called with the ConfigMap's key after every event, and once after the first
list, so a referenced ConfigMap that does not exist is noticed too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podscaler.kube.clients import Kube
from podscaler.kube.informers import Informer, compact
from podscaler.kube.kinds import CONFIGMAPS

__all__ = ["ConfigMapWatches"]

log = logging.getLogger(__name__)


Key = tuple[str, str]
Obj = dict[str, Any]


@dataclass
class _Watch:
    informer: Informer
    users: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class ConfigMapWatches:
    def __init__(self, kube: Kube, on_change: Callable[[Key], None]) -> None:
        self._kube = kube
        self._on_change = on_change
        self._watches: dict[Key, _Watch] = {}

    def acquire(self, key: Key) -> None:
        """Watch ConfigMap *key* (namespace, name) for one more user."""
        watch = self._watches.get(key)
        if watch is None:
            namespace, name = key
            informer = Informer(
                self._kube,
                CONFIGMAPS,
                namespace=namespace,
                field_selector=f"metadata.name={name}",
                transform=compact,
            )
            watch = self._watches[key] = _Watch(informer)

            async def changed(*_: Obj) -> None:
                self._on_change(key)

            informer.add_handler(on_add=changed, on_update=changed, on_delete=changed)
            informer.start()
            watch.tasks.append(
                asyncio.get_running_loop().create_task(
                    self._first_sync(key, informer), name=f"configmap-sync-{namespace}/{name}"
                )
            )
        watch.users += 1

    async def _first_sync(self, key: Key, informer: Informer) -> None:
        await informer.wait_synced()
        await informer.drain()
        self._on_change(key)

    async def release(self, key: Key) -> None:
        watch = self._watches.get(key)
        if watch is None:
            return
        watch.users -= 1
        if watch.users <= 0:
            del self._watches[key]
            await self._stop(watch)

    async def _stop(self, watch: _Watch) -> None:
        for task in watch.tasks:
            task.cancel()
        await asyncio.gather(*watch.tasks, return_exceptions=True)
        await watch.informer.aclose()

    def synced(self, key: Key) -> bool:
        watch = self._watches.get(key)
        return watch is not None and watch.informer.has_synced

    def get(self, key: Key) -> Obj | None:
        watch = self._watches.get(key)
        return None if watch is None else watch.informer.get(key[0], key[1])

    async def aclose(self) -> None:
        watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            await self._stop(watch)
