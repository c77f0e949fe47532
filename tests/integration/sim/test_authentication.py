"""Who may use the embedded API server (issue 17, item 7), over real TLS sockets.

With ``--tls`` (``ApiServer(tls=True)``) a credential is required: the token the server wrote
into its kubeconfig, a token registered for another user, or a client certificate from the
cluster's client CA. Anonymous callers and made-up tokens get upstream's 401 Status — Secrets
included — except for the health and version endpoints. The aggregator names the
authenticated caller to backends and nobody else: an anonymous request never reaches one, and
on the plain-HTTP server (which lets everybody in) anonymous callers are forwarded as
``system:anonymous``, never as an administrator.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
import yaml

from podscaler.sim.apiserver.aggregation import AUTHENTICATION_CONFIGMAP
from podscaler.sim.apiserver.server import ApiServer
from tests.integration.sim.test_aggregation import GROUP, NAMESPACE, SERVICE, VERSION, Backend

SECRETS = "/api/v1/namespaces/default/secrets"
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    async with ApiServer(tls=True, install_crds=False, aggregation=True) as api:
        yield api


@pytest.fixture
async def session(server: ApiServer) -> AsyncIterator[aiohttp.ClientSession]:
    assert server.ca_pem is not None
    ctx = ssl.create_default_context(cadata=server.ca_pem.decode())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as client:
        yield client


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with session.request(
        method, url, json=body, headers={**_bearer(token), **(headers or {})}
    ) as resp:
        text = await resp.text()
        try:
            return resp.status, yaml.safe_load(text)
        except yaml.YAMLError:
            return resp.status, text


async def test_anonymous_and_made_up_credentials_get_401_everywhere_but_health(
    server: ApiServer, session: aiohttp.ClientSession
) -> None:
    secret = {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}
    assert (await _call(session, "POST", server.url + SECRETS, token=server.token, body=secret))[
        0
    ] == 201
    for token in (None, "any-token-at-all", server.token + "x" if server.token else "x"):
        for method, path, body in (
            ("GET", SECRETS, None),
            ("GET", f"{SECRETS}/s", None),
            ("POST", SECRETS, {"metadata": {"name": "mine"}}),
            ("GET", "/api", None),
            ("GET", "/apis", None),
            ("GET", "/openapi/v3", None),
        ):
            status, answer = await _call(session, method, server.url + path, token=token, body=body)
            assert (status, answer) == (401, UNAUTHORIZED), (method, path, token)
    # Health and version are public, as kube-apiserver's system:public-info-viewer makes them.
    for path in ("/healthz", "/livez", "/readyz", "/readyz/ping", "/version"):
        status, _ = await _call(session, "GET", server.url + path)
        assert status == 200, path
    # ... but a bad credential is refused even there.
    assert (await _call(session, "GET", server.url + "/healthz", token="nope"))[0] == 401
    # Nothing was created by the refused requests.
    status, listed = await _call(session, "GET", server.url + SECRETS, token=server.token)
    assert status == 200
    assert [i["metadata"]["name"] for i in listed["items"]] == ["s"]


async def test_the_kubeconfig_carries_the_credential(server: ApiServer, tmp_path: Path) -> None:
    config = yaml.safe_load(server.write_kubeconfig(tmp_path / "kubeconfig").read_text())
    assert (tmp_path / "kubeconfig").stat().st_mode & 0o077 == 0
    user = config["users"][0]["user"]
    assert user == {"token": server.token}
    assert len(user["token"]) >= 32


async def test_registered_tokens_and_client_certificates_authenticate(
    server: ApiServer, session: aiohttp.ClientSession
) -> None:
    server.auth_policy.allow_token("ci-token", "ci", ("ci-group",))
    assert (await _call(session, "GET", server.url + SECRETS, token="ci-token"))[0] == 200
    assert server.aggregator is not None
    assert server.aggregator.identity is not None
    cert, key = server.aggregator.identity.client_certificate("alice", ("devs",))
    assert server.ca_pem is not None
    ctx = ssl.create_default_context(cadata=server.ca_pem.decode())
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.pem").write_bytes(cert)
        (Path(tmp) / "k.pem").write_bytes(key)
        ctx.load_cert_chain(Path(tmp) / "c.pem", Path(tmp) / "k.pem")
    async with aiohttp.ClientSession() as client, client.get(server.url + SECRETS, ssl=ctx) as resp:
        assert resp.status == 200
    # A certificate from any other CA does not get past the handshake's verification.
    stranger = trustme.CA().issue_cert("alice")
    other = ssl.create_default_context(cadata=server.ca_pem.decode())
    stranger.configure_cert(other)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.ClientError):
            async with client.get(server.url + SECRETS, ssl=other) as resp:
                await resp.read()


async def _register(
    session: aiohttp.ClientSession, server: ApiServer, port: int, ca_pem: bytes
) -> None:
    token = server.token
    for path, body in (
        ("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}}),
        (
            "/apis/apiregistration.k8s.io/v1/apiservices",
            {
                "metadata": {"name": f"{VERSION}.{GROUP}"},
                "spec": {
                    "group": GROUP,
                    "version": VERSION,
                    "groupPriorityMinimum": 100,
                    "versionPriority": 100,
                    "service": {"namespace": NAMESPACE, "name": SERVICE, "port": 443},
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
            },
        ),
    ):
        status, answer = await _call(session, "POST", server.url + path, token=token, body=body)
        assert status == 201, answer
    server.register_service_endpoint(NAMESPACE, SERVICE, "127.0.0.1", port)


async def test_the_aggregator_forwards_the_authenticated_caller_only(
    server: ApiServer, session: aiohttp.ClientSession
) -> None:
    status, cm = await _call(
        session,
        "GET",
        f"{server.url}/api/v1/namespaces/{AUTHENTICATION_CONFIGMAP[0]}/configmaps/"
        f"{AUTHENTICATION_CONFIGMAP[1]}",
        token=server.token,
    )
    assert status == 200
    backend_ca = trustme.CA()
    backend = Backend(backend_ca)
    await backend.start(cm["data"]["requestheader-client-ca-file"])
    try:
        await _register(session, server, backend.port, backend_ca.cert_pem.bytes())
        assert server.aggregator is not None
        server.aggregator.add_token("hpa-token", "system:serviceaccount:kube-system:hpa", ("sa",))
        things = f"{server.url}/apis/{GROUP}/{VERSION}/namespaces/team-a/things"
        spoof = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}

        # Anonymous (and with a claimed identity): refused before any backend sees it.
        before = len([s for s in backend.seen if "/team-a/things" in s["path"]])
        for headers in ({}, spoof):
            status, answer = await _call(session, "GET", things, headers=headers)
            assert (status, answer) == (401, UNAUTHORIZED)
        assert len([s for s in backend.seen if "/team-a/things" in s["path"]]) == before

        status, _ = await _call(session, "GET", things, token="hpa-token", headers=spoof)
        assert status == 200
        assert backend.seen[-1]["user"] == ["system:serviceaccount:kube-system:hpa"]
        assert backend.seen[-1]["groups"] == ["sa"]
        assert backend.seen[-1]["authorization"] is None

        status, _ = await _call(session, "GET", things, token=server.token)
        assert status == 200
        assert backend.seen[-1]["user"] == ["system:admin"]
        assert backend.seen[-1]["groups"] == ["system:masters", "system:authenticated"]
    finally:
        await backend.stop()


async def test_token_reviews_know_the_kubeconfig_token(
    server: ApiServer, session: aiohttp.ClientSession
) -> None:
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": server.token},
    }
    status, answer = await _call(
        session,
        "POST",
        f"{server.url}/apis/authentication.k8s.io/v1/tokenreviews",
        token=server.token,
        body=review,
    )
    assert status == 201
    assert answer["status"]["user"]["username"] == "system:admin"


async def test_plain_http_warns_that_it_is_unauthenticated() -> None:
    async with ApiServer(install_crds=False) as plain:
        assert plain.token is None
        assert "WARNING" in plain.security_note
        assert "without authentication" in plain.security_note
        assert plain.kubeconfig()["users"][0]["user"] == {}


def test_cluster_serve_refuses_plain_http_beyond_loopback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from podscaler.cli import main

    result = CliRunner().invoke(
        main,
        ["cluster", "serve", "--host", "0.0.0.0", "--kubeconfig", str(tmp_path / "kc")],
    )
    assert result.exit_code == 2
    assert "without --tls would serve an unauthenticated API" in result.output
    assert not (tmp_path / "kc").exists()
