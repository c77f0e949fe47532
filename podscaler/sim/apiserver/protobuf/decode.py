"""Kubernetes protobuf request bodies to the JSON objects the server stores.

kubectl's ``create`` subcommands (and client-go's typed clients generally) send built-in kinds
as ``application/vnd.kubernetes.protobuf``: the four bytes ``k8s\\x00`` and then a
``runtime.Unknown`` message whose ``typeMeta`` names apiVersion and kind and whose ``raw``
holds the object's own message. This module reads that wire format with the field tables in
``schema.json`` (generated from upstream's ``.proto`` files and Go types, see
``generate.py``) and renders the object as Go's JSON encoding would, so a protobuf create
stores exactly what a JSON create of the same object stores:

* a plain (non-pointer) scalar that Go marks ``omitempty`` is dropped when zero (gogo-protobuf
  writes every plain field, zero or not, while JSON leaves zeros out);
* a pointer field is kept whenever present (``replicas: 0`` is meaningful);
* nested structs are kept even when empty (``"resources": {}``), inline ones are merged into
  their parent (``Volume`` + ``VolumeSource``);
* ``Time`` is RFC 3339 to the second, ``MicroTime`` to the microsecond, a zero time is
  ``null``; ``IntOrString`` is a number or a string; ``Quantity`` its string; ``bytes`` are
  base64; ``RawExtension``/``FieldsV1`` carry JSON and are parsed.

Unknown field numbers are skipped, as upstream's generated decoders skip them. Anything else
that does not parse (truncated data, a wrong wire type for a known field, a varint past 64
bits, nesting beyond any real object) raises :class:`MalformedBody`; a kind without a table
raises :class:`UnsupportedKind`. Invalid UTF-8 in a string becomes U+FFFD, as Go's JSON
encoder renders it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

MAGIC = b"k8s\x00"

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_VARINT_TYPES = frozenset({"bool", "int32", "int64"})
_MAX_DEPTH = 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_U64 = (1 << 64) - 1

Field = tuple[str, str, str]  # (JSON name, type, flags)


class MalformedBody(ValueError):
    """The bytes are not a valid Kubernetes protobuf object (the request gets a 400)."""


class UnsupportedKind(ValueError):
    """A well-formed envelope whose kind this server has no protobuf table for (415)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"{api_version}/{kind}")
        self.api_version = api_version
        self.kind = kind


class _Schema:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.kinds: dict[str, str] = raw["kinds"]
        self.messages: dict[str, dict[int, Field]] = {}
        self.lists: set[str] = set()
        for name, message in raw["messages"].items():
            self.messages[name] = {
                int(number): (str(spec[0]), str(spec[1]), str(spec[2]))
                for number, spec in message["fields"].items()
            }
            if message.get("list"):
                self.lists.add(name)


@cache
def _schema() -> _Schema:
    raw = json.loads(Path(__file__).with_name("schema.json").read_text())
    return _Schema(raw)


def decodable_kinds() -> frozenset[str]:
    """``apiVersion/kind`` of every kind with a table (``v1/Namespace``, ``apps/v1/...``)."""
    return frozenset(_schema().kinds)


