"""Reading :mod:`podscaler.nodes.options` from the ways users write them: command-line flags
(``--scale-down-unneeded-time=10m``, CA's spelling), scenario files (``scaleDownUnneededTime:
10m``, camelCase) and snake_case, into one validated :class:`NodeAutoscalerOptions`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from podscaler.api.durations import parse_go_duration
from podscaler.api.gostrconv import parse_bool
from podscaler.nodes.options import (
    EXPANDERS,
    OPTIONS,
    NodeAutoscalerOptions,
    NodeGroupBounds,
    OptionKind,
    OptionsError,
    OptionSpec,
    _validated,
)

__all__ = [
    "option_names",
    "parse_expander_chain",
    "parse_flags",
    "parse_node_group_bounds",
    "parse_options",
]

#: Other spellings accepted for an option (old or corrected names).
_ALIASES: Final = {
    "blocking-system-pod-disruption-timeout": "blocking-system-pod-distruption-timeout",
}

_BY_FLAG: Final = {spec.flag: spec for spec in OPTIONS}
_BY_KEY: Final = {
    **{spec.flag: spec for spec in OPTIONS},
    **{spec.camel: spec for spec in OPTIONS},
    **{spec.flag.replace("-", "_"): spec for spec in OPTIONS},
    **{spec.field: spec for spec in OPTIONS},
    **{alias: _BY_FLAG[target] for alias, target in _ALIASES.items()},
}

_INT: Final = re.compile(r"[+-]?[0-9]+")
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _bad(spec: OptionSpec, key: str, raw: Any, what: str) -> OptionsError:
    return OptionsError(f"{key}: {raw!r} is not {what}")


def _to_bool(spec: OptionSpec, key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    parsed = parse_bool(raw) if isinstance(raw, str) else None
    if parsed is not None:
        return parsed
    raise _bad(spec, key, raw, "a boolean")


def _to_int(spec: OptionSpec, key: str, raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
        return int(raw)
    raise _bad(spec, key, raw, "an integer")


def _to_float(spec: OptionSpec, key: str, raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            raise _bad(spec, key, raw, "a number") from None
    else:
        raise _bad(spec, key, raw, "a number")
    if not math.isfinite(value):
        raise _bad(spec, key, raw, "a finite number")
    return value


def _to_duration(spec: OptionSpec, key: str, raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds: float | None = float(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        seconds = parse_go_duration(text)
        if seconds is None and _NUMBER.fullmatch(text):
            seconds = float(text)  # a bare number is seconds (Go would want a unit)
    else:
        seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise _bad(spec, key, raw, "a duration such as 10m or 30s (or a number of seconds)")
    if seconds < 0:
        raise _bad(spec, key, raw, "a duration that is not negative")
    return seconds


def _to_range(spec: OptionSpec, key: str, raw: Any) -> tuple[int, int]:
    parts = raw.split(":") if isinstance(raw, str) else None
    if parts is None or len(parts) != 2 or not all(_INT.fullmatch(p.strip()) for p in parts):
        raise _bad(spec, key, raw, "min:max with two integers")
    low, high = int(parts[0]), int(parts[1])
    if low < 0 or high < low:
        raise _bad(spec, key, raw, "min:max with 0 <= min <= max")
    return low, high


def _to_strings(spec: OptionSpec, key: str, raw: Any) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise _bad(spec, key, raw, "a string or a list of strings")
    return tuple(items)


def parse_node_group_bounds(text: str) -> NodeGroupBounds:
    """``--nodes=min:max:name`` (CA's ``dynamic.SpecFromString``)."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(_INT.fullmatch(p) for p in parts[:2]) or not parts[2]:
        raise OptionsError(f"nodes: {text!r} is not min:max:name")
    low, high = int(parts[0]), int(parts[1])
    if low < 0:
        raise OptionsError(f"nodes: {text!r}: min size must be >= 0")
    if high < low:
        raise OptionsError(f"nodes: {text!r}: max size must be >= min size")
    if high == 0:
        raise OptionsError(f"nodes: {text!r}: max size must be > 0")
    return NodeGroupBounds(low, high, parts[2])


def parse_expander_chain(text: str) -> tuple[str, ...]:
    """``--expander=priority,least-waste``: known names, none twice, ``random`` (which always
    picks exactly one) only last."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        if name not in EXPANDERS:
            known = ", ".join(EXPANDERS)
            raise OptionsError(f"expander: unknown expander {name!r} (known: {known})")
    if len(set(names)) != len(names):
        raise OptionsError(f"expander: {text!r} names an expander twice")
    if "random" in names[:-1]:
        raise OptionsError(f"expander: {text!r}: random picks one option, so it must come last")
    return names


def _convert(spec: OptionSpec, key: str, raw: Any) -> Any:
    if spec.field == "max_empty_bulk_delete" and raw is None:
        return None
    match spec.kind:
        case OptionKind.BOOL:
            return _to_bool(spec, key, raw)
        case OptionKind.INT:
            return _to_int(spec, key, raw)
        case OptionKind.FLOAT:
            return _to_float(spec, key, raw)
        case OptionKind.DURATION:
            return _to_duration(spec, key, raw)
        case OptionKind.RANGE:
            low, high = _to_range(spec, key, raw)
            if spec.field == "memory_total_bytes":
                return low * 1024**3, high * 1024**3
            return low, high
        case OptionKind.STRINGS:
            values = _to_strings(spec, key, raw)
            if spec.field == "nodes":
                return tuple(parse_node_group_bounds(v) for v in values)
            return values
        case OptionKind.STRING:
            if not isinstance(raw, str):
                raise _bad(spec, key, raw, "a string")
            if spec.field == "expander":
                return parse_expander_chain(raw)
            return raw


def parse_options(values: Mapping[str, Any]) -> NodeAutoscalerOptions:
    """Options from ``{name: value}`` where a name is CA's flag (``scale-down-unneeded-time``,
    with or without ``--``), its camelCase (``scaleDownUnneededTime``) or snake_case form.

    Values are strings as on a command line, or YAML scalars and lists. An unknown name, a
    value of the wrong form, or two spellings of one option raise :class:`OptionsError`.
    """
    changes: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, raw in values.items():
        name = key[2:] if key.startswith("--") else key
        spec = _BY_KEY.get(name)
        if spec is None:
            raise OptionsError(f"{key}: unknown option{_suggestion(name)}")
        if spec.field in seen:
            raise OptionsError(f"{key}: given twice (also as {seen[spec.field]})")
        seen[spec.field] = key
        changes[spec.field] = _convert(spec, key, raw)
    return _validated(replace(NodeAutoscalerOptions(), **changes))


def parse_flags(argv: Sequence[str]) -> NodeAutoscalerOptions:
    """Options from command-line words: ``--flag=value``, ``--flag value``, a bare boolean
    ``--flag``; list options may repeat."""
    collected: dict[str, Any] = {}
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--"):
            raise OptionsError(f"{word!r}: expected --flag")
        name, has_value, value = word[2:].partition("=")
        spec = _BY_KEY.get(name)
        if spec is None:
            raise OptionsError(f"--{name}: unknown flag{_suggestion(name)}")
        if not has_value:
            if spec.kind is OptionKind.BOOL:
                value = "true"
            elif index < len(words):
                value = words[index]
                index += 1
            else:
                raise OptionsError(f"--{name}: needs a value")
        if spec.kind is OptionKind.STRINGS:
            previous = collected.get(spec.flag, [])
            collected[spec.flag] = [*previous, value]
        elif spec.flag in collected:
            raise OptionsError(f"--{name}: given twice")
        else:
            collected[spec.flag] = value
    return parse_options(collected)


def _suggestion(name: str) -> str:
    close = difflib.get_close_matches(name, list(_BY_FLAG), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def option_names() -> Iterable[str]:
    """Every accepted flag spelling (for completion and error messages)."""
    return (*_BY_FLAG, *_ALIASES)
