"""The embedded API server as kube-aggregator, against a real TLS backend.

The backend is a small aiohttp server over TLS (certificates from trustme, issued for
``{service}.{namespace}.svc``) that requires a client certificate signed by the front-proxy CA
the embedded server published in ``kube-system/extension-apiserver-authentication`` — what an
extension API server does. Covered: requests through the embedded server arrive with the
verified front-proxy certificate and the ``X-Remote-User``/``X-Remote-Group`` of the caller
(spoofed ones dropped); the Service is found through its Endpoints object (or the in-process
registry); discovery lists the aggregated group; a wrong caBundle, a backend that is down and a
missing Service answer 503 ``Status`` and turn ``Available`` False with upstream's reasons.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from podscaler.sim.apiserver.aggregation import AUTHENTICATION_CONFIGMAP, FRONT_PROXY_NAME
from podscaler.sim.apiserver.server import ApiServer

GROUP = "things.example.com"
VERSION = "v1alpha1"
NAMESPACE = "backends"
SERVICE = "things-api"
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


@dataclass
class Backend:
    """A TLS extension API server that records who called it."""

    ca: trustme.CA
    seen: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self, front_proxy_ca_pem: str, port: int = 0) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(f"{SERVICE}.{NAMESPACE}.svc").configure_cert(ctx)
        ctx.load_verify_locations(cadata=front_proxy_ca_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
        app = web.Application()
        app.router.add_get(f"/apis/{GROUP}/{VERSION}", self._discovery)
        app.router.add_get(f"/apis/{GROUP}/{VERSION}/namespaces/{{ns}}/things", self._things)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=ctx)
        await site.start()
        assert site._server is not None
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _record(self, request: web.Request) -> None:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        cn = ""
        if der:
            cert = x509.load_der_x509_certificate(der)
            cn = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        self.seen.append(
            {
                "path": request.path_qs,
                "cn": cn,
                "user": request.headers.getall("X-Remote-User", []),
                "groups": request.headers.getall("X-Remote-Group", []),
                "authorization": request.headers.get("Authorization"),
            }
        )

    async def _discovery(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{GROUP}/{VERSION}",
                "resources": [
                    {"name": "things", "namespaced": True, "kind": "Thing", "verbs": ["list"]}
                ],
            }
        )

    async def _things(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response(
            {"kind": "ThingList", "apiVersion": f"{GROUP}/{VERSION}", "items": [{"n": 1}]}
        )


@pytest.fixture
async def server() -> AsyncIterator[ApiServer]:
    async with ApiServer(install_crds=False, aggregation=True) as api:
        yield api


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def backend_ca() -> trustme.CA:
    return trustme.CA()


async def _front_proxy_ca(client: aiohttp.ClientSession, server: ApiServer) -> str:
    url = f"{server.url}/api/v1/namespaces/kube-system/configmaps/{AUTHENTICATION_CONFIGMAP[1]}"
    async with client.get(url) as resp:
        assert resp.status == 200
        data = (await resp.json())["data"]
    assert json.loads(data["requestheader-allowed-names"]) == [FRONT_PROXY_NAME]
    assert json.loads(data["requestheader-username-headers"]) == ["X-Remote-User"]
    assert json.loads(data["requestheader-group-headers"]) == ["X-Remote-Group"]
    assert json.loads(data["requestheader-extra-headers-prefix"]) == ["X-Remote-Extra-"]
    assert "BEGIN CERTIFICATE" in data["client-ca-file"]
    return str(data["requestheader-client-ca-file"])


@pytest.fixture
async def backend(
    server: ApiServer, client: aiohttp.ClientSession, backend_ca: trustme.CA
) -> AsyncIterator[Backend]:
    running = Backend(backend_ca)
    await running.start(await _front_proxy_ca(client, server))
    yield running
    await running.stop()


async def _post(client: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with client.post(url, json=body) as resp:
        assert resp.status == 201, await resp.text()


async def _register(
    client: aiohttp.ClientSession,
    server: ApiServer,
    port: int,
    ca_pem: bytes,
    *,
    endpoints: bool = True,
) -> None:
    """A Namespace, a selector-less Service with hand-written Endpoints, and the APIService."""
    await _post(client, f"{server.url}/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
    await _post(
        client,
        f"{server.url}/api/v1/namespaces/{NAMESPACE}/services",
        {
            "metadata": {"name": SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port}]},
        },
    )
    if endpoints:
        await _post(
            client,
            f"{server.url}/api/v1/namespaces/{NAMESPACE}/endpoints",
            {
                "metadata": {"name": SERVICE},
                "subsets": [
                    {
                        "addresses": [{"ip": "127.0.0.1"}],
                        "ports": [{"name": "https", "port": port}],
                    }
                ],
            },
        )
    await _post(
        client,
        f"{server.url}{APISERVICES}",
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
    )


async def _available(
    server: ApiServer, predicate: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Wait for the APIService's Available condition to satisfy ``predicate``."""
    rt = server.table.get("apiregistration.k8s.io", "v1", "apiservices")
    assert rt is not None
    condition: dict[str, Any] = {}
    for _ in range(250):
        entry = server.store.find(rt, "", f"{VERSION}.{GROUP}")
        conditions = ((entry.obj.get("status") or {}).get("conditions") or []) if entry else []
        condition = next((c for c in conditions if c["type"] == "Available"), {})
        if condition and predicate(condition):
            return condition
        await asyncio.sleep(0.02)
    raise AssertionError(f"the Available condition never matched; last: {condition}")


