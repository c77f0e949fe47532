"""The embedded, in-memory, Kubernetes-compatible API server (the HTTP front).

One aiohttp application answers the Kubernetes REST API on localhost over HTTP or HTTPS:
discovery, OpenAPI v3, CRUD and list/watch for the kinds in ``resources.py`` and for CRDs,
``/status``, ``/scale``, ``pods/binding``, ``pods/eviction``, ``pods/resize`` and
``metrics.k8s.io``, and calls mutating admission webhooks on creation (``webhooks.py``). It
serves tests, ``podscaler demo`` and users exploring with kubectl; see DESIGN.md, "The embedded
cluster".

Routing is one catch-all route parsed by hand: Kubernetes paths (``/api/v1/namespaces/x/pods``,
``/apis/{g}/{v}/...``, the deprecated ``/watch/`` prefix) are regular enough, and a table of
aiohttp routes per resource would have to be rebuilt whenever a CRD comes or goes.

Time: every timestamp the server writes (creationTimestamp, deletionTimestamp, conditions,
metrics) and every age it prints in a Table comes from one ``now``: the one injected, else the
running event loop's clock (:func:`podscaler.clock.now`) — simulated time when the server runs in a
simulated loop with a world, the wall clock otherwise. Only TLS certificates use the wall
clock, since the clients checking them do.

Security: with TLS, every request needs a credential the server issued (the kubeconfig's
token, a registered token or a client certificate; health and version endpoints excepted);
over plain HTTP nobody is authenticated and everybody may do everything — a localhost
development mode. There is no authorization. See ``authentication.py`` and SECURITY.md.
Request bodies are bounded in size, depth and YAML alias expansion (``bodies.py``).

Every error is a Kubernetes ``Status`` JSON with its HTTP code; a middleware turns any
unexpected exception into a 500 Status (and logs it), so clients never see an HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from podscaler import clock
from podscaler.sim.apiserver import (
    bodies,
    crds,
    discovery,
    kubeconfig,
    negotiation,
    openapi,
    podlogs,
    resize,
    rest,
    subresources,
    views,
)
from podscaler.sim.apiserver.aggregation import Aggregator
from podscaler.sim.apiserver.audit import AuditLog
from podscaler.sim.apiserver.authentication import USER, Authenticator, User
from podscaler.sim.apiserver.certificates import ServingCertificate, mint
from podscaler.sim.apiserver.delegation import AuthPolicy, check_review_request
from podscaler.sim.apiserver.errors import (
    ApiError,
    InternalError,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
)
from podscaler.sim.apiserver.metrics import MetricsBoard
from podscaler.sim.apiserver.resources import METRICS_GROUP, ResourceTable, ResourceType
from podscaler.sim.apiserver.store import Entry, Obj, Store, Watcher, rfc3339
from podscaler.sim.apiserver.views import Objects
from podscaler.sim.apiserver.webhooks import WebhookCaller
from podscaler.sim.apiserver.wire import (
    JSON,
    Target,
    error_response,
    parse_resource_path,
    query_bool,
    respond,
    selector_predicate,
)

log = logging.getLogger(__name__)

_HTTP_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
}


@web.middleware
async def _status_errors(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as err:
        return error_response(err)
    except web.HTTPException as exc:
        http_err = ApiError(exc.text or exc.reason)
        http_err.code = exc.status
        http_err.reason = _HTTP_REASONS.get(
            exc.status, "InternalError" if exc.status >= 500 else "Unknown"
        )
        return error_response(http_err)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("embedded API server: %s %s failed", request.method, request.path)
        return error_response(InternalError(f"internal error: {type(exc).__name__}: {exc}"))


@web.middleware
async def _yaml_answers(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Answer in YAML where the request prefers it (``negotiation.wants_yaml``): the JSON
    answer of any API path, a Status included, re-encoded. A watch preferring YAML is 406, as
    upstream (there is no YAML watch framing)."""
    accept = request.headers.get("Accept", "")
    api = request.path.startswith(("/api/", "/apis/")) or request.path in ("/api", "/apis")
    if not api or "yaml" not in accept or not negotiation.wants_yaml(accept):
        response: web.StreamResponse = await handler(request)
        return response
    if query_bool(request.query, "watch") or "/watch/" in request.path:
        answer = error_response(
            NotAcceptable(
                f"only the following media types are accepted: {negotiation.WATCH_MEDIA_TYPES}"
            )
        )
    else:
        answer = await handler(request)
    if isinstance(answer, web.Response) and answer.content_type == JSON:
        body = answer.body
        if isinstance(body, bytes) and body:
            answer.body = negotiation.to_yaml(body)
            answer.content_type = negotiation.YAML
    return answer


