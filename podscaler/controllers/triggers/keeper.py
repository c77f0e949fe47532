"""Each object's triggers, kept for the controller that polls it.

A ScaledObject and a ScaledJob hold the same thing between polls: the triggers built from
their current generation. Both controllers therefore do the same four steps, written here once:

* **stale?** — nothing built yet, or built for another ``metadata.generation`` (the refresher
  forgets the built generation when a referenced Secret or TriggerAuthentication changes, so a
  rotation looks like a spec change here);
* **rebuild** — close the old scalers, resolve env and auth and build new ones
  (:func:`~.building.build_triggers`) while :func:`~.refresh.recording` notes what auth read,
  then hand that read log to the :class:`~.refresh.AuthRefresher` so a later change of any of it
  rebuilds again;
* **poll** — every trigger concurrently under the controller's timeout; failures that look like
  refused credentials are reported to the refresher (which re-reads the Secrets at once);
* **forget** — the object is gone: the refresher stops checking what it read.

What a controller does *around* a rebuild stays with it (a ScaledObject reads its target's
workload first; a ScaledJob deletes running Jobs on a spec change unless its rollout is
gradual).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from podscaler.api.triggers import ScaleTrigger
from podscaler.controllers.loop import Wake
from podscaler.controllers.triggers.building import TriggerPoll, TriggerSet, build_triggers
from podscaler.controllers.triggers.refresh import AuthRefresher, Owner, recording
from podscaler.kube.clients import Kube
from scalers.contract import ScalerEnvironment
from scalers.registry import ScalerRegistry

__all__ = ["TriggerKeeper", "Triggered"]


class Triggered(Protocol):
    """What a per-object context offers the keeper (both controllers' contexts do)."""

    namespace: str
    name: str
    triggers: TriggerSet | None
    #: The generation ``triggers`` were built from; ``None`` asks for a rebuild.
    built_generation: int | None
    wake: Wake

    @property
    def generation(self) -> int | None: ...


class TriggerKeeper:
    """Builds, polls and tracks the triggers of one controller's objects (of one *kind*)."""

    def __init__(
        self,
        kube: Kube,
        registry: ScalerRegistry,
        env: ScalerEnvironment,
        *,
        kind: str,
        operator_namespace: str,
        timeout_seconds: float,
    ) -> None:
        self.kube = kube
        self.registry = registry
        self.env = env
        self.kind = kind
        self.operator_namespace = operator_namespace
        self.timeout_seconds = timeout_seconds
        #: Rebuilds triggers when their Secrets/TriggerAuthentications change (set by the
        #: operator; see :mod:`.refresh`).
        self.refresher: AuthRefresher | None = None

    def owner(self, ctx: Triggered) -> Owner:
        return (self.kind, ctx.namespace, ctx.name)

    @staticmethod
    def stale(ctx: Triggered) -> bool:
        """Whether *ctx*'s triggers must be (re)built before the next poll."""
        return ctx.triggers is None or ctx.built_generation != ctx.generation

    async def rebuild(
        self,
        ctx: Triggered,
        *,
        triggers: Sequence[ScaleTrigger],
        workload: Mapping[str, Any] | None,
        env_source_container: str | None,
    ) -> TriggerSet:
        """Close *ctx*'s scalers and build its triggers anew; raises
        :class:`~.building.TriggerConfigError` (with ``ctx.triggers`` left empty) when one
        cannot be built."""
        old, ctx.triggers = ctx.triggers, None
        if old is not None:
            await old.close()
        with recording() as reads:
            built = await build_triggers(
                self.kube,
                self.registry,
                self.env,
                namespace=ctx.namespace,
                triggers=triggers,
                workload=workload,
                env_source_container=env_source_container,
                operator_namespace=self.operator_namespace,
            )
        ctx.triggers = built
        ctx.built_generation = ctx.generation
        if self.refresher is not None:
            self.refresher.track(self.owner(ctx), reads, ctx)
        return built

    async def poll(self, ctx: Triggered, triggers: TriggerSet) -> TriggerPoll:
        """Poll *triggers* (``ctx``'s) once; never raises for a trigger's failure."""
        poll = await triggers.poll(self.timeout_seconds, asyncio.get_running_loop().time)
        if self.refresher is not None:
            errors = [r.error for r in poll.records if r.error is not None]
            self.refresher.report_errors(self.owner(ctx), errors)
        return poll

    def forget(self, ctx: Triggered) -> None:
        """*ctx*'s object is gone."""
        if self.refresher is not None:
            self.refresher.forget(self.owner(ctx))
