"""Connecting to a Kubernetes API server, and one generic request helper over dicts.

kubernetes-asyncio loads a kubeconfig (files and contexts, client certificates, exec plugins,
refreshed tokens). Above that we do not use its generated API classes: the operator handles
arbitrary kinds (custom resources, ``/scale`` of anything) and informers see tens of thousands
of objects, so building model objects for every answer would cost time and give nothing a dict
does not. :class:`Kube` therefore sends requests itself and returns decoded JSON; what it needs
to know of the server is an :class:`Endpoint`, and kubernetes-asyncio is imported only for a
kubeconfig.

Three ways in, all through :func:`connect`:

* a kubeconfig (path and optional context), as ``kubectl`` reads it;
* in-cluster: the service account token and CA under
  ``/var/run/secrets/kubernetes.io/serviceaccount`` and ``KUBERNETES_SERVICE_HOST/PORT``.
  The kubelet rotates projected tokens (hourly by default) by swapping the file, so the token
  is re-read when the file changes (checked at most once a second) and after any 401;
* an explicit server URL with an optional token, CA file, or ``insecure`` for tests.

HTTP sessions. :class:`Kube` owns two aiohttp sessions of its own (a kubeconfig's ``ApiClient``'s
is left unused): one for requests, one for watch streams, each with its own connector. Why:

* kubernetes-asyncio's session is built with ``trust_env=True``, which makes aiohttp read
  ``~/.netrc`` and look up the environment's proxies in the thread pool on **every request**:
  at 10,000 ScaledObjects the first round of status writes spent a third of the operator's CPU
  there (bench/RESULTS.md, issue 4). Here the proxy (``configuration.proxy``, else
  ``HTTPS_PROXY`` / ``NO_PROXY`` as client-go reads them) is resolved once, at connect;
  ``.netrc`` is not consulted (no Kubernetes client does);
* a watch holds its connection for minutes: on a shared, size-limited pool, long-lived
  streams take slots that requests then wait for. Watches get their own unlimited connector
  (one connection per informer), requests a pool of ``pool_size`` connections
  (:data:`DEFAULT_POOL_SIZE`), whose wait counts in a request's timeout.

Neither session keeps cookies (client-go's ``http.Client`` has no jar either): an API server
sets none, and aiohttp's default jar is consulted on every request and answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from podscaler.api.flags import flag
from podscaler.kube.errors import (
    ApiError,
    KubeError,
    TransportError,
    error_for_status,
)

if TYPE_CHECKING:
    from kubernetes_asyncio.client import ApiClient

__all__ = [
    "DEFAULT_POOL_SIZE",
    "DEFAULT_WATCH_TIMEOUT_SECONDS",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "ConnectOptions",
    "Endpoint",
    "Kube",
    "ServiceAccountToken",
    "WatchStream",
    "connect",
]

log = logging.getLogger(__name__)

MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")

#: Requests other than watches give up after this long; a stuck API server must not stall a
#: controller forever.
DEFAULT_REQUEST_TIMEOUT_SECONDS: Final = 30.0

#: Connections for requests (watches have their own): at most this many requests in flight,
#: the others wait for a connection (kubernetes-asyncio's default is 100 too).
DEFAULT_POOL_SIZE: Final = 100

#: How long an informer's watch asks the server to keep its stream open (client-go's minimum
#: watch timeout, five minutes; each watch asks for between one and two times this). The
#: timeout exists for the real world — spreading clients over API server replicas, not trusting
#: a connection forever — so it is real time: a simulation whose clock runs thousands of times
#: faster asks for longer watches (``connect(watch_timeout_seconds=...)``).
DEFAULT_WATCH_TIMEOUT_SECONDS: Final = 300.0

#: aiohttp's read buffer: watch events of large objects exceed its 64 KiB default (etcd allows
#: objects up to 1.5 MiB), as kubernetes-asyncio sets it.
_READ_BUFSIZE: Final = 2**21

#: How often the in-cluster token file is stat()ed for rotation.
TOKEN_CHECK_INTERVAL_SECONDS: Final = 1.0

Params = Mapping[str, str | int | bool | None]


class ServiceAccountToken:
    """A bearer token read from a file, re-read when the file is replaced.

    The kubelet writes a new projected token through an atomic symlink swap, which changes
    the inode and mtime seen through the path; comparing them is cheaper than reading the
    file on every request and sees a rotation within :data:`TOKEN_CHECK_INTERVAL_SECONDS`.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._token = ""
        self._stamp: tuple[int, int] | None = None
        self._next_check = float("-inf")
        self.reload()

    def reload(self) -> None:
        """Read the file now (also used after a 401, when the server says the token is stale)."""
        st = os.stat(self._path)
        token = self._path.read_text().strip()
        if not token:
            raise KubeError(f"service account token file {self._path} is empty")
        self._token = token
        self._stamp = (st.st_ino, st.st_mtime_ns)

    def header(self, now: float) -> str:
        """The Authorization header value; ``now`` is the loop time."""
        if now >= self._next_check:
            self._next_check = now + TOKEN_CHECK_INTERVAL_SECONDS
            try:
                st = os.stat(self._path)
            except OSError:
                log.warning(
                    "service account token file %s vanished; keeping the old token", self._path
                )
            else:
                if (st.st_ino, st.st_mtime_ns) != self._stamp:
                    self.reload()
        return f"Bearer {self._token}"


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    reason: str
    body: bytes


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is and how to trust it: what :class:`Kube` reads of
    kubernetes-asyncio's ``Configuration``.

    Only a kubeconfig needs kubernetes-asyncio (contexts, exec plugins, refreshed tokens);
    an explicit URL and in-cluster files are read here, so that the commands that use them
    (``podscaler demo``, ``simulate``, in-cluster ``run``) do not import its half-second of
    generated models."""

    host: str
    ssl_ca_cert: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_ssl: bool = True
    disable_strict_ssl_verification: bool = False
    #: TLS server name to verify instead of the host's (kubeconfig ``tls-server-name``).
    server_hostname: str | None = None
    proxy: str | None = None
    proxy_headers: Mapping[str, str] | None = None
    #: A fixed ``Authorization`` header (``--server`` with a token), if any.
    authorization: str | None = None


class Kube:
    """A connection to one API server, and dict requests.

    Credentials come from a rotating service-account token, else the kubeconfig's
    ``ApiClient`` (kubernetes-asyncio refreshes exec-plugin tokens), else the endpoint's fixed
    header. Close it (``await kube.close()`` or ``async with``) to close the HTTP session.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_client: ApiClient | None = None,
        token: ServiceAccountToken | None = None,
        request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
        pool_size: int = DEFAULT_POOL_SIZE,
        watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
    ) -> None:
        self.api_client = api_client
        self.endpoint = endpoint
        #: What informers on this connection ask for as their watches' ``timeoutSeconds``
        #: (see :data:`DEFAULT_WATCH_TIMEOUT_SECONDS`), unless they are given their own.
        self.watch_timeout_seconds = watch_timeout_seconds
        self.host = endpoint.host.rstrip("/")
        self.request_timeout_seconds = request_timeout_seconds
        self._token = token
        self.pool_size = pool_size
        #: Sent with every request: kube-apiserver's audit log names the caller's agent, and
        #: the operator puts its replica identity here to tell its replicas' writes apart.
        self.user_agent = "podscaler"
        tls = _ssl_context(endpoint)
        # trust_env=False: see the module docstring (a .netrc read per request otherwise).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool_size, ssl=tls),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            read_bufsize=_READ_BUFSIZE,
        )
        self._watch_session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=tls),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            read_bufsize=_READ_BUFSIZE,
        )
        self._extra: dict[str, Any] = {}
        if endpoint.server_hostname:
            self._extra["server_hostname"] = endpoint.server_hostname
        proxy, proxy_auth = _proxy_for(self.host, endpoint.proxy)
        if proxy is not None:
            self._extra["proxy"] = proxy
            if proxy_auth is not None:
                self._extra["proxy_auth"] = proxy_auth
        if endpoint.proxy_headers:
            self._extra["proxy_headers"] = dict(endpoint.proxy_headers)

    @property
    def pool_stats(self) -> tuple[int, int]:
        """(connections in use by requests, requests waiting for one) — for probes and tests."""
        connector = self._session.connector
        if connector is None:
            return 0, 0
        in_use = len(getattr(connector, "_acquired", ()))
        waiting = sum(len(w) for w in getattr(connector, "_waiters", {}).values())
        return in_use, waiting

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()
        await self._watch_session.close()
        if self.api_client is not None:
            await self.api_client.close()

    async def credentials(self) -> dict[str, str]:
        """The ``Authorization`` header this client sends (empty without credentials): the
        operator presents it to another replica's metrics API when it forwards a read."""
        headers = await self._headers(None)
        return {"Authorization": headers["Authorization"]} if "Authorization" in headers else {}

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self._token is not None:
            headers["Authorization"] = self._token.header(asyncio.get_running_loop().time())
        elif self.api_client is not None:
            configuration = self.api_client.configuration
            auth = await configuration.auth_settings()
            bearer = auth.get("BearerToken")
            if bearer and bearer.get("value"):
                headers["Authorization"] = str(bearer["value"])
            elif configuration.username or configuration.password:
                headers["Authorization"] = configuration.get_basic_auth_token()
        elif self.endpoint.authorization is not None:
            headers["Authorization"] = self.endpoint.authorization
        return headers

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        data: bytes | None,
        content_type: str | None,
        timeout_seconds: float | None,
    ) -> _Response:
        url = self.host + path
        query = _query(params)
        timeout = aiohttp.ClientTimeout(total=timeout_seconds or self.request_timeout_seconds)
        for attempt in (1, 2):
            headers = await self._headers(content_type)
            try:
                async with self._session.request(
                    method,
                    url,
                    params=query,
                    data=data,
                    headers=headers,
                    timeout=timeout,
                    **self._extra,
                ) as resp:
                    body = await resp.read()
                    answer = _Response(resp.status, resp.reason or "", body)
            except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
                raise TransportError(f"{method} {path}: {exc!r}") from exc
            if answer.status == 401 and self._token is not None and attempt == 1:
                self._token.reload()
                continue
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON answer (``{}`` for an empty body).

        ``body`` is JSON-encoded; ``content_type`` defaults to ``application/json`` when there
        is a body (pass :data:`MERGE_PATCH` and friends for PATCH). Non-2xx answers raise the
        matching :class:`~podscaler.kube.errors.ApiError` subclass.
        """
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        if data is not None and content_type is None:
            content_type = "application/json"
        answer = await self._send(method, path, params, data, content_type, timeout_seconds)
        if answer.status >= 300:
            raise _api_error(method, path, answer)
        if not answer.body:
            return {}
        try:
            decoded = json.loads(answer.body)
        except ValueError as exc:
            raise TransportError(f"{method} {path}: answer is not JSON") from exc
        if not isinstance(decoded, dict):
            raise TransportError(f"{method} {path}: answer is not a JSON object")
        return decoded

    @asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        params: Params | None = None,
        read_timeout_seconds: float | None = None,
    ) -> AsyncIterator[WatchStream]:
        """GET a newline-delimited JSON stream (a watch) and yield its decoded lines (a
        :class:`WatchStream`, which also names the connection the stream came on).

        The HTTP status is checked before yielding (a 410 raises :class:`Gone` here);
        ``read_timeout_seconds`` bounds the silence between two lines, so a half-open
        connection is noticed.
        """
        headers = await self._headers(None)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=read_timeout_seconds, connect=self.request_timeout_seconds
        )
        try:
            async with self._watch_session.get(
                self.host + path,
                params=_query(params),
                headers=headers,
                timeout=timeout,
                **self._extra,
            ) as resp:
                if resp.status >= 300:
                    answer = _Response(resp.status, resp.reason or "", await resp.read())
                    raise _api_error("GET", path, answer)
                # Through a proxy, the connection reaches the proxy, not the server: it
                # proves nothing about which server answers (see WatchStream.connection).
                # An answer complete with its headers has already given its connection back.
                connection = resp.connection
                token = None if connection is None or "proxy" in self._extra else connection
                yield WatchStream(_lines(resp, path), None if token is None else token.protocol)
        except (aiohttp.ClientError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise TransportError(f"watch {path}: {exc!r}") from exc


class WatchStream:
    """The decoded lines of one watch response, and the TCP connection they arrive on.

    ``connection`` is an opaque token of that connection (None when it cannot vouch for the
    server: through a proxy, or when the whole answer came with its headers). Two streams with
    the same token came from the same server process, since a server that stops or restarts
    closes its connections: an informer whose next watch reuses the connection of a watch it
    already trusted needs no new proof that the server still holds its resourceVersion (see
    :mod:`podscaler.kube.informers`).
    """

    __slots__ = ("_lines", "connection")

    def __init__(self, lines: AsyncIterator[dict[str, Any]], connection: object | None) -> None:
        self._lines = lines
        self.connection = connection

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await anext(self._lines)


async def _lines(resp: aiohttp.ClientResponse, path: str) -> AsyncIterator[dict[str, Any]]:
    async for raw in resp.content:
        line = raw.strip()
        if not line:
            continue
        try:
            decoded = json.loads(line)
        except ValueError as exc:
            raise TransportError(f"watch {path}: undecodable line") from exc
        if isinstance(decoded, dict):
            yield decoded


def _ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    """The TLS context kubernetes-asyncio's ``RESTClientObject`` builds, for our connectors."""
    context = ssl.create_default_context(cafile=endpoint.ssl_ca_cert)
    if endpoint.cert_file:
        context.load_cert_chain(endpoint.cert_file, keyfile=endpoint.key_file)
    if not endpoint.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if endpoint.disable_strict_ssl_verification:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def _proxy_for(host: str, configured: str | None) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy for the API server, decided once: the kubeconfig's ``proxy-url``, else the
    environment's (``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY`` exempts the host)."""
    if configured:
        return configured, None
    try:
        proxy, auth = get_env_proxy_for_url(URL(host))
    except LookupError:
        return None, None
    return str(proxy), auth