class ApiServer:
    """An in-memory Kubernetes API server on localhost; ``async with`` starts and stops it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        now: Callable[[], datetime] | None = None,
        install_crds: bool = True,
        bookmark_interval: float = 5.0,
        history_size: int = 5000,
        aggregation: bool = False,
        compaction_interval_seconds: float = 300.0,
        seed: int | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self._now = now or clock.now
        self.install_crds = install_crds
        #: Seconds between watch BOOKMARK events (upstream sends one about every minute).
        self.bookmark_interval = bookmark_interval
        #: Every this many seconds the history is compacted to the version seen one interval
        #: before (kube-apiserver's ``--etcd-compaction-interval``, 5 minutes by default), so
        #: a client that resumes from an old version gets 410 Expired and lists again.
        self.compaction_interval_seconds = compaction_interval_seconds
        self.table = ResourceTable()
        # ``seed``: generated names and uids replay exactly (simulations); None: from the OS.
        self.store = Store(now=self._now, history_size=history_size, rng=random.Random(seed))
        self.store.on_removed.append(self._removed)
        self.metrics = MetricsBoard(self._now)
        self.open_watches: set[Watcher] = set()
        self.url = ""
        self._certificate: ServingCertificate | None = None
        self._runner: web.AppRunner | None = None
        self._heap_task: asyncio.Task[None] | None = None
        self._compaction_task: asyncio.Task[None] | None = None
        self._settled_at_rv = 0
        #: The kube-aggregator part (APIService proxying, front-proxy identity and the
        #: ``extension-apiserver-authentication`` ConfigMap); off unless ``aggregation``, so
        #: that servers started for other purposes hold no such ConfigMap (tests that play
        #: kube-apiserver's part write their own). See ``aggregation.py``.
        self.aggregator = Aggregator(self) if aggregation else None
        #: Answers to TokenReview and SubjectAccessReview (see ``delegation.py``).
        self.auth_policy = AuthPolicy()
        #: Who calls: credentials required with TLS, optional over plain HTTP.
        self.authenticator = Authenticator(required=tls)
        #: Writes answered, with the caller's User-Agent (off: None; see ``audit.py``).
        self.audit: AuditLog | None = None
        #: Service ``(namespace, name)`` → ``(host, port)``: this server has no cluster network.
        self.service_endpoints: dict[tuple[str, str], tuple[str, int]] = {}
        #: Mutating admission webhooks called on creation (see ``webhooks.py``).
        self.webhooks = WebhookCaller(self.store, self.table, self.service_endpoints)

    # ------------------------------------------------------------------ lifecycle

    def now(self) -> datetime:
        return self._now()

    def objects(self, rt: ResourceType) -> Objects:
        """The store as requests for ``rt`` see it: itself, or a converting view (events.k8s.io
        Events are the core/v1 Events, see ``views.py``)."""
        return views.objects(self.store, self.table, rt)

    async def start(self) -> None:
        if self.install_crds:
            self._install_podscaler_crds()
        app = web.Application(
            middlewares=[self._audited, _yaml_answers, _status_errors],
            client_max_size=bodies.MAX_BODY_BYTES,
        )
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        if self.aggregator is not None:
            await self.aggregator.start()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        ssl_context = None
        if self.tls:
            self._certificate = mint(self.host)
            identity = self.aggregator.identity if self.aggregator is not None else None
            ssl_context = self._certificate.server_context(
                client_ca_pem=identity.client_ca_pem if identity is not None else None
            )
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{'https' if self.tls else 'http'}://{host}:{self.port}"
        self._heap_task = asyncio.create_task(self._settle_heap_periodically())
        if self.compaction_interval_seconds > 0:
            self._compaction_task = asyncio.create_task(self._compact_periodically())

    #: Writes after which the heap is settled again (see :meth:`settle_heap`). Small on
    #: purpose: after a freeze, every tenth generation-1 collection is a full one over all
    #: objects not frozen, and those grow with every write (new versions, history). At
    #: 20,000 the benchmark's watch latency max was ~150 ms at 500 writes/s (a full
    #: collection); at 2,000, checked every second, it was 41 ms (p99 24 -> 9 ms). A settle
    #: only walks what is not yet frozen, so settling often costs no more in total.
    SETTLE_EVERY_WRITES = 2_000

    def settle_heap(self) -> None:
        """Collect garbage once, then move every surviving object out of the collector's sight.

        Why: at 30,000 pods the store holds millions of small dicts and lists, and CPython's
        full (generation 2) collection walks all of them — a pause near a second that shows up
        as watch latency. Stored objects are JSON trees without reference cycles, so once they
        have survived a collection there is nothing for the cycle collector to find in them;
        ``gc.freeze()`` excludes them from later collections (they are still freed by reference
        counting when replaced or deleted). Cost: cyclic garbage that is still reachable at the
        moment of freezing (in-flight requests) is never collected — bounded, since this runs
        only after every ``SETTLE_EVERY_WRITES`` writes.
        """
        gc.collect()
        gc.freeze()
        self._settled_at_rv = self.store.resource_version

    async def _settle_heap_periodically(self) -> None:
        """Settle after every ``SETTLE_EVERY_WRITES`` writes, looking about when they will have
        been made at the recent pace: every second under hundreds of writes a second (the
        benchmark), every minute when writes are few (an idle cluster, a simulated day, where
        a wake-up each simulated second was a quarter of the demo's loop iterations)."""
        loop = asyncio.get_running_loop()
        seen_rv, seen_at = self.store.resource_version, loop.time()
        pause = 1.0
        while True:
            await asyncio.sleep(pause)
            rv, now = self.store.resource_version, loop.time()
            if rv - self._settled_at_rv >= self.SETTLE_EVERY_WRITES:
                self.settle_heap()
            # Wake half-way to the threshold at the recent pace, between 1 s and a minute.
            rate = (rv - seen_rv) / max(now - seen_at, 1e-9)
            left = self.SETTLE_EVERY_WRITES - (rv - self._settled_at_rv)
            pause = min(max(left / (2 * rate) if rate > 0 else 60.0, 1.0), 60.0)
            seen_rv, seen_at = rv, now

    async def _compact_periodically(self) -> None:
        seen = self.store.resource_version
        while True:
            await asyncio.sleep(self.compaction_interval_seconds)
            self.store.compact_to(seen)
            seen = self.store.resource_version

    async def stop(self) -> None:
        for task in (self._heap_task, self._compaction_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._heap_task = self._compaction_task = None
        self.drop_watches()
        if self.aggregator is not None:
            await self.aggregator.stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def drop_watches(self) -> None:
        """Close every open watch stream (test hook: clients must re-watch)."""
        for watcher in list(self.open_watches):
            watcher.close()
        self.store.close_watchers()

    # ------------------------------------------------------------------ kubeconfig, metrics

    @property
    def ca_pem(self) -> bytes | None:
        return self._certificate.ca_pem if self._certificate else None

    @property
    def security_note(self) -> str:
        """What a person starting this server must know about who can use it."""
        if self.tls:
            return (
                "Authentication required: clients need the token in the kubeconfig (keep the "
                "file private) or a client certificate from the cluster's client CA."
            )
        return (
            f"WARNING: plain HTTP without authentication: anyone who can connect to "
            f"{self.url} can read and change everything, Secrets included. For localhost "
            "development only; use --tls for a server that requires the kubeconfig's token."
        )

    @property
    def token(self) -> str | None:
        """The administrator's bearer token (TLS only; over plain HTTP no token is needed)."""
        return self.authenticator.admin_token if self.tls else None

    def kubeconfig(self) -> dict[str, Any]:
        return kubeconfig.build(self.url, self.ca_pem, token=self.token)

    def write_kubeconfig(self, path: Path) -> Path:
        return kubeconfig.write(self.kubeconfig(), path)

    def set_pod_metrics(
        self, namespace: str, name: str, containers: Mapping[str, Mapping[str, str]]
    ) -> None:
        """Publish a pod's usage, e.g. ``{"app": {"cpu": "250m", "memory": "64Mi"}}``."""
        self.metrics.set_pod(namespace, name, containers)

    def set_node_metrics(self, name: str, usage: Mapping[str, str]) -> None:
        """Publish a node's usage, e.g. ``{"cpu": "1500m", "memory": "3Gi"}``."""
        self.metrics.set_node(name, usage)

    def register_service_endpoint(self, namespace: str, name: str, host: str, port: int) -> None:
        """Route Service ``namespace/name`` (an APIService backend, a webhook) to ``host:port``."""
        self.service_endpoints[(namespace, name)] = (host, port)
        if self.aggregator is not None:
            self.aggregator.register_endpoint(namespace, name, host, port)

    # ------------------------------------------------------------------ CRDs

    def _install_podscaler_crds(self) -> None:
        try:
            from podscaler.api.crds import crd_manifests
        except ImportError as exc:
            raise RuntimeError(
                "podscaler.api.crds is not available, so podscaler's CRDs cannot be installed; "
                "pass install_crds=False to serve without them"
            ) from exc
        crd_rt = self.table.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert crd_rt is not None
        for manifest in crd_manifests():
            crds.validate(manifest)
            entry = self.store.create(crd_rt, manifest)
            self.after_write(crd_rt, entry)

    def after_write(self, rt: ResourceType, entry: Entry) -> Entry:
        """Side effects of a stored write: a CRD starts serving (and gets its status), an
        APIService's availability is checked again."""
        if self.aggregator is not None:
            self.aggregator.after_write(rt, entry)
        if rt.group == "apiextensions.k8s.io" and rt.resource == "customresourcedefinitions":
            obj = entry.obj
            if obj["metadata"].get("deletionTimestamp"):
                return entry
            served = crds.resource_type(obj)
            self.table.add(served)
            status = crds.accepted_status(obj, rfc3339(self.now()))
            if (obj.get("status") or {}).get("conditions"):
                status["conditions"] = obj["status"]["conditions"]
            if obj.get("status") != status:
                new = entry.copy()
                new["status"] = status
                entry = self.store.update(rt, new, name=entry.name, subresource="status")
        return entry

    def _removed(self, rt: ResourceType, obj: Obj) -> None:
        if rt.group == "apiextensions.k8s.io" and rt.resource == "customresourcedefinitions":
            spec = obj.get("spec") or {}
            served = self.table.by_key(
                (str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
            )
            if served is None:
                return
            for entry in list(self.store.entries(served)):
                if self.store.find(served, entry.namespace, entry.name) is not None:
                    self.store.delete(served, entry.namespace, entry.name)
            self.table.remove(served.group, served.resource)
        elif rt.resource == "pods" and not rt.group:
            self.metrics.clear_pod(
                str(obj["metadata"].get("namespace")), str(obj["metadata"]["name"])
            )

    def validate_crd(self, rt: ResourceType, obj: Obj) -> None:
        if rt.group == "apiextensions.k8s.io" and rt.resource == "customresourcedefinitions":
            crds.validate(obj)

    # ------------------------------------------------------------------ routing

    def token_user(self, token: str) -> User | None:
        """The user a bearer token stands for on this server, or None: the kubeconfig's
        administrator token, or one registered with the auth policy or the aggregator."""
        if not token:
            return None
        admin = self.authenticator.token_user(token)
        if admin is not None:
            return admin
        registered = self.auth_policy.tokens.get(token)
        if registered is not None:
            return User(registered[0], registered[1])
        if self.aggregator is not None:
            return self.aggregator.token_user(token)
        return None

    @web.middleware
    async def _audited(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if self.audit is not None:
            agent = request.headers.get("User-Agent", "")
            self.audit.record(self._now, request.method, request.path, agent, response.status)
        return response

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        request[USER] = self.authenticator.authenticate(request, self.token_user)
        parts = [p for p in request.path.split("/") if p]
        if self.aggregator is not None:
            routed = await self.aggregator.route(request, parts)
            if routed is not None:
                return routed
        if not parts:
            return respond(discovery.root_paths(self.table))
        head = parts[0]
        if head in ("healthz", "readyz", "livez"):
            return web.Response(text="ok", content_type="text/plain")
        if parts == ["version"]:
            return respond(discovery.version_info())
        if head == "openapi":
            return openapi.serve(self, request, parts[1:])
        if head == "api":
            if len(parts) == 1:
                aggregated = discovery.aggregated_version(request.headers.get("Accept", ""))
                if aggregated is not None:
                    items = discovery.table_groups(self.table, core=True)
                    return discovery.aggregated_response(items, aggregated)
                return respond(discovery.api_versions(f"{self.host}:{self.port}"))
            group, version, rest_parts = "", parts[1], parts[2:]
        elif head == "apis":
            if len(parts) == 1:
                aggregated = discovery.aggregated_version(request.headers.get("Accept", ""))
                if aggregated is not None:
                    items = discovery.table_groups(self.table, core=False)
                    return discovery.aggregated_response(items, aggregated)
                return respond(discovery.api_group_list(self.table))
            if len(parts) == 2:
                found = discovery.api_group(self.table, parts[1])
                if found is None:
                    return discovery.page_not_found()
                return respond(found)
            group, version, rest_parts = parts[1], parts[2], parts[3:]
        else:
            return discovery.page_not_found()
        if version not in self.table.group_versions().get(group, ()):
            return discovery.page_not_found()
        if not rest_parts:
            listing = discovery.api_resource_list(self.table, group, version)
            if listing is None:
                raise NotFound("the server could not find the requested resource")
            return respond(listing)
        target = parse_resource_path(self.table, group, version, rest_parts)
        if target.rt.group == METRICS_GROUP:
            return self._serve_metrics(request, target)
        check_review_request(request.method, target)
        return await self._serve(request, target)

    async def _serve(self, request: web.Request, target: Target) -> web.StreamResponse:
        method = request.method
        rt = target.rt
        if target.subresource is None:
            if target.name is None:
                if method == "GET":
                    return await rest.collection(self, request, target)
                if method == "POST":
                    if rt.namespaced and target.namespace is None:
                        raise MethodNotAllowed("create needs a namespace in the path")
                    return await rest.create(self, request, target)
                if method == "DELETE":
                    return await rest.delete_collection(self, request, target)
            else:
                if method == "GET":
                    return await rest.get(self, request, target)
                if method == "PUT":
                    return await rest.replace(self, request, target)
                if method == "PATCH":
                    return await rest.patch(self, request, target)
                if method == "DELETE":
                    return await rest.delete(self, request, target)
            raise rest.method_not_allowed(method, rt.resource)
        sub = target.subresource
        if sub == "status":
            if method == "GET":
                return await rest.get(self, request, target)
            if method == "PUT":
                return await rest.replace(self, request, target)
            if method == "PATCH":
                return await rest.patch(self, request, target)
        elif sub == "scale":
            if method in ("GET", "PUT", "PATCH"):
                return await subresources.scale(self, request, target)
        elif sub == "binding":
            if method == "POST":
                return await subresources.bind(self, request, target)
        elif sub == "eviction" and method == "POST":
            return await subresources.evict(self, request, target)
        elif sub == "resize" and method in ("GET", "PUT", "PATCH"):
            return await resize.resize(self, request, target)
        elif sub == "log" and method == "GET":
            return await podlogs.pod_log(self, request, target)
        raise rest.method_not_allowed(method, f"{rt.resource}/{sub}")

    def _serve_metrics(self, request: web.Request, target: Target) -> web.Response:
        if request.method != "GET":
            raise rest.method_not_allowed(request.method, target.rt.resource)
        rt = target.rt
        is_pods = rt.resource == "pods"
        source = self.table.get("", "v1", "pods" if is_pods else "nodes")
        assert source is not None
        predicate = selector_predicate(rt, request.query)
        if target.name is not None:
            found = self.store.find(source, target.namespace or "", target.name)
            labels = found.obj["metadata"].get("labels") if found else None
            item = (
                self.metrics.pod_metrics(target.namespace or "", target.name, labels)
                if is_pods
                else self.metrics.node_metrics(target.name, labels)
            )
            if item is None:
                kind_name = "podmetrics" if is_pods else "nodemetrics"
                raise NotFound(
                    f'{kind_name}.metrics.k8s.io "{target.name}" not found',
                    name=target.name,
                    group=METRICS_GROUP,
                    kind=rt.resource,
                )
            return respond(item)
        items: list[Obj] = []
        if is_pods:
            for ns, name in sorted(self.metrics.pods):
                if target.namespace and ns != target.namespace:
                    continue
                found = self.store.find(source, ns, name)
                item = self.metrics.pod_metrics(
                    ns, name, found.obj["metadata"].get("labels") if found else None
                )
                if item is not None and (predicate is None or predicate(item)):
                    items.append(item)
        else:
            for name in sorted(self.metrics.nodes):
                found = self.store.find(source, "", name)
                item = self.metrics.node_metrics(
                    name, found.obj["metadata"].get("labels") if found else None
                )
                if item is not None and (predicate is None or predicate(item)):
                    items.append(item)
        return respond(
            {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": items,
            }
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def serve_forever(
    host: str,
    port: int,
    tls: bool,
    kubeconfig_path: Path,
    on_ready: Callable[[ApiServer], None],
) -> None:
    """Run an API server until cancelled (the ``podscaler cluster serve`` command)."""
    server = ApiServer(host=host, port=port, tls=tls, aggregation=True)
    await server.start()
    try:
        server.write_kubeconfig(kubeconfig_path)
        on_ready(server)
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
