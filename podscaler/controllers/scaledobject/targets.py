"""The scale targets: reading and writing their replicas, and their pod templates.

Reads of the common kinds (``apps/v1`` Deployment, StatefulSet, ReplicaSet) come from an
informer per kind, started the first time an object targets that kind: a poll then costs no
API request at all for the target, which is what keeps 10,000 objects polling every 30 s
within the API server's budget. Any other kind with a ``/scale`` subresource (custom resources)
is read through ``/scale`` each poll. The cached copies are slim (:func:`slim_target`: replicas,
selector and the containers' environment), since a replica caches every workload of its
namespaces, not only its own targets. Writes always go through ``/scale`` (a merge patch of
``spec.replicas``, as ``kubectl scale`` and the HPA do).

After a write, the cache may still hold the old object for a few milliseconds; the written
count is remembered with the resourceVersion the server answered, and a cached object older
than that is read as the written count, so a fast poll never acts on a stale replica count.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound, TransportError
from podscaler.kube.informers import Informer, compact
from podscaler.kube.resources import Discovery, Resource
from podscaler.kube.scaling import Scale, ScaleClient, ScaleRef

__all__ = ["CACHED_KINDS", "TargetReader", "slim_target"]

#: How long a read waits for a target cache that is being repaired before it gives up (the
#: poll then reports the target unavailable and tries again next interval).
_RESYNC_WAIT_SECONDS = 5.0

log = logging.getLogger(__name__)

#: Kinds whose replicas and selector are read from an informer rather than ``/scale``.
CACHED_KINDS = frozenset(
    {("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "ReplicaSet")}
)


#: What a target's cached copy keeps of its pod template's containers (for trigger
#: environment, :func:`podscaler.controllers.triggers.auth.container_of`).
_CONTAINER_KEYS = ("name", "env", "envFrom")


def slim_target(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of a cached target this reader uses (an informer ``transform``): identity,
    ``spec.replicas``, ``spec.selector``, ``status.replicas`` and the containers' names and
    environment (what a trigger's ``fromEnv`` reads); the rest of the pod template, the
    strategy and the status conditions are dropped.

    Why: a replica caches every Deployment, StatefulSet and ReplicaSet of the namespaces it
    watches (under ``--shard``, also those whose ScaledObjects other replicas own), and a real
    workload's template (probes, volumes, resources, security contexts, sidecars) is often
    several KiB; at 10,000 targets that was most of a replica's cache.
    """
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    containers = [
        {k: c[k] for k in _CONTAINER_KEYS if k in c}
        for c in template.get("containers") or []
        if isinstance(c, dict)
    ]
    slim: dict[str, Any] = {
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta
        },
        "spec": {k: spec[k] for k in ("replicas", "selector") if k in spec},
    }
    for key in ("apiVersion", "kind"):
        if key in obj:
            slim[key] = obj[key]
    if containers:
        slim["spec"]["template"] = {"spec": {"containers": containers}}
    if isinstance(status, dict) and "replicas" in status:
        slim["status"] = {"replicas": status["replicas"]}
    return compact(slim)


def _selector(obj: dict[str, Any]) -> str:
    raw = (obj.get("spec") or {}).get("selector")
    if not isinstance(raw, dict):
        return ""
    try:
        return str(LabelSelector.from_dict(raw))
    except SelectorError:
        return ""


def _version_number(version: str) -> int | None:
    return int(version) if version.isdigit() else None


@dataclass
class _Written:
    replicas: int
    resource_version: str
    uid: str = ""


class TargetReader:
    """Replicas, selector and pod template of scale targets, cached where it pays."""

    def __init__(
        self, kube: Kube, discovery: Discovery, *, namespace: str | None, use_cache: bool = True
    ) -> None:
        self._kube = kube
        self._discovery = discovery
        self._scales = ScaleClient(kube, discovery)
        self._namespace = namespace
        self._use_cache = use_cache
        self._informers: dict[tuple[str, str], Informer] = {}
        self._lock = asyncio.Lock()
        self._written: dict[ScaleRef, _Written] = {}

    async def resource(self, ref: ScaleRef) -> Resource:
        """The target's resource (raises ``NotFound`` / ``NoScaleSubresource``)."""
        return await self._scales.resource(ref)

    async def _informer(self, ref: ScaleRef) -> Informer | None:
        key = (ref.api_version, ref.kind)
        if not self._use_cache or key not in CACHED_KINDS:
            return None
        informer = self._informers.get(key)
        if informer is None:
            async with self._lock:  # many objects may see a kind first at the same moment
                informer = self._informers.get(key)
                if informer is None:
                    resource = await self._scales.resource(ref)
                    informer = Informer(
                        self._kube, resource, namespace=self._namespace, transform=slim_target
                    )
                    self._informers[key] = informer
                    informer.start()
        if not informer.has_synced:
            await informer.wait_synced(timeout_seconds=30.0)
        if not informer.current:
            # The cache is being repaired (the server failed, maybe restarted with another
            # store): its objects may no longer exist, so nothing is decided from them.
            try:
                await informer.wait_current(timeout_seconds=_RESYNC_WAIT_SECONDS)
            except TimeoutError:
                raise TransportError(
                    f"the cache of {key[1]} objects is being resynchronised with the API server"
                ) from None
        return informer

    async def get_scale(self, ref: ScaleRef) -> Scale:
        informer = await self._informer(ref)
        if informer is None:
            return await self._scales.get_scale(ref)
        obj = informer.get(ref.namespace, ref.name)
        if obj is None:
            raise NotFound(404, "NotFound", f"{ref.kind} {ref.namespace}/{ref.name} not found")
        meta = obj.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        replicas = int((obj.get("spec") or {}).get("replicas") or 0)
        written = self._written.get(ref)
        if written is not None and written.uid and written.uid != str(meta.get("uid") or ""):
            del self._written[ref]  # written to another object of that name, gone since
            written = None
        if written is not None:
            ours, theirs = (
                _version_number(written.resource_version),
                _version_number(version),
            )
            if ours is not None and theirs is not None and theirs < ours:
                replicas = written.replicas  # the cache has not seen our write yet
            else:
                del self._written[ref]
        return Scale(
            replicas=replicas,
            status_replicas=int((obj.get("status") or {}).get("replicas") or 0),
            selector=_selector(obj),
            resource_version=version,
        )

    async def set_replicas(self, ref: ScaleRef, replicas: int) -> Scale:
        scale = await self._scales.set_replicas(ref, replicas)
        if (ref.api_version, ref.kind) in CACHED_KINDS:
            self._written[ref] = _Written(replicas, scale.resource_version, scale.uid)
        return scale

    async def workload(self, ref: ScaleRef) -> dict[str, Any] | None:
        """The target object (for its containers' environment; a cached target is
        :func:`slim_target`'s copy), ``None`` when it has none."""
        informer = await self._informer(ref)
        if informer is not None:
            return informer.get(ref.namespace, ref.name)
        resource = await self._scales.resource(ref)
        try:
            return await self._kube.request("GET", resource.path(ref.namespace, ref.name))
        except NotFound:
            return None

    def forget(self, ref: ScaleRef) -> None:
        self._written.pop(ref, None)

    async def aclose(self) -> None:
        for informer in self._informers.values():
            await informer.aclose()
        self._informers.clear()
