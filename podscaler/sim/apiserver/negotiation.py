"""Which form of an answer a request's ``Accept`` header asks for, as kube-apiserver negotiates.

Clients name alternatives in order of preference, e.g. kubectl's ``application/json;as=Table;
v=v1;g=meta.k8s.io, application/json`` or client-go's metadata informers'
``application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,
application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json``. The
first alternative the server can give wins:

* ``as=Table`` (``meta.k8s.io`` v1 or v1beta1): server-side printing (``tables.py``);
* ``as=PartialObjectMetadata`` for one object or a watch, ``as=PartialObjectMetadataList`` for
  a list: the objects' ``metadata`` only (metadata-only informers, the garbage collector);
* no ``as``: the object itself.

The server writes JSON and YAML, so a protobuf alternative is passed over (every client that
asks for protobuf also accepts JSON); an ``as`` it does not know, or the list form on a single
object, is passed over too. A header naming only media types kube-apiserver does not speak
(``text/html``) is 406, as upstream; one naming only protobuf gets JSON (upstream would answer
in protobuf).

YAML (``application/yaml``) is an encoding, not a form: whichever form was chosen is written as
YAML when the media type the server picks is YAML (:func:`wants_yaml`; the server's middleware
re-encodes the JSON answer, errors included, as kube-apiserver does). Watches have no YAML
framing upstream: a watch that accepts only YAML is 406 (:data:`WATCH_MEDIA_TYPES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml

from podscaler.sim.apiserver.entries import Entry, Obj, dumps
from podscaler.sim.apiserver.errors import NotAcceptable

#: What is answered: the object, a Table, or PartialObjectMetadata(List).
Form = Literal["object", "table", "metadata"]
#: Where the answer goes: one object, a list, or a watch stream's events.
Endpoint = Literal["object", "list", "watch"]

META_GROUP: Final = "meta.k8s.io"
_META_VERSIONS: Final = ("v1", "v1beta1")
_PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
YAML: Final = "application/yaml"
#: What a watch may be answered in upstream (there is no YAML stream framing).
WATCH_MEDIA_TYPES: Final = (
    "application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch"
)
#: Media types an answer may be given in upstream (any other header alone is a 406).
_SPOKEN: Final = frozenset(
    {"application/json", "application/yaml", _PROTOBUF, "application/*", "*/*"}
)


@dataclass(frozen=True, slots=True)
class Answer:
    form: Form
    #: The ``meta.k8s.io`` version of a Table or PartialObjectMetadata answer.
    version: str = "v1"


OBJECT: Final = Answer("object")


def media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """``Accept`` as (media type, parameters) in the order given (``q`` is not weighed)."""
    out: list[tuple[str, dict[str, str]]] = []
    for clause in accept.split(","):
        media, *raw_params = clause.split(";")
        media = media.strip().lower()
        if not media:
            continue
        params: dict[str, str] = {}
        for raw in raw_params:
            key, sep, value = raw.partition("=")
            if sep:
                params[key.strip()] = value.strip().strip('"')
        out.append((media, params))
    return out


def negotiate(accept: str, endpoint: Endpoint) -> Answer:
    """The first form in ``accept`` this server gives at ``endpoint`` (see the module doc)."""
    ranges = media_ranges(accept)
    if ranges and not any(media in _SPOKEN for media, _params in ranges):
        raise NotAcceptable(
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf"
        )
    for media, params in ranges:
        if media == _PROTOBUF:
            continue
        as_ = params.get("as")
        if as_ is None:
            return OBJECT
        if params.get("g") != META_GROUP or params.get("v") not in _META_VERSIONS:
            continue
        version = params["v"]
        if as_ == "Table":
            return Answer("table", version)
        wanted = "PartialObjectMetadataList" if endpoint == "list" else "PartialObjectMetadata"
        if as_ == wanted:
            return Answer("metadata", version)
    return OBJECT


def answer_of(request: Any, endpoint: Endpoint) -> Answer:
    """:func:`negotiate` on an aiohttp request's ``Accept`` header."""
    return negotiate(str(request.headers.get("Accept", "")), endpoint)


def partial(obj: Obj, version: str = "v1") -> Obj:
    """An object's PartialObjectMetadata: its ``metadata`` under meta.k8s.io's kind."""
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{META_GROUP}/{version}",
        "metadata": obj.get("metadata") or {},
    }


def partial_list(entries: list[Entry], list_meta: Obj, version: str = "v1") -> bytes:
    """A PartialObjectMetadataList of ``entries`` (serialized: lists may be long)."""
    head = (
        b'{"kind":"PartialObjectMetadataList","apiVersion":"'
        + f"{META_GROUP}/{version}".encode()
        + b'","metadata":'
        + dumps(list_meta)
        + b',"items":['
    )
    return head + b",".join(dumps(partial(e.obj, version)) for e in entries) + b"]}"


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def wants_yaml(accept: str) -> bool:
    """Whether the media type the server picks from ``accept`` is YAML: the most preferred
    (``q``, then order) of JSON, YAML and wildcards; protobuf is passed over, as above."""
    ranges = [
        (media, params)
        for media, params in media_ranges(accept)
        if media in _SPOKEN and media != _PROTOBUF and _quality(params) > 0
    ]
    if not ranges:
        return False
    best = max(ranges, key=lambda r: _quality(r[1]))  # max keeps the first of equals
    return best[0] == YAML


_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def to_yaml(raw: bytes) -> bytes:
    """A JSON answer written as YAML: keys sorted, block style, as sigs.k8s.io/yaml writes."""
    return yaml.dump(
        json.loads(raw),
        Dumper=_Dumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
    ).encode()
