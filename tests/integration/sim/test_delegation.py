"""The embedded API server answers TokenReview and SubjectAccessReview from its auth policy.

Asked over HTTP with the real ``podscaler.kube`` client, as an aggregated API server asks
kube-apiserver; the answers are not stored (create-only), and the default policy is what a fresh
cluster plus podscaler's manifests grant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from podscaler.kube.clients import Kube, connect
from podscaler.kube.errors import KubeError
from podscaler.sim.apiserver.delegation import HPA_USER
from podscaler.sim.apiserver.server import ApiServer

TOKENREVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SARS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    async with ApiServer(install_crds=False, aggregation=True) as srv:
        yield srv


@pytest.fixture
async def kube(server: ApiServer) -> AsyncIterator[Kube]:
    async with await connect(server=server.url) as client:
        yield client


def _sar(user: str, groups: list[str], **attributes: Any) -> dict[str, Any]:
    key = "nonResourceAttributes" if "path" in attributes else "resourceAttributes"
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, key: attributes},
    }


async def _allowed(kube: Kube, user: str, groups: list[str], **attributes: Any) -> bool:
    answer = await kube.request("POST", SARS, body=_sar(user, groups, **attributes))
    assert answer["kind"] == "SubjectAccessReview"
    return bool(answer["status"]["allowed"])


async def test_token_reviews_know_registered_and_forwarded_tokens_only(
    server: ApiServer, kube: Kube
) -> None:
    server.auth_policy.allow_token("t-1", "alice", ("dev",))
    assert server.aggregator is not None
    server.aggregator.add_token("hpa-token", HPA_USER, ("system:serviceaccounts",))

    async def review(token: str) -> dict[str, Any]:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
        answer = await kube.request("POST", TOKENREVIEWS, body={**body, "spec": {"token": token}})
        return dict(answer["status"])

    assert await review("t-1") == {
        "authenticated": True,
        "user": {"username": "alice", "groups": ["dev"]},
    }
    assert (await review("hpa-token"))["user"]["username"] == HPA_USER
    refused = await review("stolen")
    assert refused["authenticated"] is False
    assert refused["error"]
    # Reviews are kept for inspection without the token itself.
    assert all("token" not in spec for spec in server.auth_policy.token_reviews)
    assert len(server.auth_policy.token_reviews) == 3


async def test_default_policy_allows_masters_front_proxy_and_hpa_metrics_only(kube: Kube) -> None:
    metric = {"verb": "list", "group": "external.metrics.k8s.io", "resource": "s0-prometheus"}
    assert await _allowed(kube, "admin", ["system:masters"], verb="delete", resource="pods")
    assert await _allowed(kube, "system:kube-aggregator", ["system:masters"], verb="get", path="/x")
    assert await _allowed(kube, "front-proxy-client", [], **metric, namespace="a")
    assert await _allowed(kube, HPA_USER, ["system:serviceaccounts"], **metric, namespace="a")
    assert not await _allowed(kube, HPA_USER, [], verb="delete", group="apps", resource="pods")
    assert not await _allowed(kube, "mallory", ["system:authenticated"], **metric, namespace="a")


async def test_rules_match_verb_group_resource_namespace_and_paths(
    server: ApiServer, kube: Kube
) -> None:
    server.auth_policy.clear()
    server.auth_policy.allow("readers", "list", "s0-cron", namespace="team-a")
    server.auth_policy.allow("bob", "get", "/apis/external.metrics.k8s.io*")
    args = {"verb": "list", "group": "external.metrics.k8s.io", "resource": "s0-cron"}
    assert await _allowed(kube, "carol", ["readers"], **args, namespace="team-a")
    assert not await _allowed(kube, "carol", ["readers"], **args, namespace="team-b")
    assert not await _allowed(kube, "carol", ["readers"], **{**args, "verb": "watch"})
    assert await _allowed(kube, "bob", [], verb="get", path="/apis/external.metrics.k8s.io/v1beta1")
    assert not await _allowed(kube, "bob", [], verb="get", path="/api/v1")
    # Defaults are gone after clear(): even masters are denied.
    assert not await _allowed(kube, "admin", ["system:masters"], verb="get", resource="pods")


async def test_reviews_are_create_only_and_validated(kube: Kube) -> None:
    with pytest.raises(KubeError) as listing:
        await kube.request("GET", SARS)
    assert listing.value.status == 405
    with pytest.raises(KubeError) as bad:
        await kube.request("POST", SARS, body=_sar("", [], verb="get", resource="pods"))
    assert bad.value.status == 400
    discovery = await kube.request("GET", "/apis/authorization.k8s.io/v1")
    (resource,) = discovery["resources"]
    assert (resource["name"], resource["verbs"]) == ("subjectaccessreviews", ["create"])
