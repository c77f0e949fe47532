"""JSON decoded the way Go's ``encoding/json`` decodes it into CPA's parameter structs.

cluster-proportional-autoscaler reads its ConfigMap values with ``json.Unmarshal`` into small
structs (``linearParams``, ``ladderParams``), and users migrating from it bring ConfigMaps that
were accepted or refused by *that* decoder. Python's ``json`` module agrees with Go on the
grammar but not on how a document becomes typed values, so a ConfigMap CPA took would be
refused here (or the reverse) without these rules, each Go's:

* the top level must be an object, or ``null`` (which sets nothing);
* keys match struct fields exactly or, failing that, case-insensitively (Go folds ASCII letters
  and the four non-ASCII letters that fold onto them: long s U+017F, dotless i U+0131, dotted
  capital I U+0130 and the Kelvin sign U+212A);
  unknown keys are ignored; a repeated key decodes again into what the first one left;
* ``null`` leaves a number, a boolean or an array element as it was, and makes a slice nil;
* an ``int`` field takes only an integer literal within int64 (``1.0`` and ``1e2`` are errors);
  a ``float64`` field takes any number that is finite as a double;
* a ``[2]int`` entry takes an array of any length: missing elements are zero, extra ones are
  skipped without being looked at;
* ``NaN`` and ``Infinity`` (which Python accepts) are not JSON.

Errors read like Go's (``json: cannot unmarshal string into Go struct field
linearParams.coresPerReplica of type float64``); syntax errors carry Python's description and
position, since Go's exact wording of those is not something anyone matches on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["FieldKind", "GoJsonError", "decode_struct"]

FieldKind = Literal["float64", "int", "bool", "entries"]
"""Go types of the fields CPA's structs have: ``entries`` is ``[][2]int``."""

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_INTEGER_LITERAL: Final = re.compile(r"-?(?:0|[1-9][0-9]*)")
#: Non-ASCII letters whose Go case folding (upper of lower) is an ASCII letter.
_SPECIAL_FOLDS: Final = {"\u017f": "S", "\u0131": "I", "\u0130": "I", "\u212a": "K"}


class GoJsonError(ValueError):
    """The document does not decode into the struct; the message says why, as Go would."""


@dataclass(frozen=True, slots=True)
class _Number:
    """A JSON number kept as its literal text: whether it fits depends on the target type."""

    text: str


@dataclass(frozen=True, slots=True)
class _Object:
    """A JSON object as its (key, value) pairs in document order, repeats included."""

    pairs: list[tuple[str, Any]]


def _reject_constant(name: str) -> Any:
    raise GoJsonError(f"invalid character {name[0]!r} looking for beginning of value")


def _go_fold(text: str) -> str:
    return "".join(_SPECIAL_FOLDS.get(c, c.upper() if c.isascii() else c) for c in text)


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Number):
        return f"number {value.text}"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_struct(text: str, fields: Mapping[str, FieldKind], struct: str) -> dict[str, Any]:
    """Decode *text* into a struct named *struct* whose JSON field names and kinds are
    *fields*; returns every field's value (Go zero values for those not set).

    Raises :class:`GoJsonError` where ``json.Unmarshal`` returns an error.
    """
    try:
        document = json.loads(
            text,
            parse_int=_Number,
            parse_float=_Number,
            parse_constant=_reject_constant,
            object_pairs_hook=_Object,
        )
    except json.JSONDecodeError as exc:
        raise GoJsonError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise GoJsonError("invalid JSON: nested too deeply") from exc
    values: dict[str, Any] = {name: _zero(kind) for name, kind in fields.items()}
    if document is None:
        return values
    if not isinstance(document, _Object):
        raise GoJsonError(
            f"json: cannot unmarshal {_json_type(document).split()[0]} into Go value of type "
            f"{struct}"
        )
    folded = {_go_fold(name): name for name in fields}
    for key, raw in document.pairs:
        name = key if key in fields else folded.get(_go_fold(key))
        if name is None:
            continue
        where = f"Go struct field {struct}.{name}"
        values[name] = _decode(raw, fields[name], values[name], where)
    return values


def _zero(kind: FieldKind) -> Any:
    return {"float64": 0.0, "int": 0, "bool": False, "entries": []}[kind]


def _type_error(raw: Any, where: str, go_type: str) -> GoJsonError:
    return GoJsonError(f"json: cannot unmarshal {_json_type(raw)} into {where} of type {go_type}")


def _decode(raw: Any, kind: FieldKind, current: Any, where: str) -> Any:
    if kind == "entries":
        return _decode_entries(raw, current, where)
    if raw is None:
        return current
    if kind == "bool":
        if not isinstance(raw, bool):
            raise _type_error(raw, where, "bool")
        return raw
    if kind == "int":
        return _decode_int(raw, where)
    if not isinstance(raw, _Number):
        raise _type_error(raw, where, "float64")
    value = float(raw.text)
    if value in (float("inf"), float("-inf")):
        raise _type_error(raw, where, "float64")
    return value


def _decode_int(raw: Any, where: str) -> int:
    if not isinstance(raw, _Number) or not _INTEGER_LITERAL.fullmatch(raw.text):
        raise _type_error(raw, where, "int")
    # An int64 has at most 19 digits: anything longer is out of range without converting it
    # (Python limits int() of very long digit strings).
    if len(raw.text.lstrip("-")) > 19:
        raise _type_error(raw, where, "int")
    value = int(raw.text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _type_error(raw, where, "int")
    return value


def _decode_entries(raw: Any, current: list[tuple[int, int]], where: str) -> list[tuple[int, int]]:
    """``[][2]int``: a slice decodes into its previous elements while they last (so a
    ``null`` element of a repeated key keeps what the first occurrence put there)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _type_error(raw, where, "[]paramEntry")
    out: list[tuple[int, int]] = []
    for index, item in enumerate(raw):
        previous = current[index] if index < len(current) else (0, 0)
        out.append(_decode_entry(item, previous, where))
    return out


def _decode_entry(raw: Any, previous: tuple[int, int], where: str) -> tuple[int, int]:
    if raw is None:
        return previous
    if not isinstance(raw, list):
        raise _type_error(raw, where, "paramEntry")
    pair = list(previous)
    for index in range(2):
        if index >= len(raw):
            pair[index] = 0
        elif raw[index] is not None:
            pair[index] = _decode_int(raw[index], where)
    return pair[0], pair[1]
