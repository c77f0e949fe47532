"""Custom resources checked against their CRD's structural ``openAPIV3Schema``, as
kube-apiserver checks them: unknown fields pruned, then types, ``required``, ``enum``,
numeric bounds, string lengths and patterns, item and property counts validated, with
upstream's field paths and messages (so a client sees the same 422 either way).

Pruning keeps what the schema declares: an object node drops keys its ``properties`` do not
name unless it has ``x-kubernetes-preserve-unknown-fields: true`` or an
``additionalProperties`` schema (then every value is checked against that). ``apiVersion``,
``kind`` and ``metadata`` at the root are the server's business, never the schema's.

Deliberately left out (documented so nobody relies on them): ``default`` values are not
applied; string ``format`` is not checked; CEL ``x-kubernetes-validations`` are not run;
``x-kubernetes-list-type`` uniqueness is not enforced; validation ratcheting (upstream lets an
update keep an already-invalid unchanged field) is not modelled.

Depth: bodies are at most :data:`podscaler.sim.apiserver.bodies.MAX_DEPTH` deep, so the
recursion here is bounded by that and by the schema's own depth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

__all__ = ["Cause", "prune", "validate"]

#: (field, reason, message) as :func:`podscaler.sim.apiserver.errors.invalid` takes them.
Cause = tuple[str, str, str]
Schema = Mapping[str, Any]

_ROOT_SERVER_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})


# ------------------------------------------------------------------------------ pruning


def _preserves(schema: Schema) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


def prune(value: Any, schema: Schema, *, root: bool = False) -> None:
    """Drop, in place, every field of ``value`` that ``schema`` does not declare."""
    if isinstance(value, dict):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        additional = schema.get("additionalProperties")
        if not _preserves(schema) and not isinstance(additional, dict):
            for key in [k for k in value if k not in properties]:
                if not (root and key in _ROOT_SERVER_FIELDS):
                    del value[key]
        for key, child in value.items():
            if root and key in _ROOT_SERVER_FIELDS:
                continue
            sub = properties.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if isinstance(sub, dict):
                prune(child, sub)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for child in value:
                prune(child, items)


# ------------------------------------------------------------------------------ validation


def _type_name(value: Any) -> str:
    """The JSON type of a decoded value, as kube-openapi names it in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _has_type(value: Any, wanted: str) -> bool:
    actual = _type_name(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def _shown(value: Any) -> str:
    """A bad value as Go's ``%#v`` of the decoded value prints it in ``Invalid value: ...``."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(_type_name(value))


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None


def validate(value: Any, schema: Schema, path: str = "", *, root: bool = False) -> list[Cause]:
    """Every way ``value`` breaks ``schema``; ``path`` is the field path of ``value``."""
    causes: list[Cause] = []
    _check(value, schema, path, causes, root)
    return causes


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, schema: Schema, path: str, causes: list[Cause], root: bool) -> None:
    where = path or "<root>"
    if value is None:
        if schema.get("nullable") is True:
            return
        wanted = schema.get("type")
        if wanted or schema.get("x-kubernetes-int-or-string"):
            shown = wanted or "integer,string"
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "null": {where} in body must be of type {shown}: "null"',
                )
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if _type_name(value) not in ("integer", "string"):
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{_type_name(value)}": {where} in body must be of type '
                    f'integer,string: "{_type_name(value)}"',
                )
            )
            return
    else:
        wanted = schema.get("type")
        if isinstance(wanted, str) and not _has_type(value, wanted):
            actual = _type_name(value)
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f'Invalid value: "{actual}": {where} in body must be of type {wanted}: '
                    f'"{actual}"',
                )
            )
            return
    _check_enum(value, schema, path, causes)
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        _check_number(value, schema, path, where, causes)
    elif isinstance(value, str):
        _check_string(value, schema, path, where, causes)
    elif isinstance(value, list):
        _check_array(value, schema, path, where, causes)
    elif isinstance(value, dict):
        _check_object(value, schema, path, where, causes, root)


def _check_enum(value: Any, schema: Schema, path: str, causes: list[Cause]) -> None:
    allowed = schema.get("enum")
    if isinstance(allowed, list) and allowed and value not in allowed:
        listed = ", ".join(json.dumps(a) for a in allowed)
        causes.append(
            (
                path,
                "FieldValueNotSupported",
                f"Unsupported value: {_shown(value)}: supported values: {listed}",
            )
        )


def _check_number(value: float, schema: Schema, path: str, where: str, causes: list[Cause]) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool):
        exclusive = schema.get("exclusiveMinimum") is True
        if value < low or (exclusive and value == low):
            relation = "greater than" if exclusive else "greater than or equal to"
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {_shown(value)}: {where} in body should be {relation} "
                    f"{_number(low)}",
                )
            )
    if isinstance(high, int | float) and not isinstance(high, bool):
        exclusive = schema.get("exclusiveMaximum") is True
        if value > high or (exclusive and value == high):
            relation = "less than" if exclusive else "less than or equal to"
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {_shown(value)}: {where} in body should be {relation} "
                    f"{_number(high)}",
                )
            )
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        quotient = value / step
        if abs(quotient - round(quotient)) > 1e-9:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {_shown(value)}: {where} in body should be a multiple of "
                    f"{_number(step)}",
                )
            )


def _check_string(value: str, schema: Schema, path: str, where: str, causes: list[Cause]) -> None:
    longest, shortest = schema.get("maxLength"), schema.get("minLength")
    length = len(value)
    if isinstance(longest, int) and length > longest:
        causes.append((path, "FieldValueTooLong", f"Too long: may not be longer than {longest}"))
    if isinstance(shortest, int) and length < shortest:
        causes.append(
            (
                path,
                "FieldValueInvalid",
                f"Invalid value: {_shown(value)}: {where} in body should be at least {shortest} "
                "chars long",
            )
        )
    text = schema.get("pattern")
    if isinstance(text, str):
        compiled = _pattern(text)
        if compiled is not None and compiled.search(value) is None:
            causes.append(
                (
                    path,
                    "FieldValueInvalid",
                    f"Invalid value: {_shown(value)}: {where} in body should match '{text}'",
                )
            )


def _check_array(
    value: list[Any], schema: Schema, path: str, where: str, causes: list[Cause]
) -> None:
    most, least = schema.get("maxItems"), schema.get("minItems")
    if isinstance(most, int) and len(value) > most:
        causes.append(
            (path, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {most} items")
        )
    if isinstance(least, int) and len(value) < least:
        causes.append(
            (
                path,
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {where} in body should have at least {least} items",
            )
        )
    items = schema.get("items")
    if isinstance(items, dict):
        for i, child in enumerate(value):
            _check(child, items, f"{path}[{i}]", causes, False)


def _check_object(
    value: dict[str, Any],
    schema: Schema,
    path: str,
    where: str,
    causes: list[Cause],
    root: bool,
) -> None:
    most, least = schema.get("maxProperties"), schema.get("minProperties")
    if isinstance(most, int) and len(value) > most:
        causes.append(
            (
                path,
                "FieldValueTooMany",
                f"Too many: {len(value)}: must have at most {most} items",
            )
        )
    if isinstance(least, int) and len(value) < least:
        causes.append(
            (
                path,
                "FieldValueInvalid",
                f"Invalid value: {len(value)}: {where} in body should have at least {least} "
                "properties",
            )
        )
    required = schema.get("required")
    if isinstance(required, list):
        for name in required:
            if isinstance(name, str) and name not in value:
                causes.append((_child(path, name), "FieldValueRequired", "Required value"))
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    additional = schema.get("additionalProperties")
    for key, child in value.items():
        if root and key in _ROOT_SERVER_FIELDS:
            continue
        sub = properties.get(key)
        if isinstance(sub, dict):
            _check(child, sub, _child(path, key), causes, False)
        elif isinstance(additional, dict):
            _check(child, additional, f"{path}[{key}]", causes, False)
