"""Connecting over HTTP and HTTPS, and the error hierarchy as the server's answers map to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from podscaler.kube.clients import MERGE_PATCH, Kube, connect
from podscaler.kube.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Invalid,
    NotFound,
    TransportError,
    Unauthorized,
)
from podscaler.sim.apiserver.server import ApiServer

CM = "/api/v1/namespaces/default/configmaps"


async def test_kubeconfig_connection(kube: Kube) -> None:
    answer = await kube.request("GET", "/api/v1/namespaces/default")
    assert answer["metadata"]["name"] == "default"


async def test_explicit_server_url(apiserver: ApiServer) -> None:
    async with await connect(server=apiserver.url, token="t") as kube:
        created = await kube.request(
            "POST", CM, body={"metadata": {"name": "c"}, "data": {"k": "v"}}
        )
        assert created["data"] == {"k": "v"}
        patched = await kube.request(
            "PATCH", f"{CM}/c", body={"data": {"k": "w"}}, content_type=MERGE_PATCH
        )
        assert patched["data"] == {"k": "w"}
        assert await kube.request("DELETE", f"{CM}/c") is not None


async def test_tls_with_the_server_ca(apiserver_tls: ApiServer, tmp_path: Path) -> None:
    assert apiserver_tls.ca_pem is not None
    ca = tmp_path / "ca.crt"
    ca.write_bytes(apiserver_tls.ca_pem)
    async with await connect(
        server=apiserver_tls.url, ca_file=ca, token=apiserver_tls.token
    ) as kube:
        assert (await kube.request("GET", "/api/v1/namespaces"))["items"]
    async with await connect(server=apiserver_tls.url, ca_file=ca) as kube:
        with pytest.raises(Unauthorized):
            await kube.request("GET", "/api/v1/namespaces")
    kubeconfig = apiserver_tls.write_kubeconfig(tmp_path / "kubeconfig")
    async with await connect(kubeconfig=kubeconfig, context="podscaler") as kube:
        assert (await kube.request("GET", "/api/v1/namespaces"))["items"]


async def test_tls_without_the_ca_fails_unless_insecure(apiserver_tls: ApiServer) -> None:
    async with await connect(server=apiserver_tls.url) as kube:
        with pytest.raises(TransportError) as caught:
            await kube.request("GET", "/api/v1/namespaces")
        assert caught.value.__cause__ is not None
    async with await connect(
        server=apiserver_tls.url, insecure=True, token=apiserver_tls.token
    ) as kube:
        assert (await kube.request("GET", "/api/v1/namespaces"))["items"]


async def test_in_cluster_service_account(
    apiserver_tls: ApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert apiserver_tls.ca_pem is not None
    (tmp_path / "ca.crt").write_bytes(apiserver_tls.ca_pem)
    (tmp_path / "token").write_text("sa-token")
    apiserver_tls.auth_policy.allow_token("sa-token", "system:serviceaccount:podscaler:podscaler")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", apiserver_tls.host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(apiserver_tls.port))
    async with await connect(service_account_dir=tmp_path) as kube:
        assert (await kube.request("GET", "/api/v1/namespaces/default"))["metadata"]["name"]


async def test_errors_map_to_classes_with_status_reason_body_and_cause(kube: Kube) -> None:
    with pytest.raises(NotFound) as missing:
        await kube.request("GET", f"{CM}/absent")
    assert missing.value.status == 404
    assert missing.value.reason == "NotFound"
    assert isinstance(missing.value.body, dict)
    assert missing.value.body["kind"] == "Status"
    assert missing.value.__cause__ is not None

    created = await kube.request("POST", CM, body={"metadata": {"name": "dup"}})
    with pytest.raises(AlreadyExists) as exists:
        await kube.request("POST", CM, body={"metadata": {"name": "dup"}})
    assert exists.value.status == 409

    stale = dict(created, data={"k": "1"})
    await kube.request("PUT", f"{CM}/dup", body=stale)
    with pytest.raises(Conflict) as conflict:
        await kube.request("PUT", f"{CM}/dup", body=dict(created, data={"k": "2"}))
    assert not isinstance(conflict.value, AlreadyExists)

    with pytest.raises(ApiError) as invalid:
        await kube.request("POST", CM, body={"metadata": {"name": "Not_A_Valid_Name"}})
    assert isinstance(invalid.value, Invalid)
    assert invalid.value.status == 422


async def test_unreachable_server_is_a_transport_error() -> None:
    async with await connect(server="http://127.0.0.1:9", request_timeout_seconds=1) as kube:
        with pytest.raises(TransportError):
            await kube.request("GET", "/api")
