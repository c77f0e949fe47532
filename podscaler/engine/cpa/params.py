"""CPA's parameters: the two modes' settings, their validation, and the ConfigMap format.

A cluster-proportional-autoscaler ConfigMap holds exactly one key, ``linear`` or ``ladder``,
whose value is a JSON object (reference/algorithms.md C.3, C.4). :func:`parse_config_data`
reads such a ``data`` map; :func:`parse_linear` / :func:`parse_ladder` read one value with
Go's JSON rules (:mod:`podscaler.engine.cpa.gojson`) and then check it as upstream does, with
upstream's messages, so an error a user has seen from CPA reads the same here.

A ProportionalScaler's typed spec goes through :func:`check_linear` too, so both sources
accept and refuse the same parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from podscaler.api.validation import Problem
from podscaler.engine.cpa.gojson import FieldKind, GoJsonError, decode_struct

__all__ = [
    "LADDER",
    "LINEAR",
    "LadderParams",
    "LinearParams",
    "Mode",
    "Params",
    "ParamsError",
    "check_ladder",
    "check_linear",
    "config_map_problems",
    "go_format_entries",
    "parse_config_data",
    "parse_ladder",
    "parse_linear",
]

LINEAR: Final = "linear"
LADDER: Final = "ladder"
Mode = Literal["linear", "ladder"]

Entry = tuple[int, int]
"""A ladder step: (threshold, replicas)."""


class ParamsError(ValueError):
    """Parameters CPA would refuse; the message is upstream's (wrapped as upstream wraps it)."""


@dataclass(frozen=True, slots=True)
class LinearParams:
    """``data.linear``. ``min`` is after defaulting (0 → 1) when parsed; ``max`` 0 is no
    maximum; a per-replica value of 0 means that resource is not used."""

    cores_per_replica: float = 0.0
    nodes_per_replica: float = 0.0
    min: int = 1
    max: int = 0
    prevent_single_point_failure: bool = False
    include_unschedulable_nodes: bool = False

    @property
    def mode(self) -> Mode:
        return "linear"

    def to_json(self) -> dict[str, Any]:
        """The parameters under their JSON names (as a ConfigMap value would carry them)."""
        return {
            "coresPerReplica": self.cores_per_replica,
            "nodesPerReplica": self.nodes_per_replica,
            "min": self.min,
            "max": self.max,
            "preventSinglePointFailure": self.prevent_single_point_failure,
            "includeUnschedulableNodes": self.include_unschedulable_nodes,
        }


@dataclass(frozen=True, slots=True)
class LadderParams:
    """``data.ladder``: steps as (threshold, replicas), in the order given (upstream's parser
    keeps it; :meth:`sorted` is what a running controller uses)."""

    cores_to_replicas: tuple[Entry, ...] = ()
    nodes_to_replicas: tuple[Entry, ...] = ()
    include_unschedulable_nodes: bool = False

    @property
    def mode(self) -> Mode:
        return "ladder"

    def sorted(self) -> LadderParams:
        """Steps ordered by threshold, as upstream's ``SyncConfig`` sorts them.

        Stable: steps sharing a threshold keep their given order, so the last one written wins
        (Go's ``sort.Sort`` is an insertion sort, hence stable, up to 12 steps; beyond that
        its order among equal thresholds is unspecified).
        """
        return LadderParams(
            tuple(sorted(self.cores_to_replicas, key=lambda e: e[0])),
            tuple(sorted(self.nodes_to_replicas, key=lambda e: e[0])),
            self.include_unschedulable_nodes,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "coresToReplicas": [list(e) for e in self.cores_to_replicas],
            "nodesToReplicas": [list(e) for e in self.nodes_to_replicas],
            "includeUnschedulableNodes": self.include_unschedulable_nodes,
        }


Params = LinearParams | LadderParams

_LINEAR_FIELDS: Final[dict[str, FieldKind]] = {
    "coresPerReplica": "float64",
    "nodesPerReplica": "float64",
    "min": "int",
    "max": "int",
    "preventSinglePointFailure": "bool",
    "includeUnschedulableNodes": "bool",
}
_LADDER_FIELDS: Final[dict[str, FieldKind]] = {
    "coresToReplicas": "entries",
    "nodesToReplicas": "entries",
    "includeUnschedulableNodes": "bool",
}


def _go_number(value: float) -> str:
    """A float64 as Go's ``%v`` prints it (``2``, ``2.5``, ``1e+21``)."""
    if not math.isfinite(value):
        return "+Inf" if value > 0 else ("-Inf" if value < 0 else "NaN")
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def go_format_entries(entries: tuple[Entry, ...] | list[Entry]) -> str:
    """Ladder steps as Go's ``%v`` prints them: ``[[1 1] [2 2]]``."""
    return "[" + " ".join(f"[{t} {r}]" for t, r in entries) + "]"


