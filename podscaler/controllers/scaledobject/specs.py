"""A ScaledObject parsed once per spec, not once per poll.

Validating the object into the pydantic model (``scaled_object_problems``) and resolving it
for the engine (``ScaledObject.resolved``) cost as much CPU as the rest of a poll, and their
result only changes when the spec does: ``metadata.generation`` (bumped by every spec change)
and the metadata the parse also reads — annotations (the pause annotations do not bump the
generation), labels and finalizers. Status is left out of the parse: it is ours, the
evaluation reads it from the JSON, and it changes without the spec changing.

An object without a ``generation`` (a hand-made fake) is parsed on every poll, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podscaler.api.scaledobject import ScaledObject, ScalingSpec
from podscaler.api.validation import Problem, scaled_object_problems

__all__ = ["ParsedSpec", "SpecCache"]


@dataclass(frozen=True)
class ParsedSpec:
    """The object as the evaluation needs it; ``so`` is ``None`` when it does not parse."""

    so: ScaledObject | None
    problems: tuple[Problem, ...]
    scaling: ScalingSpec | None


def _frozen(value: object) -> object:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return value


def _key(obj: Mapping[str, Any]) -> tuple[object, ...] | None:
    meta = obj.get("metadata") or {}
    generation = meta.get("generation")
    if not isinstance(generation, int):
        return None
    return (
        meta.get("uid"),
        generation,
        _frozen(meta.get("annotations")),
        _frozen(meta.get("labels")),
        _frozen(meta.get("finalizers")),
    )


def parse(obj: Mapping[str, Any]) -> ParsedSpec:
    """Validate and translate *obj* (its status left aside)."""
    so, problems = scaled_object_problems({k: v for k, v in obj.items() if k != "status"})
    scaling = so.resolved() if so is not None and not problems else None
    return ParsedSpec(so, tuple(problems), scaling)


class SpecCache:
    """The last parse of one object, reused while its key is unchanged."""

    __slots__ = ("_key", "_parsed")

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._parsed: ParsedSpec | None = None

    def scaling_of(self, so: ScaledObject) -> ScalingSpec:
        """The engine's spec of *so*: the cached one when *so* is the cached parse."""
        parsed = self._parsed
        if parsed is not None and parsed.so is so and parsed.scaling is not None:
            return parsed.scaling
        return so.resolved()

    def get(self, obj: Mapping[str, Any]) -> ParsedSpec:
        key = _key(obj)
        if key is not None and key == self._key and self._parsed is not None:
            return self._parsed
        parsed = parse(obj)
        self._key, self._parsed = key, parsed
        return parsed
