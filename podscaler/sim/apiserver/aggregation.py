"""The embedded API server as kube-aggregator: APIService routing over TLS with a front proxy.

A real cluster serves ``external.metrics.k8s.io`` (and ``metrics.k8s.io``, ``custom.metrics``)
through the *aggregation layer*: an ``apiregistration.k8s.io/v1`` APIService named
``{version}.{group}`` tells kube-apiserver to forward ``/apis/{group}/{version}/...`` to a
Service, over TLS, verifying the backend against ``spec.caBundle`` as
``{service}.{namespace}.svc``, and authenticating *itself* with a front-proxy client certificate
while naming the end user in ``X-Remote-User`` / ``X-Remote-Group`` / ``X-Remote-Extra-*``. The
backend trusts those headers only on a connection whose certificate chains to the requestheader
CA published in ``kube-system/extension-apiserver-authentication``. podscaler's metrics API
implements exactly that contract, so the embedded cluster plays the other side of it here, and
the HPA controller of the embedded world reads external metrics *through* it, like
kube-controller-manager does.

What this module does, with the choices made where the embedded cluster has no real network:

* **Certificates.** At start it mints a front-proxy CA and a client certificate with common name
  ``front-proxy-client`` (extended key usage clientAuth), and a client CA, and publishes them in
  the ConfigMap with kube-apiserver's keys (``requestheader-client-ca-file``,
  ``requestheader-allowed-names``, ``requestheader-username-headers``,
  ``requestheader-group-headers``, ``requestheader-extra-headers-prefix``, ``client-ca-file``;
  lists as JSON). Nothing is persisted: every start is a new CA, like the serving CA.
* **Who the user is.** The caller the embedded server authenticated (see
  ``authentication.py``): the kubeconfig's administrator, the user of a registered token
  (:meth:`Aggregator.add_token`, e.g. the HPA controller's service account) or of a client
  certificate — and, on the unauthenticated plain-HTTP server, ``system:anonymous`` in
  ``system:unauthenticated`` for everyone else, so a backend's own authorization decides
  about them (never an administrator's identity for someone who showed none). Headers a
  client sent itself in the requestheader names are dropped, as kube-aggregator does, so
  nobody can claim a user.
* **Where the Service is.** There is no Service network, so a Service is resolved the way
  kube-aggregator's endpoint resolver does, from objects in the store: an ``ExternalName``
  Service goes to ``externalName:port``; otherwise the Service port equal to the APIService's
  ``port`` (default 443) is looked up, and the ``Endpoints`` object of the same name gives the
  address and the port of the same port name — a selector-less Service with hand-written
  Endpoints (``127.0.0.1``, the backend's real port) is an ordinary Kubernetes pattern and
  works unchanged with kubectl. For in-process backends, :meth:`Aggregator.register_endpoint`
  (``ApiServer.register_service_endpoint``) short-cuts the lookup.
* **Availability.** Each APIService with a ``spec.service`` gets the ``Available`` condition
  kube-aggregator writes: ``ServiceNotFound``, ``ServicePortError``, ``EndpointsNotFound``,
  ``MissingEndpoints``, ``FailedDiscoveryCheck`` (a ``GET /apis/{group}/{version}`` as
  ``system:kube-aggregator`` in ``system:masters`` that did not answer 2xx) or ``Passed``;
  local APIServices (no service) are ``Local``. Checked when an APIService, Service or
  Endpoints object is written and every :attr:`Aggregator.check_interval_seconds`.
* **Errors.** A backend that cannot be resolved or reached answers ``503 ServiceUnavailable`` as
  a ``Status`` (``error trying to reach service: ...`` for dial and TLS failures), which is what
  clients (the HPA: ``FailedGetExternalMetric``) see from a real cluster.

Deliberate simplifications versus kube-aggregator:

* requests are proxied whatever the ``Available`` condition says (upstream refuses with 503
  while it is False), so a backend that comes up is usable at once, without waiting for the
  next check; a backend that is down still answers 503, from the failed dial;
* one address is used (the first ready one), not a random one per request;
* discovery lists every APIService's group/version whether available or not (kubectl then
  reports the unavailable group, as it does against a real cluster): the legacy
  ``APIGroupList``, and the aggregated document with the resources the backend listed at its
  last passing check (``Stale`` when its last check failed); versions are ordered by
  ``versionPriority`` only;
* the front-proxy certificate is not rotated, and the backend's certificate is checked against
  ``caBundle`` (or the system roots when it is empty) unless ``insecureSkipTLSVerify``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import ssl
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web
from yarl import URL

from podscaler.clock import WallClock
from podscaler.pki import Authority
from podscaler.sim.apiserver import discovery
from podscaler.sim.apiserver.authentication import ANONYMOUS, USER, User
from podscaler.sim.apiserver.errors import AlreadyExists, ApiError
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Entry, Obj, rfc3339
from podscaler.sim.apiserver.wire import respond

__all__ = [
    "AUTHENTICATION_CONFIGMAP",
    "FRONT_PROXY_NAME",
    "Aggregator",
    "ForwardedUser",
    "FrontProxyIdentity",
    "ServiceUnavailable",
]

log = logging.getLogger(__name__)

#: Where kube-apiserver publishes its client CAs and requestheader settings.
AUTHENTICATION_CONFIGMAP: Final = ("kube-system", "extension-apiserver-authentication")
#: The common name of the front-proxy client certificate (kubeadm's name).
FRONT_PROXY_NAME: Final = "front-proxy-client"
USER_HEADER: Final = "X-Remote-User"
GROUP_HEADER: Final = "X-Remote-Group"
EXTRA_HEADER_PREFIX: Final = "X-Remote-Extra-"
#: Whom the availability check claims to be (upstream's identity for it).
CHECKER_USER: Final = "system:kube-aggregator"

#: Headers of the client's request passed to the backend; everything else (Authorization above
#: all, and any requestheader a client made up) stays behind.
_FORWARDED_HEADERS: Final = ("Accept", "Content-Type", "User-Agent")
#: kube-aggregator gives up on one discovery check after about 5 s.
_CHECK_TIMEOUT_SECONDS: Final = 5.0
_CONNECT_TIMEOUT_SECONDS: Final = 5.0


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


#: The user named to a backend in the requestheader headers: the authenticated caller.
ForwardedUser = User


# ------------------------------------------------------------------------------ certificates


@dataclass(frozen=True)
class FrontProxyIdentity:
    """The aggregator's own credentials: front-proxy CA and client certificate, and a client CA.

    ``client_ca`` is what the ConfigMap's ``client-ca-file`` names; :meth:`client_certificate`
    issues certificates from it, for tests of plain client-certificate authentication.
    """

    front_proxy_ca_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    client_ca_pem: bytes
    _client_ca: Authority
    valid_days: int

    @classmethod
    def mint(cls, *, valid_days: int = 365) -> FrontProxyIdentity:
        # Certificates: peers check them against the real time, not the simulated one.
        now, validity = WallClock().now(), dt.timedelta(days=valid_days)
        front_proxy_ca = Authority.create(
            "podscaler-embedded-front-proxy-ca", now=now, validity=validity
        )
        client = front_proxy_ca.issue(FRONT_PROXY_NAME, usage="client", now=now, validity=validity)
        client_ca = Authority.create("podscaler-embedded-client-ca", now=now, validity=validity)
        return cls(
            front_proxy_ca_pem=front_proxy_ca.pem,
            client_cert_pem=client.cert_pem,
            client_key_pem=client.key_pem,
            client_ca_pem=client_ca.pem,
            _client_ca=client_ca,
            valid_days=valid_days,
        )

    def client_certificate(self, user: str, groups: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
        """A certificate for ``user`` (CN) in ``groups`` (O), signed by the client CA."""
        issued = self._client_ca.issue(
            user,
            usage="client",
            now=WallClock().now(),
            validity=dt.timedelta(days=self.valid_days),
            organizations=groups,
        )
        return issued.cert_pem, issued.key_pem

    def configmap_data(self) -> dict[str, str]:
        """The ``extension-apiserver-authentication`` data, as kube-apiserver writes it."""
        return {
            "client-ca-file": self.client_ca_pem.decode(),
            "requestheader-client-ca-file": self.front_proxy_ca_pem.decode(),
            "requestheader-allowed-names": json.dumps([FRONT_PROXY_NAME]),
            "requestheader-username-headers": json.dumps([USER_HEADER]),
            "requestheader-group-headers": json.dumps([GROUP_HEADER]),
            "requestheader-extra-headers-prefix": json.dumps([EXTRA_HEADER_PREFIX]),
        }

    def client_context(self, ca_bundle_pem: bytes | None, *, verify: bool) -> ssl.SSLContext:
        """A TLS client context presenting the front-proxy certificate.

        ``ca_bundle_pem`` None or empty trusts the system roots (Go's behaviour with an empty
        caBundle). Raises ``ssl.SSLError``/``ValueError`` for a bundle that does not load.
        """
        if not verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif ca_bundle_pem:
            ctx = ssl.create_default_context(cadata=ca_bundle_pem.decode("ascii", "replace"))
        else:
            ctx = ssl.create_default_context()
        # Python's ssl only loads a certificate chain from files; they live only while loading.
        with tempfile.TemporaryDirectory(prefix="podscaler-front-proxy-") as tmp:
            cert = Path(tmp) / "tls.crt"
            key = Path(tmp) / "tls.key"
            cert.write_bytes(self.client_cert_pem)
            key.write_bytes(self.client_key_pem)
            key.chmod(0o600)
            ctx.load_cert_chain(cert, key)
        return ctx


# ------------------------------------------------------------------------------ resolution


class _Unresolved(Exception):
    """The APIService's Service cannot be turned into an address (reason as upstream's)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class _ServiceRef:
    namespace: str
    name: str
    port: int

    @property
    def server_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc"