def _query(params: Params | None) -> dict[str, str]:
    if not params:
        return {}
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _api_error(method: str, path: str, answer: _Response) -> ApiError:
    body: dict[str, Any] | str | None
    try:
        decoded = json.loads(answer.body) if answer.body else None
        body = decoded if isinstance(decoded, dict) else answer.body.decode(errors="replace")
    except ValueError:
        body = answer.body.decode(errors="replace")
    cause = aiohttp.ClientResponseError(
        request_info=aiohttp.RequestInfo(
            url=URL(path), method=method, headers=CIMultiDictProxy(CIMultiDict())
        ),
        history=(),
        status=answer.status,
        message=answer.reason,
    )
    error = error_for_status(answer.status, answer.reason, body)
    error.__cause__ = cause
    return error


async def connect(
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    server: str | None = None,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    insecure: bool = False,
    in_cluster: bool | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    pool_size: int = DEFAULT_POOL_SIZE,
    watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS,
) -> Kube:
    """Connect to an API server and return a :class:`Kube`.

    Precedence: an explicit ``server`` URL; else a ``kubeconfig`` path; else in-cluster when
    ``KUBERNETES_SERVICE_HOST`` is set (or ``in_cluster=True``); else ``$KUBECONFIG`` or
    ``~/.kube/config``. Nothing is sent to the server here.
    """
    limits: dict[str, Any] = {
        "request_timeout_seconds": request_timeout_seconds,
        "pool_size": pool_size,
        "watch_timeout_seconds": watch_timeout_seconds,
    }
    if server is not None:
        endpoint = Endpoint(
            host=server,
            ssl_ca_cert=None if ca_file is None else os.fspath(ca_file),
            verify_ssl=not insecure,
            authorization=None if token is None else f"Bearer {token}",
        )
        return Kube(endpoint, **limits)
    if kubeconfig is None and (
        in_cluster or (in_cluster is None and os.environ.get("KUBERNETES_SERVICE_HOST"))
    ):
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise KubeError("in-cluster configuration needs KUBERNETES_SERVICE_HOST")
        if ":" in host:
            host = f"[{host}]"
        endpoint = Endpoint(
            host=f"https://{host}:{port}",
            ssl_ca_cert=os.fspath(service_account_dir / "ca.crt"),
        )
        return Kube(endpoint, token=ServiceAccountToken(service_account_dir / "token"), **limits)
    # Imported here: only a kubeconfig needs kubernetes-asyncio (see Endpoint).
    from kubernetes_asyncio.client import ApiClient, Configuration
    from kubernetes_asyncio.config import load_kube_config

    configuration = Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    await load_kube_config(
        config_file=os.fspath(path) if path is not None else None,
        context=context,
        client_configuration=configuration,
        persist_config=False,
    )
    endpoint = Endpoint(
        host=str(configuration.host),
        ssl_ca_cert=configuration.ssl_ca_cert,
        cert_file=configuration.cert_file,
        key_file=configuration.key_file,
        verify_ssl=bool(configuration.verify_ssl),
        disable_strict_ssl_verification=bool(configuration.disable_strict_ssl_verification),
        server_hostname=configuration.tls_server_name,
        proxy=configuration.proxy,
        proxy_headers=configuration.proxy_headers,
    )
    return Kube(endpoint, api_client=ApiClient(configuration=configuration), **limits)


@dataclass(frozen=True)
class ConnectOptions:
    """How a command finds its API server: the flags ``podscaler run`` and ``podscaler
    explain`` share (precedence: :func:`connect`)."""

    kubeconfig: str | None = flag(
        None,
        path=True,
        help="kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config).",
    )
    context: str | None = flag(
        None, help="The kubeconfig context to use (default: its current context)."
    )
    server: str | None = flag(
        None, help="API server URL, instead of a kubeconfig (tests, port-forwards)."
    )
    #: Not a flag: what informers ask for as their watches' timeout. A simulation sets it long
    #: (see :data:`DEFAULT_WATCH_TIMEOUT_SECONDS`).
    watch_timeout_seconds: float = DEFAULT_WATCH_TIMEOUT_SECONDS