def _things_url(server: ApiServer) -> str:
    return f"{server.url}/apis/{GROUP}/{VERSION}/namespaces/team-a/things?limit=5"


async def test_requests_arrive_with_the_front_proxy_certificate_and_the_callers_identity(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend, backend_ca: trustme.CA
) -> None:
    assert server.aggregator is not None
    server.aggregator.add_token("hpa-token", "system:serviceaccount:kube-system:hpa", ("ops",))
    await _register(client, server, backend.port, backend_ca.cert_pem.bytes())
    condition = await _available(server, lambda c: c["status"] == "True")
    assert (condition["reason"], condition["message"]) == ("Passed", "all checks passed")
    # The availability check itself calls as system:kube-aggregator in system:masters.
    check = next(s for s in backend.seen if s["path"] == f"/apis/{GROUP}/{VERSION}")
    assert (check["cn"], check["user"], check["groups"]) == (
        FRONT_PROXY_NAME,
        ["system:kube-aggregator"],
        ["system:masters"],
    )

    spoofed = {
        "Authorization": "Bearer hpa-token",
        "X-Remote-User": "system:admin",
        "X-Remote-Group": "system:masters",
    }
    async with client.get(_things_url(server), headers=spoofed) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        assert (await resp.json())["items"] == [{"n": 1}]
    seen = backend.seen[-1]
    assert seen["path"] == "/apis/things.example.com/v1alpha1/namespaces/team-a/things?limit=5"
    assert seen["cn"] == FRONT_PROXY_NAME
    assert seen["user"] == ["system:serviceaccount:kube-system:hpa"]
    assert seen["groups"] == ["ops"]
    assert seen["authorization"] is None

    # A caller who showed no credential (plain HTTP lets them in) is named as anonymous,
    # never as an administrator: the backend's own authorization decides about them.
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 200
    assert backend.seen[-1]["user"] == ["system:anonymous"]
    assert backend.seen[-1]["groups"] == ["system:unauthenticated"]


async def test_discovery_lists_the_aggregated_group(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend, backend_ca: trustme.CA
) -> None:
    await _register(client, server, backend.port, backend_ca.cert_pem.bytes())
    async with client.get(f"{server.url}/apis") as resp:
        groups = {g["name"]: g for g in (await resp.json())["groups"]}
    assert groups[GROUP]["preferredVersion"] == {
        "groupVersion": f"{GROUP}/{VERSION}",
        "version": VERSION,
    }
    assert "apps" in groups  # the server's own groups are still there
    async with client.get(f"{server.url}/apis/{GROUP}") as resp:
        assert resp.status == 200
        group = await resp.json()
    assert (group["kind"], group["name"]) == ("APIGroup", GROUP)
    async with client.get(f"{server.url}/apis/{GROUP}/{VERSION}") as resp:
        assert resp.status == 200
        assert (await resp.json())["resources"][0]["name"] == "things"
    async with client.get(f"{server.url}/") as resp:
        assert f"/apis/{GROUP}/{VERSION}" in (await resp.json())["paths"]


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