def _service_ref(apiservice: Obj) -> _ServiceRef | None:
    ref = (apiservice.get("spec") or {}).get("service")
    if not isinstance(ref, dict) or not ref.get("name"):
        return None
    port = ref.get("port")
    return _ServiceRef(
        str(ref.get("namespace") or "default"),
        str(ref["name"]),
        int(port) if isinstance(port, int) and port > 0 else 443,
    )


def _host_for_url(host: str) -> str:
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]"
    except ValueError:
        pass
    return host


def _ca_bundle(apiservice: Obj) -> bytes:
    text = (apiservice.get("spec") or {}).get("caBundle") or ""
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"spec.caBundle is not valid base64: {exc}") from exc


def _priority(apiservice: Obj) -> int:
    value = (apiservice.get("spec") or {}).get("versionPriority")
    return int(value) if isinstance(value, int) else 0


# ------------------------------------------------------------------------------ aggregator


class Aggregator:
    """Routes APIService group/versions to their backends; owned by :class:`ApiServer`."""

    def __init__(self, server: ServerState, *, check_interval_seconds: float = 10.0) -> None:
        self.server = server
        #: How often every APIService's availability is checked again (upstream: a 30 s
        #: resync, plus every relevant write; the writes trigger a check here too).
        self.check_interval_seconds = check_interval_seconds
        #: Seconds a proxied request (other than a watch) may take.
        self.request_timeout_seconds = 60.0
        self.identity: FrontProxyIdentity | None = None
        self._tokens: dict[str, ForwardedUser] = {}
        self._endpoints: dict[tuple[str, str], tuple[str, int]] = {}
        self._contexts: dict[tuple[bytes, bool], ssl.SSLContext] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._checks: dict[str, asyncio.Task[None]] = {}
        self._recheck: set[str] = set()
        #: APIService name → the resources its backend listed at the last discovery check
        #: that passed (what aggregated discovery shows for it, stale once a check fails).
        self._discovered: dict[str, list[Obj]] = {}
        table = server.table
        self._apiservices = _required(table.get("apiregistration.k8s.io", "v1", "apiservices"))
        self._services = _required(table.get("", "v1", "services"))
        self._endpoints_rt = _required(table.get("", "v1", "endpoints"))
        self._configmaps = _required(table.get("", "v1", "configmaps"))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.identity = FrontProxyIdentity.mint()
        self._publish_authentication()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, enable_cleanup_closed=True),
            auto_decompress=False,
        )
        self._loop_task = asyncio.create_task(self._check_periodically(), name="apiservice-checks")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._checks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop_task = None
        self._checks.clear()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _publish_authentication(self) -> None:
        assert self.identity is not None
        namespace, name = AUTHENTICATION_CONFIGMAP
        body: Obj = {
            "metadata": {"name": name, "namespace": namespace},
            "data": self.identity.configmap_data(),
        }
        try:
            self.server.store.create(self._configmaps, body, namespace=namespace)
        except AlreadyExists:
            current = self.server.store.get(self._configmaps, namespace, name).copy()
            current["data"] = body["data"]
            self.server.store.update(self._configmaps, current, namespace=namespace)

    # ------------------------------------------------------------------ configuration

    def add_token(
        self,
        token: str,
        user: str,
        groups: tuple[str, ...] = ("system:authenticated",),
        extra: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Requests with ``Authorization: Bearer {token}`` are forwarded as ``user``."""
        self._tokens[token] = ForwardedUser(user, groups, dict(extra or {}))

    def register_endpoint(self, namespace: str, name: str, host: str, port: int) -> None:
        """Send Service ``namespace/name`` to ``host:port`` without Service/Endpoints objects."""
        self._endpoints[(namespace, name)] = (host, port)
        for apiservice in self._apiservices_for(namespace, name):
            self.schedule_check(apiservice)

    def token_user(self, token: str) -> ForwardedUser | None:
        """The user registered for ``token`` with :meth:`add_token`, if any."""
        return self._tokens.get(token)

    def user_of(self, request: web.Request) -> ForwardedUser:
        """The user to name to the backend: whom the server authenticated, else anonymous."""
        return request.get(USER) or ANONYMOUS

    # ------------------------------------------------------------------ routing

    async def route(self, request: web.Request, parts: list[str]) -> web.StreamResponse | None:
        """Answer ``request`` when it is aggregated (or aggregated discovery); None otherwise."""
        if not parts:
            return self._root_paths()
        if parts[0] != "apis":
            return None
        if len(parts) == 1:
            version = discovery.aggregated_version(request.headers.get("Accept", ""))
            if version is not None:
                return discovery.aggregated_response(self._group_discovery(), version)
            return respond(self._group_list())
        if len(parts) == 2:
            return self._group(parts[1])
        found = self.server.store.find(self._apiservices, "", f"{parts[2]}.{parts[1]}")
        if found is None or _service_ref(found.obj) is None:
            return None
        return await self._proxy(request, found.obj)

    def _aggregated(self) -> dict[str, list[Obj]]:
        """Group → its APIServices that route to a Service, highest versionPriority first."""
        out: dict[str, list[Obj]] = {}
        for entry in self.server.store.entries(self._apiservices):
            obj = entry.obj
            spec = obj.get("spec") or {}
            if _service_ref(obj) is None or not spec.get("group") or not spec.get("version"):
                continue
            out.setdefault(str(spec["group"]), []).append(obj)
        for services in out.values():
            services.sort(key=lambda o: (-_priority(o), str(o["metadata"]["name"])))
        return out

    def _versions(self, group: str, aggregated: Mapping[str, list[Obj]]) -> list[str]:
        versions = list(self.server.table.group_versions().get(group, []))
        for obj in aggregated.get(group, []):
            version = str(obj["spec"]["version"])
            if version not in versions:
                versions.append(version)
        return versions

    @staticmethod
    def _group_document(group: str, versions: list[str]) -> Obj:
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": listed, "preferredVersion": listed[0]}

    def _group_list(self) -> Obj:
        document = discovery.api_group_list(self.server.table)
        aggregated = self._aggregated()
        if not aggregated:
            return document
        by_name = {g["name"]: i for i, g in enumerate(document["groups"])}
        for group in aggregated:
            entry = self._group_document(group, self._versions(group, aggregated))
            if group in by_name:
                document["groups"][by_name[group]] = entry
            else:
                document["groups"].append(entry)
        return document

    def _group_discovery(self) -> list[Obj]:
        """The aggregated discovery items of ``/apis``: the local groups, with every group an
        APIService routes replaced by what its backends listed (``Stale`` while its last check
        failed, as kube-aggregator marks it, so clients report that group-version)."""
        items = discovery.table_groups(self.server.table, core=False)
        aggregated = self._aggregated()
        if not aggregated:
            return items
        by_name = {str(i["metadata"].get("name")): n for n, i in enumerate(items)}
        for group, services in aggregated.items():
            versions = []
            for obj in services:
                version = str(obj["spec"]["version"])
                resources = self._discovered.get(str(obj["metadata"]["name"]))
                fresh = resources is not None and _available(obj)
                listed = discovery.from_resource_list(group, version, resources or [])
                versions.append((version, listed, "Current" if fresh else "Stale"))
            entry = discovery.group_discovery(group, versions)
            if group in by_name:
                items[by_name[group]] = entry
            else:
                items.append(entry)
        return items

    def _group(self, group: str) -> web.Response | None:
        aggregated = self._aggregated()
        if group not in aggregated:
            return None
        document = self._group_document(group, self._versions(group, aggregated))
        return respond({"kind": "APIGroup", "apiVersion": "v1", **document})

    def _root_paths(self) -> web.Response | None:
        aggregated = self._aggregated()
        if not aggregated:
            return None
        paths = set(discovery.root_paths(self.server.table)["paths"])
        for group, services in aggregated.items():
            paths.add(f"/apis/{group}")
            paths.update(f"/apis/{group}/{obj['spec']['version']}" for obj in services)
        return respond({"paths": sorted(paths)})

    # ------------------------------------------------------------------ proxying

    def resolve(self, apiservice: Obj) -> tuple[str, int]:
        """The backend address of an APIService, as kube-aggregator's endpoint resolver finds it."""
        ref = _service_ref(apiservice)
        if ref is None:
            raise _Unresolved("Local", "the APIService is served locally")
        registered = self._endpoints.get((ref.namespace, ref.name))
        if registered is not None:
            return registered
        store = self.server.store
        service = store.find(self._services, ref.namespace, ref.name)
        where = f'service/{ref.name} in "{ref.namespace}"'
        if service is None:
            raise _Unresolved("ServiceNotFound", f"{where} is not present")
        spec = service.obj.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return str(spec.get("externalName") or ""), ref.port
        port_name: str | None = None
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and port.get("port") == ref.port:
                port_name = str(port.get("name") or "")
        if port_name is None:
            raise _Unresolved("ServicePortError", f"{where} is not listening on port {ref.port}")
        endpoints = store.find(self._endpoints_rt, ref.namespace, ref.name)
        if endpoints is None:
            raise _Unresolved(
                "EndpointsNotFound",
                f'cannot find endpoints for service/{ref.name} in "{ref.namespace}"',
            )
        for subset in endpoints.obj.get("subsets") or []:
            addresses = [a for a in subset.get("addresses") or [] if a.get("ip")]
            if not addresses:
                continue
            for port in subset.get("ports") or []:
                if str(port.get("name") or "") == port_name and isinstance(port.get("port"), int):
                    return str(addresses[0]["ip"]), int(port["port"])
        raise _Unresolved(
            "MissingEndpoints",
            f'endpoints for service/{ref.name} in "{ref.namespace}" have no addresses with '
            f'port name "{port_name}"',
        )

    def _context(self, apiservice: Obj) -> ssl.SSLContext:
        assert self.identity is not None
        verify = (apiservice.get("spec") or {}).get("insecureSkipTLSVerify") is not True
        bundle = _ca_bundle(apiservice) if verify else b""
        key = (bundle, verify)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self.identity.client_context(bundle, verify=verify)
            if len(self._contexts) > 64:
                self._contexts.clear()
            self._contexts[key] = ctx
        return ctx

    def _target(self, apiservice: Obj, path_qs: str) -> tuple[URL, ssl.SSLContext, str]:
        """The URL, TLS context and server name for one request; ServiceUnavailable if none."""
        ref = _service_ref(apiservice)
        assert ref is not None
        try:
            host, port = self.resolve(apiservice)
        except _Unresolved as exc:
            raise ServiceUnavailable(f"service unavailable: {exc.message}") from exc
        try:
            ctx = self._context(apiservice)
        except (ssl.SSLError, ValueError) as exc:
            raise ServiceUnavailable(
                f"error trying to reach service: the APIService caBundle does not load: {exc}"
            ) from exc
        url = URL(f"https://{_host_for_url(host)}:{port}{path_qs}", encoded=True)
        return url, ctx, ref.server_name

    async def _proxy(self, request: web.Request, apiservice: Obj) -> web.StreamResponse:
        assert self._session is not None
        url, ctx, server_name = self._target(apiservice, request.raw_path)
        headers = [(n, request.headers[n]) for n in _FORWARDED_HEADERS if request.headers.get(n)]
        headers.extend(_requestheaders(self.user_of(request)))
        watching = request.query.get("watch") in ("1", "true")
        timeout = aiohttp.ClientTimeout(
            total=None if watching else self.request_timeout_seconds,
            sock_connect=_CONNECT_TIMEOUT_SECONDS,
        )
        body = await request.read() if request.can_read_body else None
        try:
            upstream = await self._session.request(
                request.method,
                url,
                data=body,
                headers=headers,
                ssl=ctx,
                server_hostname=server_name,
                timeout=timeout,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise ServiceUnavailable(f"error trying to reach service: {_describe(exc)}") from exc
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            content_type = upstream.headers.get("Content-Type")
            if content_type:
                response.headers["Content-Type"] = content_type
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    # ------------------------------------------------------------------ availability

    def after_write(self, rt: ResourceType, entry: Entry) -> None:
        """An APIService, Service or Endpoints object was written: check what it affects."""
        if rt is self._apiservices:
            self.schedule_check(entry.name)
        elif rt is self._services or rt is self._endpoints_rt:
            for name in self._apiservices_for(entry.namespace, entry.name):
                self.schedule_check(name)

    def _apiservices_for(self, namespace: str, name: str) -> list[str]:
        out = []
        for entry in self.server.store.entries(self._apiservices):
            ref = _service_ref(entry.obj)
            if ref is not None and (ref.namespace, ref.name) == (namespace, name):
                out.append(entry.name)
        return out

    def schedule_check(self, name: str) -> None:
        """Check ``name`` soon; a check already running is followed by one more."""
        if self._session is None:
            return
        running = self._checks.get(name)
        if running is not None and not running.done():
            self._recheck.add(name)
            return
        self._checks[name] = asyncio.get_running_loop().create_task(
            self._check_and_repeat(name), name=f"apiservice-check-{name}"
        )

    async def _check_and_repeat(self, name: str) -> None:
        try:
            await self.check(name)
            while name in self._recheck:
                self._recheck.discard(name)
                await self.check(name)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("embedded aggregator: checking APIService %s failed", name)
        finally:
            self._checks.pop(name, None)

    async def _check_periodically(self) -> None:
        while True:
            for entry in list(self.server.store.entries(self._apiservices)):
                self.schedule_check(entry.name)
            await asyncio.sleep(self.check_interval_seconds)

    async def check(self, name: str) -> None:
        """Compute and store the ``Available`` condition of APIService ``name``."""
        found = self.server.store.find(self._apiservices, "", name)
        if found is None:
            return
        obj = found.obj
        if _service_ref(obj) is None:
            status, reason, message = "True", "Local", "Local APIServices are always available"
        else:
            try:
                await self._discovery_check(obj)
            except _Unresolved as exc:
                status, reason, message = "False", exc.reason, exc.message
            else:
                status, reason, message = "True", "Passed", "all checks passed"
        self._set_available(name, status, reason, message)

    async def _discovery_check(self, apiservice: Obj) -> None:
        assert self._session is not None
        spec = apiservice.get("spec") or {}
        path = f"/apis/{spec.get('group')}/{spec.get('version')}"
        try:
            url, ctx, server_name = self._target(apiservice, path)
        except ServiceUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, _Unresolved):
                raise cause from None
            raise _Unresolved("FailedDiscoveryCheck", exc.message) from exc
        headers = _requestheaders(ForwardedUser(CHECKER_USER, ("system:masters",)))
        shown = str(url)
        try:
            async with self._session.get(
                url,
                headers=headers,
                ssl=ctx,
                server_hostname=server_name,
                timeout=aiohttp.ClientTimeout(total=_CHECK_TIMEOUT_SECONDS),
                allow_redirects=False,
            ) as answer:
                body = await answer.read()
                if not 200 <= answer.status < 300:
                    raise _Unresolved(
                        "FailedDiscoveryCheck",
                        f"failing or missing response from {shown}: "
                        f"bad status from {shown}: {answer.status}",
                    )
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise _Unresolved(
                "FailedDiscoveryCheck",
                f"failing or missing response from {shown}: {_describe(exc)}",
            ) from exc
        with contextlib.suppress(ValueError):
            listing = json.loads(body)
            if isinstance(listing, dict) and isinstance(listing.get("resources"), list):
                self._discovered[str(apiservice["metadata"]["name"])] = listing["resources"]

    def _set_available(self, name: str, status: str, reason: str, message: str) -> None:
        found = self.server.store.find(self._apiservices, "", name)
        if found is None:
            return
        obj = found.copy()
        conditions = list((obj.get("status") or {}).get("conditions") or [])
        previous = next((c for c in conditions if c.get("type") == "Available"), None)
        transition = rfc3339(self.server.now())
        if previous is not None and previous.get("status") == status:
            transition = str(previous.get("lastTransitionTime") or transition)
        condition = {
            "type": "Available",
            "status": status,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
        if previous == condition:
            return
        conditions = [c for c in conditions if c.get("type") != "Available"] + [condition]
        obj["status"] = {**(obj.get("status") or {}), "conditions": conditions}
        self.server.store.update(self._apiservices, obj, name=name, subresource="status")
        if previous is None or previous.get("status") != status:
            log.info("embedded aggregator: APIService %s Available=%s (%s)", name, status, reason)


def _available(apiservice: Obj) -> bool:
    conditions = (apiservice.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


def _requestheaders(user: ForwardedUser) -> list[tuple[str, str]]:
    """The front-proxy headers naming ``user`` (extra keys are percent-encoded, as upstream)."""
    headers = [(USER_HEADER, user.name)]
    headers.extend((GROUP_HEADER, group) for group in user.groups)
    for key, values in user.extra.items():
        header = EXTRA_HEADER_PREFIX + urllib.parse.quote(key, safe="")
        headers.extend((header, value) for value in values)
    return headers


def _required(rt: ResourceType | None) -> ResourceType:
    if rt is None:
        raise LookupError("the embedded API server does not serve a kind aggregation needs")
    return rt


def _describe(exc: BaseException) -> str:
    """A short cause for a failed dial or handshake (aiohttp's texts name the real reason)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"x509: {exc.certificate_error}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    text = str(exc) or type(exc).__name__
    return text
