"""Who a token is and what a user may do in the embedded cluster: the policy delegated
TokenReviews and SubjectAccessReviews are answered from (``delegation.py`` answers them; the
server holds one :class:`AuthPolicy`). Kept apart from the answering so that the server's
shared surface (``state.py``) can name the policy without importing the request handlers."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FRONT_PROXY_USER", "HPA_USER", "AuthPolicy", "Rule"]

#: The common name of the aggregator's front-proxy client certificate (see ``aggregation.py``).
FRONT_PROXY_USER: Final = "front-proxy-client"
#: kube-controller-manager's HPA controller identity (``sim.world.hpa.HPA_USER``; repeated here
#: because ``sim`` must not import the world).
HPA_USER: Final = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
#: Reviews kept for tests to inspect; older ones are forgotten.
_KEPT_REVIEWS: Final = 1000


@dataclass(frozen=True, slots=True)
class Rule:
    """One grant: ``subject`` (a user or a group name) may ``verb`` on ``resource``.

    ``resource`` is a plural (``pods``, ``pods/status``, an external metric's name) or, when it
    starts with ``/``, a non-resource path. ``group`` and ``namespace`` of ``None`` match any.
    """

    subject: str
    verb: str
    resource: str
    group: str | None = None
    namespace: str | None = None

    def matches(self, user: str, groups: tuple[str, ...], attributes: dict[str, Any]) -> bool:
        if self.subject != user and self.subject not in groups:
            return False
        verb = str(attributes.get("verb") or "")
        if self.verb not in ("*", verb):
            return False
        if "path" in attributes:
            path = str(attributes["path"])
            if not self.resource.startswith("/"):
                return False
            if self.resource.endswith("*"):
                return path.startswith(self.resource[:-1])
            return path == self.resource
        if self.resource.startswith("/"):
            return False
        resource = str(attributes.get("resource") or "")
        if attributes.get("subresource"):
            resource = f"{resource}/{attributes['subresource']}"
        if self.resource not in ("*", resource):
            return False
        if self.group is not None and self.group not in ("*", attributes.get("group") or ""):
            return False
        return self.namespace is None or self.namespace == (attributes.get("namespace") or "")


class AuthPolicy:
    """Who a token is, and what a user may do: the answers to delegated reviews."""

    def __init__(self, *, defaults: bool = True) -> None:
        self.tokens: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.rules: list[Rule] = []
        #: Every review asked (the request's ``spec``), newest last, for tests to inspect.
        self.token_reviews: deque[dict[str, Any]] = deque(maxlen=_KEPT_REVIEWS)
        self.access_reviews: deque[dict[str, Any]] = deque(maxlen=_KEPT_REVIEWS)
        if defaults:
            self.allow("system:masters", "*", "*")
            self.allow("system:masters", "*", "/*")
            self.allow(FRONT_PROXY_USER, "*", "*")
            self.allow(FRONT_PROXY_USER, "*", "/*")
            for verb in ("get", "list", "watch"):
                self.allow(HPA_USER, verb, "*", group="external.metrics.k8s.io")

    def clear(self) -> None:
        """Forget every token and rule (deny everything), e.g. to start from nothing."""
        self.tokens.clear()
        self.rules.clear()

    def allow_token(
        self, token: str, user: str, groups: tuple[str, ...] = ("system:authenticated",)
    ) -> None:
        self.tokens[token] = (user, tuple(groups))

    def allow(
        self,
        user_or_group: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        *,
        group: str | None = None,
    ) -> None:
        """Grant ``verb`` on ``resource`` (``*`` for any; ``/path`` or ``/prefix*`` for a
        non-resource URL) to a user or group, in ``namespace`` or everywhere."""
        self.rules.append(Rule(user_or_group, verb, resource, group, namespace))

    def authenticate(
        self, token: str, forwarded: dict[str, tuple[str, tuple[str, ...]]] | None = None
    ) -> tuple[str, tuple[str, ...]] | None:
        found = self.tokens.get(token)
        if found is None and forwarded is not None:
            found = forwarded.get(token)
        return found

    def allows(self, user: str, groups: tuple[str, ...], attributes: dict[str, Any]) -> bool:
        return any(rule.matches(user, groups, attributes) for rule in self.rules)