async def _aggregated_group(client: aiohttp.ClientSession, server: ApiServer) -> dict[str, Any]:
    headers = {"Accept": f"{AGGREGATED},application/json"}
    async with client.get(f"{server.url}/apis", headers=headers) as resp:
        assert resp.headers["Content-Type"] == AGGREGATED
        items = (await resp.json())["items"]
    assert any(i["metadata"]["name"] == "apps" for i in items)
    return next(i for i in items if i["metadata"]["name"] == GROUP)


async def test_aggregated_discovery_shows_what_the_backend_listed_and_when_it_went_stale(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend, backend_ca: trustme.CA
) -> None:
    await _register(client, server, backend.port, backend_ca.cert_pem.bytes())
    await _available(server, lambda c: c["status"] == "True")
    group = await _aggregated_group(client, server)
    (version,) = group["versions"]
    assert (version["version"], version["freshness"]) == (VERSION, "Current")
    assert version["resources"] == [
        {
            "resource": "things",
            "responseKind": {"group": GROUP, "version": VERSION, "kind": "Thing"},
            "scope": "Namespaced",
            "singularResource": "",
            "verbs": ["list"],
        }
    ]
    await backend.stop()
    assert server.aggregator is not None
    await server.aggregator.check(f"{VERSION}.{GROUP}")
    await _available(server, lambda c: c["status"] == "False")
    stale = (await _aggregated_group(client, server))["versions"][0]
    # kube-aggregator keeps the last resources it saw, marked Stale (clients report it)
    assert (stale["freshness"], stale["resources"]) == ("Stale", version["resources"])


async def test_a_wrong_ca_bundle_is_a_503_and_unavailable(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend
) -> None:
    await _register(client, server, backend.port, trustme.CA().cert_pem.bytes())
    condition = await _available(server, lambda c: c["status"] == "False")
    assert condition["reason"] == "FailedDiscoveryCheck"
    assert condition["message"].startswith("failing or missing response from https://127.0.0.1:")
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 503
        status = await resp.json()
    assert (status["kind"], status["reason"], status["code"]) == (
        "Status",
        "ServiceUnavailable",
        503,
    )
    assert status["message"].startswith("error trying to reach service: x509")
    assert not any(s["path"].endswith("things?limit=5") for s in backend.seen)


async def test_a_backend_that_is_down_is_a_503_until_it_comes_back(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend, backend_ca: trustme.CA
) -> None:
    await _register(client, server, backend.port, backend_ca.cert_pem.bytes())
    await _available(server, lambda c: c["status"] == "True")
    port = backend.port
    await backend.stop()
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 503
        status = await resp.json()
    assert status["reason"] == "ServiceUnavailable"
    assert status["message"].startswith("error trying to reach service:")
    assert server.aggregator is not None
    await server.aggregator.check(f"{VERSION}.{GROUP}")
    condition = await _available(server, lambda c: c["status"] == "False")
    assert condition["reason"] == "FailedDiscoveryCheck"

    await backend.start(await _front_proxy_ca(client, server), port=port)
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 200


async def test_a_missing_service_or_endpoints_say_so(
    server: ApiServer, client: aiohttp.ClientSession, backend: Backend, backend_ca: trustme.CA
) -> None:
    await _register(client, server, backend.port, backend_ca.cert_pem.bytes(), endpoints=False)
    condition = await _available(server, lambda c: c["status"] == "False")
    assert condition["reason"] == "EndpointsNotFound"
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 503
        assert "cannot find endpoints for service/things-api" in (await resp.json())["message"]

    async with client.delete(f"{server.url}/api/v1/namespaces/{NAMESPACE}/services/{SERVICE}"):
        pass
    assert server.aggregator is not None
    await server.aggregator.check(f"{VERSION}.{GROUP}")
    condition = await _available(server, lambda c: c["reason"] == "ServiceNotFound")
    assert condition["message"] == 'service/things-api in "backends" is not present'

    # The in-process registry stands in for Service networking.
    server.register_service_endpoint(NAMESPACE, SERVICE, "127.0.0.1", backend.port)
    await _available(server, lambda c: c["status"] == "True")
    async with client.get(_things_url(server)) as resp:
        assert resp.status == 200
