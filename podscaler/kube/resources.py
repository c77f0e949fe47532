"""Resource types and discovery: from ``(apiVersion, kind)`` to the REST path that serves it.

Scale targets and Event subjects arrive as ``apiVersion`` + ``kind`` (a ScaledObject's
``scaleTargetRef``), but the REST API is addressed by group, version and *plural*, and only
discovery knows the plural, whether the kind is namespaced and which subresources it has
(``/scale`` for any CRD that declares one). Answers are cached per group-version; a miss
refreshes that group-version once, because CRDs appear while the operator runs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound

__all__ = ["Discovery", "Resource", "split_api_version"]


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"apps/v1"`` → ``("apps", "v1")``; ``"v1"`` → ``("", "v1")`` (the core group)."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource type (a group-version-resource with its kind and scope)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    subresources: frozenset[str] = field(default=frozenset())
    verbs: frozenset[str] = field(default=frozenset())

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_scale(self) -> bool:
        return "scale" in self.subresources

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path: the collection (all namespaces when ``namespace`` is None), an
        object, or an object's subresource."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource is not None:
                base += f"/{subresource}"
        return base


class Discovery:
    """Cached discovery lookups over one :class:`Kube` connection."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._by_gv: dict[str, dict[str, Resource]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def resolve(self, api_version: str, kind: str) -> Resource:
        """The resource serving ``kind`` in ``api_version``.

        Raises :class:`NotFound` when the group-version or the kind is not served (after one
        refresh, so a CRD installed a moment ago is found).
        """
        kinds = await self._group_version(api_version, refresh=False)
        resource = kinds.get(kind)
        if resource is None:
            kinds = await self._group_version(api_version, refresh=True)
            resource = kinds.get(kind)
        if resource is None:
            raise NotFound(404, "NotFound", f"kind {kind} is not served by {api_version}")
        return resource

    def invalidate(self, api_version: str | None = None) -> None:
        """Forget cached answers (all, or one group-version)."""
        if api_version is None:
            self._by_gv.clear()
        else:
            self._by_gv.pop(api_version, None)

    async def _group_version(self, api_version: str, *, refresh: bool) -> dict[str, Resource]:
        cached = self._by_gv.get(api_version)
        if cached is not None and not refresh:
            return cached
        lock = self._locks.setdefault(api_version, asyncio.Lock())
        async with lock:
            again = self._by_gv.get(api_version)
            if again is not None and again is not cached:
                return again  # another task refreshed while we waited
            group, version = split_api_version(api_version)
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                answer = await self._kube.request("GET", path)
            except NotFound:
                self._by_gv[api_version] = {}
                return {}
            kinds = parse_resource_list(group, version, answer)
            self._by_gv[api_version] = kinds
            return kinds


def parse_resource_list(group: str, version: str, answer: dict[str, Any]) -> dict[str, Resource]:
    """Turn an ``APIResourceList`` into ``{kind: Resource}`` with subresources attached.

    Subresources are listed as their own entries named ``{plural}/{sub}``; they are folded
    into their parent.
    """
    entries: list[dict[str, Any]] = list(answer.get("resources") or [])
    subs: dict[str, set[str]] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        if "/" in name:
            parent, _, sub = name.partition("/")
            subs.setdefault(parent, set()).add(sub)
    kinds: dict[str, Resource] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        if not name or "/" in name:
            continue
        kind = str(entry.get("kind", ""))
        kinds[kind] = Resource(
            group=group,
            version=version,
            plural=name,
            kind=kind,
            namespaced=bool(entry.get("namespaced", False)),
            subresources=frozenset(subs.get(name, ())),
            verbs=frozenset(entry.get("verbs") or ()),
        )
    return kinds
