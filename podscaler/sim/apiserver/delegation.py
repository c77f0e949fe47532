"""TokenReview and SubjectAccessReview: the embedded API server as the authority others ask.

An aggregated API server (podscaler's metrics API, or any other behind an APIService) does not
keep users or RBAC of its own: it *delegates* both to kube-apiserver, asking "whose token is
this?" (``authentication.k8s.io/v1 TokenReview``) and "may this user do that?"
(``authorization.k8s.io/v1 SubjectAccessReview``). Both are create-only resources: the request
body is the question, the response is the same object with ``status`` filled in, and nothing
is stored. The embedded cluster has no users and no RBAC, so it answers from an
:class:`AuthPolicy` that tests (and people trying things) set on ``ApiServer.auth_policy``.

The default policy is what a fresh cluster plus podscaler's manifests grant:

* group ``system:masters`` may do anything (cluster admins, and the aggregator's own
  availability check, ``system:kube-aggregator``);
* the aggregator's front-proxy identity (``front-proxy-client``) may do anything, as
  kube-apiserver's front proxy is trusted to;
* the HPA controller's service account may ``get``/``list``/``watch`` in
  ``external.metrics.k8s.io`` (manifests/metricsapi's ``podscaler-external-metrics-reader``);
* everybody else is denied, with a reason, as RBAC denies.

Tokens: a TokenReview knows the tokens the server itself accepts (``authentication.py``): the
kubeconfig's administrator token, tokens registered with :meth:`AuthPolicy.allow_token`, and
the tokens the aggregator forwards users for (``Aggregator.add_token``, e.g. the embedded HPA
controller's), so one registration serves every path. Any other token is refused.

Deliberate simplifications versus kube-apiserver: no ``LocalSubjectAccessReview`` or
``SelfSubjectAccessReview``; audiences in a TokenReview are echoed, never checked; rules match
on verb, API group, resource (optionally subresource ``resource/sub``) and namespace, with
``*`` as a wildcard; non-resource requests match on the path, where a trailing ``*`` is a
prefix, as RBAC's ``nonResourceURLs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from podscaler.sim.apiserver.authpolicy import FRONT_PROXY_USER, HPA_USER, AuthPolicy, Rule
from podscaler.sim.apiserver.errors import BadRequest, MethodNotAllowed
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Obj
from podscaler.sim.apiserver.wire import Target, respond

if TYPE_CHECKING:
    from aiohttp import web


__all__ = [
    "AUTHENTICATION_GROUP",
    "AUTHORIZATION_GROUP",
    "FRONT_PROXY_USER",
    "HPA_USER",
    "AuthPolicy",
    "Rule",
    "check_review_request",
    "is_review",
    "review",
]

AUTHENTICATION_GROUP: Final = "authentication.k8s.io"
AUTHORIZATION_GROUP: Final = "authorization.k8s.io"


def is_review(rt: ResourceType) -> bool:
    """Whether ``rt`` is one of the answered-not-stored review resources."""
    return rt.group in (AUTHENTICATION_GROUP, AUTHORIZATION_GROUP)


def check_review_request(method: str, target: Target) -> None:
    """Reviews are only ever created: any other verb on them is a 405, as upstream."""
    if is_review(target.rt) and (method != "POST" or target.name or target.subresource):
        raise MethodNotAllowed(
            f"the server does not allow this method on the requested resource: "
            f"{method} {target.rt.resource}"
        )


def _token_review(server: ServerState, obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise BadRequest("TokenReview: spec is required")
    policy: AuthPolicy = server.auth_policy
    # Never keep the token itself: these lists are printed by failing tests.
    policy.token_reviews.append({k: v for k, v in spec.items() if k != "token"})
    found = server.token_user(str(spec.get("token") or ""))
    status: dict[str, Any]
    if found is None:
        status = {"authenticated": False, "error": "invalid bearer token"}
    else:
        user = {"username": found.name, "groups": list(found.groups)}
        status = {"authenticated": True, "user": user}
    if spec.get("audiences"):
        status["audiences"] = list(spec["audiences"])
    return status


def _access_review(server: ServerState, obj: Obj) -> dict[str, Any]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise BadRequest("SubjectAccessReview: spec is required")
    attributes = spec.get("resourceAttributes") or spec.get("nonResourceAttributes")
    if not isinstance(attributes, dict):
        raise BadRequest(
            "SubjectAccessReview: exactly one of resourceAttributes and nonResourceAttributes "
            "must be set"
        )
    user = str(spec.get("user") or "")
    groups = tuple(str(g) for g in spec.get("groups") or ())
    if not user and not groups:
        raise BadRequest("SubjectAccessReview: at least one of user or group must be specified")
    policy: AuthPolicy = server.auth_policy
    policy.access_reviews.append(spec)
    if policy.allows(user, groups, attributes):
        return {"allowed": True, "reason": "allowed by the embedded cluster's auth policy"}
    return {"allowed": False, "reason": "no rule of the embedded cluster's auth policy allows it"}


async def review(server: ServerState, rt: ResourceType, obj: Obj) -> web.Response:
    """Answer one TokenReview or SubjectAccessReview (``201``, the object with its status)."""
    if rt.resource == "tokenreviews":
        status = _token_review(server, obj)
    else:
        status = _access_review(server, obj)
    answer = {**obj, "apiVersion": rt.api_version, "kind": rt.kind, "status": status}
    answer.setdefault("metadata", {})
    return respond(answer, 201)