# ------------------------------------------------------------------------------ wire level


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise MalformedBody("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise MalformedBody("varint longer than 10 bytes")
    return result & _U64, pos


def _fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """``(number, wire type, value or start, end)`` for each field in ``buf[start:end]``.

    For a varint or fixed-width field the third item is its value (fourth unused); for a
    length-delimited one, the third and fourth are the payload's bounds.
    """
    out = []
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise MalformedBody("field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            out.append((number, wire, value, 0))
        elif wire == _BYTES:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise MalformedBody("length-delimited field runs past the end of its message")
            out.append((number, wire, pos, pos + length))
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if size > end - pos:
                raise MalformedBody("truncated fixed-width field")
            out.append((number, wire, int.from_bytes(buf[pos : pos + size], "little"), 0))
            pos += size
        else:
            raise MalformedBody(f"unsupported wire type {wire} (field {number})")
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _text(buf: bytes, start: int, end: int) -> str:
    return buf[start:end].decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------ envelope


def decode(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00`` + ``runtime.Unknown`` body → the object as JSON, with apiVersion/kind."""
    if not body.startswith(MAGIC):
        raise MalformedBody("the body does not start with the Kubernetes protobuf prefix k8s\\0")
    buf = bytes(body)
    api_version = kind = encoding = ""
    raw: tuple[int, int] | None = None
    for number, wire, a, b in _fields(buf, len(MAGIC), len(buf)):
        if number == 1:
            _expect(wire, _BYTES, "runtime.Unknown.typeMeta")
            for n, w, c, d in _fields(buf, a, b):
                if n in (1, 2):
                    _expect(w, _BYTES, "runtime.TypeMeta")
                    if n == 1:
                        api_version = _text(buf, c, d)
                    else:
                        kind = _text(buf, c, d)
        elif number == 2:
            _expect(wire, _BYTES, "runtime.Unknown.raw")
            raw = (a, b)
        elif number == 3:
            _expect(wire, _BYTES, "runtime.Unknown.contentEncoding")
            encoding = _text(buf, a, b)
    if not kind or not api_version:
        raise MalformedBody("the protobuf envelope does not name an apiVersion and kind")
    if encoding:
        raise MalformedBody(f"content encoding {encoding!r} is not supported")
    kinds = _schema().kinds
    # DeleteOptions is registered in every group-version: client-go names the resource's.
    message = kinds.get(f"{api_version}/{kind}") or (
        kinds["meta.k8s.io/v1/DeleteOptions"] if kind == "DeleteOptions" else None
    )
    if message is None:
        raise UnsupportedKind(api_version, kind)
    start, end = raw if raw is not None else (0, 0)
    obj = _message(buf, start, end, message, 0)
    assert isinstance(obj, dict)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _expect(wire: int, wanted: int, where: str) -> None:
    if wire != wanted:
        raise MalformedBody(f"{where}: wire type {wire}, expected {wanted}")


# ------------------------------------------------------------------------------ messages


def _message(buf: bytes, start: int, end: int, name: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise MalformedBody("objects nested too deeply")
    special = _SPECIAL.get(name)
    if special is not None:
        return special(buf, start, end)
    schema = _schema()
    table = schema.messages[name]
    if name in schema.lists:
        return [value for _, value in _decode_fields(buf, start, end, name, table, depth)]
    out: dict[str, Any] = {}
    present: dict[str, Field] = {}
    for spec, value in _decode_fields(buf, start, end, name, table, depth):
        json_name, _type, flags = spec
        if "i" in flags:
            if isinstance(value, dict):
                out.update(value)
            continue
        if "r" in flags:
            out.setdefault(json_name, []).append(value)
        elif "m" in flags:
            key, item = value
            out.setdefault(json_name, {})[key] = item
        else:
            out[json_name] = value
            present[json_name] = spec
    for json_name, (_, type_, flags) in present.items():
        if "p" in flags or "k" in flags or type_ not in _ZEROS:
            continue
        if out[json_name] == _ZEROS[type_]:
            del out[json_name]
    return out


_ZEROS: dict[str, Any] = {"string": "", "bytes": "", "bool": False, "int32": 0, "int64": 0}


def _decode_fields(
    buf: bytes, start: int, end: int, name: str, table: dict[int, Field], depth: int
) -> list[tuple[Field, Any]]:
    out: list[tuple[Field, Any]] = []
    for number, wire, a, b in _fields(buf, start, end):
        spec = table.get(number)
        if spec is None:
            continue  # unknown fields are skipped, as upstream's decoders do
        json_name, type_, flags = spec
        where = f"{name}.{json_name}"
        if "m" in flags:
            _expect(wire, _BYTES, where)
            out.append((spec, _map_entry(buf, a, b, type_, where, depth)))
        elif type_ in _VARINT_TYPES:
            if wire == _BYTES and "r" in flags:  # packed repeated scalars
                pos = a
                while pos < b:
                    value, pos = _varint(buf, pos, b)
                    out.append((spec, _number(type_, value)))
                continue
            _expect(wire, _VARINT, where)
            out.append((spec, _number(type_, a)))
        else:
            _expect(wire, _BYTES, where)
            out.append((spec, _value(buf, a, b, type_, depth)))
    return out


def _number(type_: str, value: int) -> int | bool:
    if type_ == "bool":
        return value != 0
    return _signed(value, 32 if type_ == "int32" else 64)


def _value(buf: bytes, start: int, end: int, type_: str, depth: int) -> Any:
    if type_ == "string":
        return _text(buf, start, end)
    if type_ == "bytes":
        return base64.b64encode(buf[start:end]).decode()
    return _message(buf, start, end, type_, depth + 1)


def _map_entry(
    buf: bytes, start: int, end: int, type_: str, where: str, depth: int
) -> tuple[str, Any]:
    key = ""
    value: Any = None
    for number, wire, a, b in _fields(buf, start, end):
        if number == 1:
            _expect(wire, _BYTES, f"{where} (map key)")
            key = _text(buf, a, b)
        elif number == 2:
            if type_ in _VARINT_TYPES:
                _expect(wire, _VARINT, f"{where} (map value)")
                value = _number(type_, a)
            else:
                _expect(wire, _BYTES, f"{where} (map value)")
                value = _value(buf, a, b, type_, depth)
    if value is None:
        value = _ZEROS.get(type_)
        if value is None:
            value = _message(buf, 0, 0, type_, depth + 1)
    return key, value


# ------------------------------------------------------------------------------ special types


def _seconds_nanos(buf: bytes, start: int, end: int) -> datetime | None:
    if start == end:
        return None  # a zero time.Time marshals to an empty message
    seconds = nanos = 0
    for number, wire, a, _ in _fields(buf, start, end):
        if number in (1, 2):
            _expect(wire, _VARINT, "Time")
            if number == 1:
                seconds = _signed(a, 64)
            else:
                nanos = _signed(a, 32)
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise MalformedBody(f"time out of range: {seconds}s") from exc
    if moment.year > 9999:
        raise MalformedBody(f"time out of range: {seconds}s")
    return moment


def _stamp(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def _time(buf: bytes, start: int, end: int) -> str | None:
    moment = _seconds_nanos(buf, start, end)
    return None if moment is None else _stamp(moment) + "Z"


def _micro_time(buf: bytes, start: int, end: int) -> str | None:
    moment = _seconds_nanos(buf, start, end)
    return None if moment is None else f"{_stamp(moment)}.{moment.microsecond:06d}Z"


def _int_or_string(buf: bytes, start: int, end: int) -> int | str:
    kind, number, text = 0, 0, ""
    for n, wire, a, b in _fields(buf, start, end):
        if n in (1, 2):
            _expect(wire, _VARINT, "IntOrString")
            if n == 1:
                kind = _signed(a, 64)
            else:
                number = _signed(a, 32)
        elif n == 3:
            _expect(wire, _BYTES, "IntOrString")
            text = _text(buf, a, b)
    return text if kind == 1 else number


def _quantity(buf: bytes, start: int, end: int) -> str:
    text = ""
    for n, wire, a, b in _fields(buf, start, end):
        if n == 1:
            _expect(wire, _BYTES, "Quantity")
            text = _text(buf, a, b)
    return text


def _raw_json(buf: bytes, start: int, end: int) -> Any:
    raw = b""
    for n, wire, a, b in _fields(buf, start, end):
        if n == 1:
            _expect(wire, _BYTES, "RawExtension")
            raw = buf[a:b]
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedBody(f"embedded JSON does not parse: {exc}") from exc


_SPECIAL = {
    "meta/v1.Time": _time,
    "meta/v1.MicroTime": _micro_time,
    "intstr.IntOrString": _int_or_string,
    "resource.Quantity": _quantity,
    "runtime.RawExtension": _raw_json,
    "meta/v1.FieldsV1": _raw_json,
}
