"""Client setup without a server: explicit URLs, in-cluster files, token rotation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from podscaler.kube.clients import ServiceAccountToken, connect
from podscaler.kube.errors import KubeError


async def test_explicit_server_with_token() -> None:
    kube = await connect(server="https://127.0.0.1:6443", token="abc", insecure=True)
    async with kube:
        assert kube.host == "https://127.0.0.1:6443"
        assert (await kube._headers(None))["Authorization"] == "Bearer abc"
        assert kube.endpoint.verify_ssl is False


async def test_in_cluster_reads_env_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    (tmp_path / "token").write_text("first\n")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    async with await connect(service_account_dir=tmp_path) as kube:
        assert kube.host == "https://[fd00::1]:6443"
        assert (await kube._headers(None))["Authorization"] == "Bearer first"


def test_token_is_reread_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first")
    token = ServiceAccountToken(path)
    assert token.header(now=0.0) == "Bearer first"
    replacement = tmp_path / "token.new"
    replacement.write_text("second")
    os.replace(replacement, path)
    # Within the check interval the cached token is served without a stat().
    assert token.header(now=0.5) == "Bearer first"
    assert token.header(now=2.0) == "Bearer second"


def test_empty_token_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("")
    with pytest.raises(KubeError):
        ServiceAccountToken(path)


async def test_in_cluster_without_host_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeError):
        await connect(in_cluster=True)
    await asyncio.sleep(0)


async def test_sessions_do_not_read_the_environment_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """trust_env=True made aiohttp read ~/.netrc and the proxies in a thread on every request
    (a third of the operator's CPU at 10,000 objects): the proxy is resolved once, here."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with await connect(server="https://10.0.0.1:6443", insecure=True) as kube:
        assert kube._session.trust_env is False
        assert kube._watch_session.trust_env is False
        assert kube._extra["proxy"] == "http://proxy.example:3128"
        # Watches have a connector of their own: they never hold a request's slot.
        assert kube._watch_session.connector is not kube._session.connector
        assert kube.pool_stats == (0, 0)
    monkeypatch.setenv("NO_PROXY", "10.0.0.1")
    async with await connect(server="https://10.0.0.1:6443", insecure=True) as kube:
        assert "proxy" not in kube._extra


async def test_kubeconfig_gives_endpoint_and_credentials(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443',"
        " insecure-skip-tls-verify: true, tls-server-name: api.example}}]\n"
        "users: [{name: u, user: {token: xyz}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    async with await connect(kubeconfig=path) as kube:
        assert kube.host == "https://127.0.0.1:6443"
        assert kube.endpoint.verify_ssl is False
        assert kube.endpoint.server_hostname == "api.example"
        assert kube.api_client is not None
        assert (await kube._headers(None))["Authorization"] == "Bearer xyz"


async def test_explicit_server_needs_no_kubernetes_asyncio() -> None:
    kube = await connect(server="http://127.0.0.1:1")
    async with kube:
        assert kube.api_client is None
        assert "Authorization" not in await kube._headers(None)


def test_the_demo_does_not_import_kubernetes_asyncio() -> None:
    """Its generated models take half a second to import; the demo connects by URL."""
    code = (
        "import sys, podscaler.commands.demo, podscaler.manager.run\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('kubernetes_asyncio'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
