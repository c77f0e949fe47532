"""The lifecycle every informer-driven controller shares: handlers on, synced, waiting.

ScaledObjects and ScaledJobs are each driven by one informer of their kind; what differs is
what their handlers do, not how they start or report being synced (readiness reads ``synced``).
"""

from __future__ import annotations

from typing import Any

from podscaler.kube.informers import Informer

__all__ = ["InformedController"]


class InformedController:
    """Base of a controller whose objects come from ``self.informer``."""

    informer: Informer

    async def start(self) -> None:
        self.informer.add_handler(
            on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete
        )
        self.informer.start()

    @property
    def synced(self) -> bool:
        return self.informer.has_synced

    async def wait_synced(self, timeout_seconds: float | None = None) -> None:
        await self.informer.wait_synced(timeout_seconds)

    async def _on_add(self, obj: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _on_delete(self, obj: dict[str, Any]) -> None:
        raise NotImplementedError
