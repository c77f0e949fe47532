"""Mutating admission webhooks, called as kube-apiserver calls them, on object creation.

For each ``admissionregistration.k8s.io/v1`` MutatingWebhookConfiguration (in name order) and
each webhook in it (in the order written), a request being created is sent to the webhook when:

* a rule matches: ``operations`` holds ``CREATE`` or ``*``, ``apiGroups``/``apiVersions``/
  ``resources`` hold the request's (or ``*``), and ``scope`` (``Namespaced``, ``Cluster``, ``*``)
  fits the resource;
* ``namespaceSelector`` matches the labels of the request's Namespace (a Namespace being created
  is matched by its own labels; cluster-scoped objects always match), and ``objectSelector``
  matches the object's labels.

The call is an ``AdmissionReview`` v1 POSTed over HTTPS to ``clientConfig.url`` or to
``clientConfig.service`` (``namespace``, ``name``, ``path``, ``port`` default 443), verified
against ``clientConfig.caBundle`` (the system's trust store without one) with the server name
``<service>.<namespace>.svc`` — exactly what a webhook's certificate must carry in a real
cluster. A Service is reached at the address registered with
:meth:`~podscaler.sim.apiserver.server.ApiServer.register_service_endpoint` (this server has no
cluster network). Each call is bounded by ``timeoutSeconds`` (default 10, as v1).

The answer: ``allowed: false`` refuses the create with the webhook's status (code, default 400,
and message, prefixed ``admission webhook "NAME" denied the request``); a ``JSONPatch`` is
applied to the object, and the next webhook sees the patched object. A call that fails (no
connection, TLS, timeout, an answer that is not a matching AdmissionReview, a patch that does
not apply) refuses the create with 500 under ``failurePolicy: Fail`` (the default), and is
logged and skipped under ``Ignore``.

Not modelled: UPDATE/DELETE/CONNECT operations (only creation is admitted here), validating
webhooks, ``reinvocationPolicy: IfNeeded``, ``matchConditions``, ``matchPolicy`` conversion
(every version is matched as written) and audit annotations.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.sim.apiserver.authentication import User
from podscaler.sim.apiserver.errors import ApiError, InternalError
from podscaler.sim.apiserver.patching import PatchError, apply_json_patch
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.store import Obj, Store

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "WebhookCaller"]

log = logging.getLogger(__name__)

#: ``timeoutSeconds`` when a v1 webhook names none (and its allowed range).
DEFAULT_TIMEOUT_SECONDS: Final = 10
_MIN_TIMEOUT, _MAX_TIMEOUT = 1, 30
#: The largest answer read from a webhook (kube-apiserver bounds it too).
_MAX_ANSWER_BYTES: Final = 3 * 1024 * 1024
_NAME_LABEL: Final = "kubernetes.io/metadata.name"


class _CallFailed(Exception):
    """A webhook could not be called or answered nonsense (failurePolicy decides)."""


class _Denied(ApiError):
    """A webhook said no: its own code and message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Request:
    rt: ResourceType
    namespace: str
    user: User | None
    dry_run: bool


def _rule_matches(rule: Mapping[str, Any], rt: ResourceType) -> bool:
    def holds(key: str, value: str) -> bool:
        items = rule.get(key) or []
        return "*" in items or value in items

    scope = rule.get("scope") or "*"
    if scope == "Namespaced" and not rt.namespaced:
        return False
    if scope == "Cluster" and rt.namespaced:
        return False
    return (
        (holds("operations", "CREATE"))
        and holds("apiGroups", rt.group)
        and holds("apiVersions", rt.version)
        and (holds("resources", rt.resource) or holds("resources", "*/*"))
    )


def _selector(value: Any, where: str) -> LabelSelector:
    if not value:
        return LabelSelector.everything()
    try:
        return LabelSelector.from_dict(value)
    except SelectorError as exc:
        raise _CallFailed(f"invalid {where}: {exc}") from exc


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _service_host(service: Mapping[str, Any]) -> str:
    return f"{service.get('name')}.{service.get('namespace')}.svc"


