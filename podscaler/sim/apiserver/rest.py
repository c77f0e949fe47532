"""The REST verbs on resources: list, get, create, update, patch, delete, delete collection.

Each handler turns one HTTP request into store calls and answers with the stored bytes. Writes
go through :meth:`ApiServer.after_write` so that CRDs start (or stop) serving their resource the
moment they are stored.

Deliberate simplifications versus a real kube-apiserver:

* ``fieldValidation`` (Strict/Warn/Ignore) knows the top-level and ``metadata`` fields of the
  common built-in kinds only (``requestoptions.py``); custom resources are pruned to their
  CRD's schema and validated against it (``schemas.py``).
* ``dryRun=All`` validates, defaults and answers with the object as it would be stored (a
  create gets a uid and creation time, no resourceVersion); a dry-run update does not bump
  ``generation``.
* Request bodies may be JSON, YAML or Kubernetes protobuf (what ``kubectl create deployment``
  and client-go's typed clients send) for every built-in kind this server stores (see
  ``protobuf/``); a protobuf kind without a table answers 415. Responses are always JSON, which
  every client accepts in place of protobuf.
* Server-side apply (``application/apply-patch+yaml``) and ``managedFields`` follow
  ``managedfields.py``, whose simplifications (which lists merge by key) are listed there.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from podscaler.sim.apiserver import (
    admission,
    bodies,
    defaulting,
    delegation,
    managedfields,
    negotiation,
    requestoptions,
    tables,
    typedlists,
    validation,
    versions,
)
from podscaler.sim.apiserver.authentication import USER
from podscaler.sim.apiserver.errors import (
    ApiError,
    BadRequest,
    Invalid,
    MethodNotAllowed,
    UnsupportedMediaType,
    invalid,
)
from podscaler.sim.apiserver.resources import ResourceType
from podscaler.sim.apiserver.state import ServerState
from podscaler.sim.apiserver.store import Entry, Obj, dumps, rfc3339
from podscaler.sim.apiserver.watching import serve_watch
from podscaler.sim.apiserver.wire import (
    JSON,
    PROTOBUF,
    Target,
    check_kind,
    decode_continue,
    encode_continue,
    protobuf_object,
    query_bool,
    query_int,
    read_object,
    read_patch,
    respond,
    selector_predicate,
)

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


async def collection(
    server: ServerState, request: web.Request, target: Target
) -> web.StreamResponse:
    """GET on a collection: a list, or a watch with ``?watch=true``."""
    query = request.query
    if target.watch_path or query_bool(query, "watch"):
        return await serve_watch(server, request, target)
    rt = target.rt
    predicate = selector_predicate(rt, query)
    token = query.get("continue")
    options = versions.list_options(
        query, query_int(query, "limit", 0), decode_continue(token) if token else None
    )
    store = server.store
    if options.minimum is not None:
        await versions.reach(store, options.minimum, block=options.block)
    list_rv = store.resource_version if options.at is None else options.at
    entries = server.objects(rt).entries(rt, target.namespace, after=options.after)
    if options.at is not None and rt.stored_as is None:
        entries = versions.entries_at(
            store,
            rt,
            entries,
            options.at,
            namespace=target.namespace,
            after=options.after,
            continued=options.continued,
        )
    limit = options.limit
    items: list[Entry] = []
    more = False
    remaining = iter(entries)  # one pass: what the limit leaves is counted below
    for entry in remaining:
        if predicate is not None and not predicate(entry.obj):
            continue
        if limit > 0 and len(items) >= limit:
            more = True
            break
        items.append(entry)
    # Upstream counts what a limit left only when nothing filters the list (with a selector
    # the count would cost a full scan): the entry past the limit, and the rest.
    left = 1 + sum(1 for _ in remaining) if more and predicate is None else 0
    meta: dict[str, Any] = {"resourceVersion": str(list_rv)} | (
        {"remainingItemCount": left} if left else {}
    )
    if more:
        meta["continue"] = encode_continue(list_rv, (items[-1].namespace, items[-1].name))
    form = negotiation.answer_of(request, "list")
    if form.form == "table":
        include = query.get("includeObject", "Metadata")
        return respond(
            tables.table(
                rt, (e.obj for e in items), server.now(), list_meta=meta, include_object=include
            )
        )
    if form.form == "metadata":
        return respond(negotiation.partial_list(items, meta, form.version))
    head = (
        b'{"kind":"'
        + rt.list_kind.encode()
        + b'","apiVersion":"'
        + rt.api_version.encode()
        + b'","metadata":'
        + dumps(meta)
        + b',"items":['
    )
    return respond(typedlists.typed_list(head, rt, items))


def object_response(
    server: ServerState, request: web.Request, rt: ResourceType, entry: Entry, status: int = 200
) -> web.Response:
    """One object in the form the request negotiated (itself, a Table, its metadata)."""
    form = negotiation.answer_of(request, "object")
    if form.form == "table":
        include = request.query.get("includeObject", "Metadata")
        return respond(tables.table(rt, [entry.obj], server.now(), include_object=include), status)
    if form.form == "metadata":
        return respond(negotiation.partial(entry.obj, form.version), status)
    return respond(entry.raw(), status)


async def get(server: ServerState, request: web.Request, target: Target) -> web.Response:
    assert target.name is not None
    entry = server.objects(target.rt).get(target.rt, target.namespace or "", target.name)
    return object_response(server, request, target.rt, entry)


async def create(server: ServerState, request: web.Request, target: Target) -> web.Response:
    rt = target.rt
    obj = await read_object(request)
    check_kind(rt, obj)
    if delegation.is_review(rt):
        return await delegation.review(server, rt, obj)
    dry = _dry_run(request)
    directive = _field_validation(request)
    warnings = requestoptions.drop_unknown_fields(
        rt, obj, directive, await _duplicates(request, directive)
    )
    # As kube-apiserver: defaults at decoding, then mutating admission, then validation.
    defaulting.apply_defaults(rt, obj)
    admission.admit(server.store, server.table, rt, obj)
    obj = await server.webhooks.mutate(
        rt,
        obj,
        namespace=target.namespace or "",
        user=request.get(USER),
        dry_run=_dry_run(request),
    )
    server.validate_crd(rt, obj)
    validation.validate(rt, obj)
    _record_update(server, request, rt, None, obj)
    if dry:
        return _warned(respond(_dry_run_created(server, rt, obj, target.namespace), 201), warnings)
    entry = server.objects(rt).create(rt, obj, namespace=target.namespace or "")
    entry = server.after_write(rt, entry)
    return _warned(respond(entry.raw(), 201), warnings)


def _dry_run_created(server: ServerState, rt: ResourceType, obj: Obj, namespace: str | None) -> Obj:
    """What a create would store, without storing it: upstream's dry run fills in the uid,
    the creation time and the defaults, but no resourceVersion."""
    meta = obj.setdefault("metadata", {})
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    if rt.namespaced and namespace:
        meta.setdefault("namespace", namespace)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = rfc3339(server.now())
    meta.pop("resourceVersion", None)
    if defaulting.has_generation(rt):
        meta["generation"] = 1
    return obj


def _record_update(
    server: ServerState, request: web.Request, rt: ResourceType, old: Obj | None, new: Obj
) -> None:
    manager = managedfields.manager_of(request.query, request.headers.get("User-Agent", ""))
    now = rfc3339(server.now())
    managedfields.record_update(old, new, manager, rt.api_version, now, keyed=not rt.custom)


async def server_side_apply(
    server: ServerState, request: web.Request, target: Target
) -> web.Response:
    """PATCH with ``application/apply-patch+yaml``: create or update from a manager's intent
    (``managedfields.py`` holds the ownership rules)."""
    rt = target.rt
    assert target.name is not None
    ns = target.namespace or ""
    manager = request.query.get("fieldManager", "")
    if not manager:
        raise managedfields.manager_required()
    raw = await bodies.read(request)
    config = await bodies.decode(raw, "application/yaml") if raw.strip() else None
    if not isinstance(config, dict):
        raise BadRequest("an apply patch must be an object")
    check_kind(rt, config)
    if not config.get("apiVersion") or not config.get("kind"):
        raise BadRequest("apiVersion and kind must be set in an apply patch")
    meta = config.setdefault("metadata", {})
    if meta.get("name", target.name) != target.name:
        raise BadRequest("the name of the object does not match the name on the URL")
    meta["name"] = target.name
    dry = _dry_run(request)
    warnings = requestoptions.drop_unknown_fields(rt, config, _field_validation(request))
    objects = server.objects(rt)
    current = objects.find(rt, ns, target.name)
    result = managedfields.apply(
        current.obj if current is not None else None,
        config,
        manager=manager,
        force=query_bool(request.query, "force"),
        api_version=rt.api_version,
        now=rfc3339(server.now()),
        kind=rt.resource,
        name=target.name,
        keyed=not rt.custom,
    )
    if current is None:
        admission.admit(server.store, server.table, rt, result)
        server.validate_crd(rt, result)
        defaulting.apply_defaults(rt, result)
        validation.validate(rt, result)
        if dry:
            created = _dry_run_created(server, rt, result, target.namespace)
            return _warned(respond(created, 201), warnings)
        entry = server.after_write(rt, objects.create(rt, result, namespace=ns))
        return _warned(respond(entry.raw(), 201), warnings)
    defaulting.apply_defaults(rt, result)
    defaulting.on_update(rt, result, current.obj)
    server.validate_crd(rt, result)
    validation.validate_update(rt, current.obj, result)
    validation.validate(rt, result)
    if dry:
        return _warned(respond(result), warnings)
    entry = objects.update(rt, result, namespace=ns, name=target.name)
    entry = server.after_write(rt, entry)
    return _warned(object_response(server, request, rt, entry), warnings)


def _field_validation(request: web.Request) -> str:
    return requestoptions.field_validation(request.query, request.method)


async def _duplicates(request: web.Request, directive: str) -> list[str]:
    """The fields a JSON body sent twice (what ``fieldValidation`` reports); YAML and
    protobuf bodies are not checked."""
    if directive == "Ignore" or request.content_type in ("application/yaml", PROTOBUF):
        return []
    return await bodies.find_duplicates(await bodies.read(request))


def _warned(response: web.Response, warnings: list[str]) -> web.Response:
    if warnings:
        response.headers["Warning"] = requestoptions.warning_header(warnings)
    return response


async def replace(server: ServerState, request: web.Request, target: Target) -> web.Response:
    rt = target.rt
    assert target.name is not None
    obj = await read_object(request)
    check_kind(rt, obj)
    dry = _dry_run(request)
    directive = _field_validation(request)
    warnings = requestoptions.drop_unknown_fields(
        rt, obj, directive, await _duplicates(request, directive)
    )
    if target.subresource is None:
        current = server.objects(rt).get(rt, target.namespace or "", target.name)
        defaulting.apply_defaults(rt, obj)
        defaulting.on_update(rt, obj, current.obj)
        server.validate_crd(rt, obj)
        validation.validate_update(rt, current.obj, obj)
    validation.validate(rt, obj, subresource=target.subresource)
    if target.subresource is None:
        _record_update(server, request, rt, current.obj, obj)
    if dry:
        return _warned(respond(obj), warnings)
    entry = server.objects(rt).update(
        rt, obj, namespace=target.namespace or "", name=target.name, subresource=target.subresource
    )
    entry = server.after_write(rt, entry)
    return _warned(respond(entry.raw()), warnings)


def apply_patch(
    ctype: str,
    rt: ResourceType,
    current: Obj,
    patch: Any,
    *,
    kind: str | None = None,
    group: str | None = None,
    version: str | None = None,
    owned: bool = False,
) -> Obj:
    """Apply a patch body of content type ``ctype`` to a private copy of ``current``.

    ``owned=True``: ``current`` already is a private copy (discarded by the caller on error),
    so it is patched in place instead of being copied once more.
    """
    from podscaler.sim.apiserver import patching

    try:
        if ctype == MERGE_PATCH:
            if not isinstance(patch, dict):
                raise BadRequest("a merge patch must be a JSON object")
            result = patching.apply_merge_patch(current, patch, in_place=owned)
        elif ctype == JSON_PATCH:
            if not isinstance(patch, list):
                raise BadRequest("a JSON patch must be a JSON array of operations")
            result = patching.apply_json_patch(current, patch, in_place=owned)
        elif ctype == STRATEGIC_PATCH:
            if not isinstance(patch, dict):
                raise BadRequest("a strategic merge patch must be a JSON object")
            strategy = (
                None
                if rt.custom
                else patching.strategy_for(
                    group if group is not None else rt.group,
                    version or rt.version,
                    kind or rt.kind,
                )
            )
            if strategy is None:
                raise UnsupportedMediaType(
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}"
                )
            result = patching.apply_strategic_merge_patch(current, patch, strategy, in_place=owned)
        elif ctype == APPLY_PATCH:
            raise UnsupportedMediaType(
                "server-side apply (application/apply-patch+yaml) is not supported by the "
                "podscaler embedded API server; use client-side apply (kubectl apply without "
                "--server-side)"
            )
        else:
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}"
            )
    except patching.PatchError as exc:
        raise _patch_error(exc, ctype) from exc
    if not isinstance(result, dict):
        raise BadRequest("the patch did not produce an object")
    return result


def _patch_error(exc: Exception, ctype: str) -> ApiError:
    """A JSON patch that cannot be applied (a failed ``test``, a missing path) is 422 upstream
    (the patch is well-formed, the object refuses it); other patch errors are 400."""
    text = str(exc)
    if ctype == JSON_PATCH or ("test" in text.lower() and "fail" in text.lower()):
        return Invalid(text)
    return BadRequest(text)


async def patch(server: ServerState, request: web.Request, target: Target) -> web.Response:
    """PATCH the main resource or ``/status`` (``/scale`` is in ``subresources``)."""
    rt = target.rt
    assert target.name is not None
    ns = target.namespace or ""
    if request.content_type == APPLY_PATCH and target.subresource is None:
        return await server_side_apply(server, request, target)
    body = await read_patch(request)
    objects = server.objects(rt)
    current = objects.get(rt, ns, target.name)
    patched = apply_patch(request.content_type, rt, current.copy(), body, owned=True)
    meta = patched.get("metadata")
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    if meta.get("name") != target.name:
        raise BadRequest("the name of the object cannot be changed by a patch")
    check_kind(rt, patched)
    dry = _dry_run(request)
    warnings = requestoptions.drop_unknown_fields(rt, patched, _field_validation(request))
    if target.subresource is None:
        defaulting.apply_defaults(rt, patched)
        defaulting.on_update(rt, patched, current.obj)
        validation.validate_update(rt, current.obj, patched)
    validation.validate(rt, patched, subresource=target.subresource)
    if target.subresource is None:
        _record_update(server, request, rt, current.obj, patched)
    if dry:
        return _warned(respond(patched), warnings)
    entry = objects.update(
        rt, patched, namespace=ns, name=target.name, subresource=target.subresource
    )
    entry = server.after_write(rt, entry)
    return _warned(object_response(server, request, rt, entry), warnings)


async def _delete_options(request: web.Request) -> dict[str, Any]:
    raw = await bodies.read(request)
    options: dict[str, Any] = {}
    if raw.strip() and request.content_type == PROTOBUF:
        options = protobuf_object(raw)
    elif raw.strip():
        value = await bodies.decode(raw, JSON)
        if not isinstance(value, dict):
            raise BadRequest("DeleteOptions must be an object")
        options = value
    query = request.query
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = query_bool(query, "orphanDependents")
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise invalid(
            "DeleteOptions",
            "",
            [
                (
                    "propagationPolicy",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{policy}": supported values: "Foreground", '
                    '"Background", "Orphan", "nil"',
                )
            ],
            group="meta.k8s.io",
        )
    if policy is None and options.get("orphanDependents") is True:
        options["propagationPolicy"] = "Orphan"
    return options


async def delete(server: ServerState, request: web.Request, target: Target) -> web.Response:
    rt = target.rt
    assert target.name is not None
    options = await _delete_options(request)
    pre = options.get("preconditions") or {}
    objects = server.objects(rt)
    if _dry_run(request) or options.get("dryRun"):
        return respond(objects.get(rt, target.namespace or "", target.name).raw())
    entry, _gone = objects.delete(
        rt,
        target.namespace or "",
        target.name,
        propagation=options.get("propagationPolicy"),
        precondition_uid=pre.get("uid"),
        precondition_rv=pre.get("resourceVersion"),
        grace_seconds=_grace_seconds(options),
    )
    return respond(deleted_answer(rt, entry))


#: Kinds whose DELETE answers the deleted object even when it is gone at once (upstream's
#: ``ReturnDeletedObject``); every other kind answers a Success Status then.
_RETURN_DELETED_OBJECT = frozenset({("", "pods"), ("", "services")})


def deleted_answer(rt: ResourceType, entry: Entry) -> bytes | dict[str, Any]:
    """What DELETE answers: the object while it still exists (finalizers, a grace period, a
    namespace terminating), or for the kinds that always return it; otherwise a Status."""
    meta = entry.obj["metadata"]
    if meta.get("deletionTimestamp") or (rt.group, rt.resource) in _RETURN_DELETED_OBJECT:
        return entry.raw()
    details: dict[str, Any] = {"name": entry.name}
    if rt.group:
        details["group"] = rt.group
    details.update(kind=rt.resource, uid=meta.get("uid"))
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def _grace_seconds(options: dict[str, Any]) -> int | None:
    """DeleteOptions' ``gracePeriodSeconds`` (None: the pod's own), refused when not an
    integer (upstream: 400); a negative one counts as 1 second (the store's rule, upstream's)."""
    raw = options.get("gracePeriodSeconds")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadRequest(f"gracePeriodSeconds: must be an integer, not {raw!r}")
    return raw


async def delete_collection(
    server: ServerState, request: web.Request, target: Target
) -> web.Response:
    rt = target.rt
    objects = server.objects(rt)
    options = await _delete_options(request)
    predicate = selector_predicate(rt, request.query)
    doomed = [
        (e.namespace, e.name)
        for e in objects.entries(rt, target.namespace)
        if predicate is None or predicate(e.obj)
    ]
    deleted: list[Entry] = []
    grace = _grace_seconds(options)
    for ns, name in doomed:
        if objects.find(rt, ns, name) is None:
            continue
        entry, _gone = objects.delete(
            rt, ns, name, propagation=options.get("propagationPolicy"), grace_seconds=grace
        )
        deleted.append(entry)
    head = (
        b'{"kind":"'
        + rt.list_kind.encode()
        + b'","apiVersion":"'
        + rt.api_version.encode()
        + b'","metadata":{"resourceVersion":"'
        + str(server.store.resource_version).encode()
        + b'"},"items":['
    )
    return respond(typedlists.typed_list(head, rt, deleted))


def _dry_run(request: web.Request) -> bool:
    """Whether ``dryRun=All`` was asked for (any other value is refused, 422)."""
    return requestoptions.dry_run(request.query.getall("dryRun", []), request.method)


def method_not_allowed(method: str, what: str) -> MethodNotAllowed:
    return MethodNotAllowed(
        f"the server does not allow this method on the requested resource: {method} {what}"
    )