def check_linear(params: LinearParams) -> LinearParams:
    """Upstream's checks after decoding, with ``min`` 0 defaulted to 1; raises
    :class:`ParamsError` with upstream's message."""
    if params.min < 0:
        raise ParamsError(f"invalid negative value for min: {params.min}")
    minimum = params.min or 1
    if params.max != 0 and params.max < minimum:
        raise ParamsError(
            f"max replicas count {params.max} should be greater than / equal to min replicas "
            f"count {minimum}"
        )
    if params.cores_per_replica == 0 and params.nodes_per_replica == 0:
        raise ParamsError(
            "should at least provide either CoresPerReplica or NodesPerReplica (Greater than 0)"
        )
    if params.cores_per_replica < 0:
        raise ParamsError(
            f"invalid negative value for coresPerReplica: {_go_number(params.cores_per_replica)}"
        )
    if params.nodes_per_replica < 0:
        raise ParamsError(
            f"invalid negative value for nodesPerReplica: {_go_number(params.nodes_per_replica)}"
        )
    if minimum == params.min:
        return params
    return LinearParams(
        params.cores_per_replica,
        params.nodes_per_replica,
        minimum,
        params.max,
        params.prevent_single_point_failure,
        params.include_unschedulable_nodes,
    )


def check_ladder(params: LadderParams) -> LadderParams:
    """Upstream's check after decoding: no negative threshold or replica count."""
    for entries, name in (
        (params.cores_to_replicas, "cores_to_replicas_map"),
        (params.nodes_to_replicas, "nodes_to_replicas_map"),
    ):
        for threshold, replicas in entries:
            if threshold < 0 or replicas < 0:
                raise ParamsError(
                    f"invalid negative values in entry [{threshold} {replicas}] in {name}"
                )
    return params


def parse_linear(text: str) -> LinearParams:
    """A ``linear`` ConfigMap value; :class:`ParamsError` as upstream's ``parseParams``."""
    try:
        raw = decode_struct(text, _LINEAR_FIELDS, "linearParams")
    except GoJsonError as exc:
        raise ParamsError(f"could not parse parameters ({exc})") from exc
    params = LinearParams(
        cores_per_replica=float(raw["coresPerReplica"]),
        nodes_per_replica=float(raw["nodesPerReplica"]),
        min=int(raw["min"]),
        max=int(raw["max"]),
        prevent_single_point_failure=bool(raw["preventSinglePointFailure"]),
        include_unschedulable_nodes=bool(raw["includeUnschedulableNodes"]),
    )
    return check_linear(params)


def parse_ladder(text: str) -> LadderParams:
    """A ``ladder`` ConfigMap value, steps in the given order."""
    try:
        raw = decode_struct(text, _LADDER_FIELDS, "ladderParams")
    except GoJsonError as exc:
        raise ParamsError(f"could not parse parameters ({exc})") from exc
    params = LadderParams(
        cores_to_replicas=tuple(raw["coresToReplicas"]),
        nodes_to_replicas=tuple(raw["nodesToReplicas"]),
        include_unschedulable_nodes=bool(raw["includeUnschedulableNodes"]),
    )
    return check_ladder(params)


def _go_map(data: Mapping[str, str]) -> str:
    """A ``map[string]string`` as Go's ``%v`` prints it (keys sorted)."""
    return "map[" + " ".join(f"{k}:{data[k]}" for k in sorted(data)) + "]"


def parse_config_data(data: Mapping[str, str] | None) -> Params:
    """The parameters of a CPA ConfigMap's ``data``: exactly one key, ``linear`` or
    ``ladder``. Errors are upstream's ``EnsureController`` / ``SyncConfig`` messages."""
    data = data or {}
    if len(data) != 1:
        raise ParamsError(
            f"invalid configMap format, expected only one entry, got: {_go_map(data)}"
        )
    ((mode, value),) = data.items()
    if mode == LINEAR:
        try:
            return parse_linear(value)
        except ParamsError as exc:
            raise ParamsError(f"error parsing linear params: {exc}") from exc
    if mode == LADDER:
        try:
            return parse_ladder(value)
        except ParamsError as exc:
            raise ParamsError(f"error parsing ladder params: {exc}") from exc
    raise ParamsError(f"not a supported control mode: {mode}")


def config_map_problems(config_map: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with a CPA ConfigMap (an object, as ``podscaler validate`` reads it):
    the API server's rule that every ``data`` value is a string, then CPA's own parse."""
    data = config_map.get("data")
    if not isinstance(data, Mapping):
        return [Problem("data", "must be a mapping of strings")]
    for key, value in data.items():
        if not isinstance(value, str):
            return [
                Problem(
                    f"data.{key}",
                    "must be a string: a ConfigMap's values are strings, so write the JSON "
                    "object as one (e.g. after '|-' on the line before)",
                )
            ]
    try:
        parse_config_data(data)
    except ParamsError as exc:
        ((key, _),) = data.items() if len(data) == 1 else ((None, None),)
        return [Problem(f"data.{key}" if key is not None else "data", str(exc))]
    return []