class WebhookCaller:
    """Calls the stored mutating webhooks for one API server."""

    def __init__(self, store: Store, table: Any, endpoints: Mapping[tuple[str, str], Any]) -> None:
        self.store = store
        self.table = table
        #: ``(namespace, name)`` of a Service → ``(host, port)``; shared with the server.
        self.endpoints = endpoints
        self._contexts: dict[bytes, ssl.SSLContext] = {}

    def _configurations(self) -> list[Obj]:
        rt = self.table.get("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
        if rt is None:
            return []
        return sorted(
            (e.obj for e in self.store.entries(rt, "")), key=lambda o: o["metadata"]["name"]
        )

    def _namespace_labels(
        self, rt: ResourceType, obj: Obj, namespace: str
    ) -> dict[str, str] | None:
        # kube-apiserver labels every Namespace with its name (``kubernetes.io/metadata.name``,
        # what webhook configurations select on); it is assumed here whether stored or not.
        if rt.group == "" and rt.resource == "namespaces":
            name = str((obj.get("metadata") or {}).get("name") or "")
            return {**_labels(obj), _NAME_LABEL: name}
        if not rt.namespaced:
            return None
        ns_rt = self.table.get("", "v1", "namespaces")
        found = self.store.find(ns_rt, "", namespace) if ns_rt is not None else None
        return {**(_labels(found.obj) if found is not None else {}), _NAME_LABEL: namespace}

    async def mutate(
        self,
        rt: ResourceType,
        obj: Obj,
        *,
        namespace: str,
        user: User | None,
        dry_run: bool = False,
    ) -> Obj:
        """``obj`` after every matching webhook; raises :class:`ApiError` to refuse it."""
        configurations = self._configurations()
        if not configurations:
            return obj
        request = _Request(rt, namespace, user, dry_run)
        for configuration in configurations:
            for webhook in configuration.get("webhooks") or []:
                if not isinstance(webhook, dict) or not self._applies(webhook, request, obj):
                    continue
                name = str(webhook.get("name") or "")
                try:
                    obj = await self._call(webhook, request, obj)
                except _CallFailed as exc:
                    if webhook.get("failurePolicy") == "Ignore":
                        log.warning("failed calling webhook %r (ignored): %s", name, exc)
                        continue
                    raise InternalError(
                        f'Internal error occurred: failed calling webhook "{name}": {exc}'
                    ) from exc
        return obj

    def _applies(self, webhook: Mapping[str, Any], request: _Request, obj: Obj) -> bool:
        if not any(
            isinstance(rule, dict) and _rule_matches(rule, request.rt)
            for rule in webhook.get("rules") or []
        ):
            return False
        try:
            ns_labels = self._namespace_labels(request.rt, obj, request.namespace)
            if ns_labels is not None and not _selector(
                webhook.get("namespaceSelector"), "namespaceSelector"
            ).matches(ns_labels):
                return False
            return _selector(webhook.get("objectSelector"), "objectSelector").matches(_labels(obj))
        except _CallFailed:
            # An unparsable selector cannot be stored by a real API server; match nothing.
            return False

    def _context(self, ca_bundle: Any) -> ssl.SSLContext:
        if not ca_bundle:
            return ssl.create_default_context()
        try:
            pem = base64.b64decode(str(ca_bundle), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _CallFailed("caBundle is not base64") from exc
        ctx = self._contexts.get(pem)
        if ctx is None:
            try:
                ctx = ssl.create_default_context(cadata=pem.decode("ascii", "replace"))
            except (ssl.SSLError, ValueError) as exc:
                raise _CallFailed(f"caBundle does not load: {exc}") from exc
            if len(self._contexts) > 32:
                self._contexts.clear()
            self._contexts[pem] = ctx
        return ctx

    def _target(self, client_config: Mapping[str, Any]) -> tuple[str, str | None]:
        """The URL to POST to, and the TLS server name when it is not the URL's host."""
        url = client_config.get("url")
        if url:
            if not str(url).startswith("https://"):
                raise _CallFailed("clientConfig.url must use https")
            return str(url), None
        service = client_config.get("service")
        if not isinstance(service, dict) or not service.get("name"):
            raise _CallFailed("clientConfig needs a url or a service")
        key = (str(service.get("namespace") or ""), str(service["name"]))
        address = self.endpoints.get(key)
        if address is None:
            raise _CallFailed(f'service "{key[1]}" in namespace "{key[0]}" has no endpoint')
        host, _port = address
        path = str(service.get("path") or "/")
        shown = f"[{host}]" if ":" in host else host
        return f"https://{shown}:{address[1]}{path}", _service_host(service)

    def _review(self, request: _Request, obj: Obj) -> dict[str, Any]:
        rt = request.rt
        meta = obj.get("metadata") or {}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.resource}
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        user_info: dict[str, Any] = {}
        if request.user is not None:
            user_info = {"username": request.user.name, "groups": list(request.user.groups)}
        body: dict[str, Any] = {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": str(meta.get("name") or ""),
            "operation": "CREATE",
            "userInfo": user_info,
            "object": obj,
            "oldObject": None,
            "dryRun": request.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
        if rt.namespaced:
            body["namespace"] = request.namespace
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body}

    async def _call(self, webhook: Mapping[str, Any], request: _Request, obj: Obj) -> Obj:
        name = str(webhook.get("name") or "")
        versions = webhook.get("admissionReviewVersions") or ["v1"]
        if "v1" not in versions:
            raise _CallFailed(f"webhook does not accept admission.k8s.io/v1 ({versions})")
        if request.dry_run and webhook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise _CallFailed("webhook has side effects and the request is a dry run")
        client_config = webhook.get("clientConfig") or {}
        url, server_name = self._target(client_config)
        ctx = self._context(client_config.get("caBundle"))
        timeout = webhook.get("timeoutSeconds")
        seconds = timeout if isinstance(timeout, int) else DEFAULT_TIMEOUT_SECONDS
        seconds = min(max(seconds, _MIN_TIMEOUT), _MAX_TIMEOUT)
        review = self._review(request, obj)
        uid = review["request"]["uid"]
        try:
            async with (
                aiohttp.ClientSession(trust_env=False) as session,
                asyncio.timeout(seconds),
                session.post(
                    url,
                    data=json.dumps(review, separators=(",", ":")).encode(),
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    ssl=ctx,
                    server_hostname=server_name,
                    allow_redirects=False,
                ) as answer,
            ):
                raw = await answer.content.read(_MAX_ANSWER_BYTES + 1)
                status = answer.status
        except TimeoutError as exc:
            raise _CallFailed(f"Post {url}: context deadline exceeded ({seconds}s)") from exc
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            raise _CallFailed(f"Post {url}: {exc}") from exc
        if len(raw) > _MAX_ANSWER_BYTES:
            raise _CallFailed("the answer is too large")
        if status != 200:
            raise _CallFailed(f"expected response code 200, got {status}")
        try:
            decoded = json.loads(raw)
        except ValueError as exc:
            raise _CallFailed("the answer is not JSON") from exc
        response = decoded.get("response") if isinstance(decoded, dict) else None
        if not isinstance(response, dict):
            raise _CallFailed("the answer is not an AdmissionReview with a response")
        if response.get("uid") != uid:
            raise _CallFailed(f"expected response.uid={uid!r}, got {response.get('uid')!r}")
        if response.get("allowed") is not True:
            status_obj = response.get("status") or {}
            given = status_obj.get("code")
            code = given if isinstance(given, int) and 400 <= given < 600 else 400
            message = str(status_obj.get("message") or "")
            text = f'admission webhook "{name}" denied the request'
            raise _Denied(
                code,
                str(status_obj.get("reason") or "BadRequest"),
                f"{text}: {message}" if message else f"{text} without explanation",
            )
        patch = response.get("patch")
        if not patch:
            return obj
        if response.get("patchType") != "JSONPatch":
            raise _CallFailed(f"unsupported patchType {response.get('patchType')!r}")
        try:
            operations = json.loads(base64.b64decode(str(patch), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise _CallFailed("the patch is not base64-encoded JSON") from exc
        if not isinstance(operations, list):
            raise _CallFailed("the patch is not a JSON array of operations")
        try:
            patched = apply_json_patch(obj, operations)
        except PatchError as exc:
            raise _CallFailed(f"the patch does not apply: {exc}") from exc
        if not isinstance(patched, dict):
            raise _CallFailed("the patched object is not an object")
        return patched
