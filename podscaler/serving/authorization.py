"""May this user do this: SubjectAccessReview, with a short cache.

The kube-aggregator has already authorized the *caller* (for the metrics API, the HPA
controller's service account) against kube-apiserver's RBAC, but an extension API server must
not trust that alone: anyone who can reach the Service directly with a valid token would
otherwise read every metric. So each request is checked again with a SubjectAccessReview
(``authorization.k8s.io/v1``) for the user the request authenticated as, using the
:class:`Attributes` kube-apiserver would derive from the path (each server maps its own paths;
the metrics API's mapping is in :mod:`podscaler.metricsapi.server`). :func:`forbidden_message`
words a denial as kube-apiserver does.

Answers are cached per (user, attributes): the HPA asks for the same metric every 15 s, and a
SubjectAccessReview per request would double the API server traffic the metrics API causes.
Allowed answers are kept longer than denials, so a newly granted permission takes effect within
seconds while a granted one does not cost a review on every sync (the generic apiserver keeps
both for 10 s; ``--authorization-webhook-cache-*-ttl`` style knobs are the arguments here).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from podscaler.kube.clients import Kube
from podscaler.serving.authentication import UserInfo

__all__ = ["Attributes", "Decision", "SubjectAccessReviewer", "forbidden_message"]

ALLOWED_TTL_SECONDS: Final = 10.0
DENIED_TTL_SECONDS: Final = 5.0
_CACHE_SIZE: Final = 8192


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a request does, in SubjectAccessReview terms."""

    verb: str
    group: str = ""
    version: str = ""
    resource: str = ""
    namespace: str = ""
    name: str = ""
    #: Set for non-resource requests (discovery); the resource fields are then unused.
    path: str = ""

    def spec(self) -> dict[str, Any]:
        if self.path:
            return {"nonResourceAttributes": {"path": self.path, "verb": self.verb}}
        attrs = {
            "verb": self.verb,
            "group": self.group,
            "version": self.version,
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
        }
        return {"resourceAttributes": {k: v for k, v in attrs.items() if v}}


def forbidden_message(user: UserInfo, attributes: Attributes) -> str:
    """The 403 message, in kube-apiserver's words (clients and people grep for them)."""
    if attributes.path:
        return f'User "{user.name}" cannot {attributes.verb} path "{attributes.path}"'
    scope = (
        f'in the namespace "{attributes.namespace}"'
        if attributes.namespace
        else "at the cluster scope"
    )
    return (
        f'User "{user.name}" cannot {attributes.verb} resource "{attributes.resource}" in API '
        f'group "{attributes.group}" {scope}'
    )


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


class SubjectAccessReviewer:
    """Authorizes through the API server's SubjectAccessReview, caching its answers."""

    def __init__(
        self,
        kube: Kube,
        *,
        allowed_ttl_seconds: float = ALLOWED_TTL_SECONDS,
        denied_ttl_seconds: float = DENIED_TTL_SECONDS,
    ) -> None:
        self.kube = kube
        self.allowed_ttl_seconds = allowed_ttl_seconds
        self.denied_ttl_seconds = denied_ttl_seconds
        self._cache: dict[tuple[Any, ...], tuple[float, Decision]] = {}
        #: Reviews sent to the API server (tests and the benchmark read it).
        self.reviews_sent = 0

    @staticmethod
    def _key(user: UserInfo, attributes: Attributes) -> tuple[Any, ...]:
        extra = tuple(sorted((k, tuple(v)) for k, v in user.extra.items()))
        return (user.name, user.uid, tuple(sorted(user.groups)), extra, attributes)

    async def authorize(self, user: UserInfo, attributes: Attributes) -> Decision:
        """Allowed or not; raises ``KubeError`` when the review cannot be made."""
        key = self._key(user, attributes)
        now = asyncio.get_running_loop().time()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        spec: dict[str, Any] = attributes.spec()
        spec["user"] = user.name
        if user.uid:
            spec["uid"] = user.uid
        if user.groups:
            spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        self.reviews_sent += 1
        answer = await self.kube.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": spec,
            },
        )
        status = answer.get("status") or {}
        decision = Decision(
            allowed=status.get("allowed") is True and status.get("denied") is not True,
            reason=str(status.get("reason") or ""),
        )
        ttl = self.allowed_ttl_seconds if decision.allowed else self.denied_ttl_seconds
        if ttl > 0:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (now + ttl, decision)
        return decision
