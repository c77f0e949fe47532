"""The finalizer: a ScaledObject that asks to restore its target's replicas on deletion.

With ``spec.advanced.restoreToOriginalReplicaCount`` the object carries
:data:`FINALIZER` (added and removed as the flag is set and cleared, before a pass reads its
target). When such an object is deleted, its pass is :meth:`Finalizer.finalize` instead: the
target's ``/scale`` goes back to ``status.originalReplicaCount``, then the finalizer is removed
and the API server lets the object go. A failed restore keeps the finalizer, and the next poll
tries again (a target that is gone counts as restored).
"""

from __future__ import annotations

import logging
from typing import Final

from podscaler.api.reasons import Reason
from podscaler.api.scaledobject import ScaledObject
from podscaler.controllers.scaledobject.applying import Applier
from podscaler.controllers.scaledobject.context import SCALED_OBJECTS, ObjectContext
from podscaler.kube.clients import MERGE_PATCH, Kube
from podscaler.kube.errors import KubeError

__all__ = ["FINALIZER", "Finalizer"]

log = logging.getLogger(__name__)

FINALIZER: Final = "autoscaling.podscaler.io/finalizer"


class Finalizer:
    """Keeps :data:`FINALIZER` as the spec asks, and honours it on deletion."""

    def __init__(self, kube: Kube, applier: Applier) -> None:
        self.kube = kube
        self.applier = applier

    async def keep(self, ctx: ObjectContext, so: ScaledObject) -> None:
        """The finalizer present exactly when the spec asks to restore on deletion."""
        wanted = bool(so.spec.advanced and so.spec.advanced.restore_to_original_replica_count)
        finalizers = list(so.metadata.finalizers)
        if wanted and FINALIZER not in finalizers:
            await self._set(ctx, [*finalizers, FINALIZER])
        elif not wanted and FINALIZER in finalizers:
            await self._set(ctx, [f for f in finalizers if f != FINALIZER])

    async def finalize(self, ctx: ObjectContext) -> None:
        """The object is being deleted: restore the original replicas if asked, then let go."""
        meta = ctx.obj.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        advanced = (ctx.obj.get("spec") or {}).get("advanced") or {}
        status = ctx.known_status or {}
        original = status.get("originalReplicaCount")
        ref = ctx.target
        if advanced.get("restoreToOriginalReplicaCount") and isinstance(original, int) and ref:
            error = await self.applier.write_scale(ctx, ref, original)
            if error is not None and "404" not in error:
                log.warning("restoring %s to %d replicas failed: %s", ref, original, error)
                return  # keep the finalizer; retried on the next poll
            self.applier.event(
                ctx,
                Reason.ScaledObjectDeleted,
                f"ScaledObject deleted; {ref} restored to its original {original} replicas",
            )
            log.info(
                "ScaledObject %s/%s deleted: %s restored to its original %d replicas",
                ctx.namespace,
                ctx.name,
                ref,
                original,
            )
        await self._set(ctx, [f for f in finalizers if f != FINALIZER])

    async def _set(self, ctx: ObjectContext, finalizers: list[str]) -> bool:
        meta = ctx.obj.get("metadata") or {}
        body = {
            "metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}
        }
        try:
            await self.kube.request(
                "PATCH",
                SCALED_OBJECTS.path(ctx.namespace, ctx.name),
                body=body,
                content_type=MERGE_PATCH,
            )
        except KubeError as exc:
            log.info("finalizers of %s/%s not updated (%s); retrying", ctx.namespace, ctx.name, exc)
            return False
        return True
