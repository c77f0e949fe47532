"""The pause annotations, read the way KEDA reads them.

KEDA's annotations live under ``autoscaling.keda.sh/``; podscaler accepts the same names under
its own group ``autoscaling.podscaler.io/`` so a ported manifest keeps working and a native one
can use podscaler's prefix. When both prefixes carry the same annotation, podscaler's wins.
The names, and that rule, are ``api``'s (:class:`podscaler.api.meta.Annotation`); what the
values mean is KEDA's, here.

Semantics (``scaledobject_types.go`` at the reference commit):

- ``paused-replicas: "N"`` — its mere presence pauses (even beside ``paused: "false"``) and
  pins the target at N. A value that is not a base-10 int32 is an error (the object is then not
  Ready), not a silent "unpaused".
- ``paused: "<bool>"`` — Go's ``strconv.ParseBool``; a value that is not a boolean counts as
  **true** (the user obviously meant to pause), ``"false"`` unpauses.
- ``paused-scale-in`` / ``paused-scale-out`` / ``force-activation`` — the same boolean reading;
  the scale loop keeps running, only the named direction is blocked (or activity forced).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podscaler.api.gostrconv import parse_bool, parse_int
from podscaler.api.meta import (
    FORCE_ACTIVATION,
    PAUSED,
    PAUSED_REPLICAS,
    PAUSED_SCALE_IN,
    PAUSED_SCALE_OUT,
    Annotation,
)

__all__ = [
    "PauseAnnotations",
    "PausedReplicasError",
    "has_paused_annotation",
    "need_to_be_paused",
    "paused_replica_count",
    "read_pause_annotations",
]


class PausedReplicasError(ValueError):
    """``paused-replicas`` holds something that is not an int32."""


def _flag(annotations: Mapping[str, str] | None, which: Annotation) -> bool:
    """KEDA's ``getBoolAnnotation``: absent ⇒ false, non-boolean ⇒ true."""
    value = which.lookup(annotations)
    if value is None:
        return False
    parsed = parse_bool(value)
    return True if parsed is None else parsed


def has_paused_annotation(annotations: Mapping[str, str] | None) -> bool:
    """Whether either pausing annotation is present at all, whatever its value."""
    return PAUSED.lookup(annotations) is not None or (
        PAUSED_REPLICAS.lookup(annotations) is not None
    )


def need_to_be_paused(
    annotations: Mapping[str, str] | None, *, paused_replicas_applied: bool = True
) -> bool:
    """Whether the scale loop must stop: ``paused-replicas`` present, or ``paused`` not false.

    With ``paused-replicas`` present KEDA answers ``status.pausedReplicaCount != nil``: the
    loop keeps running until it has pinned the count, and only then stops (the annotation
    wins over ``paused`` either way). ``paused_replicas_applied`` says whether that has
    happened; podscaler's own loop pins the count in the pass that pauses, hence the default.
    """
    if PAUSED_REPLICAS.lookup(annotations) is not None:
        return paused_replicas_applied
    return _flag(annotations, PAUSED)


def paused_replica_count(annotations: Mapping[str, str] | None) -> int | None:
    """The pinned replica count, ``None`` without the annotation.

    Parsed like Go's ``strconv.ParseInt(v, 10, 32)``: an optional sign and ASCII digits, no
    spaces, within int32.
    """
    value = PAUSED_REPLICAS.lookup(annotations)
    if value is None:
        return None
    if parse_int(value, bits=None) is None:
        raise PausedReplicasError(f"invalid paused-replicas annotation {value!r}")
    number = parse_int(value, bits=32)
    if number is None:
        raise PausedReplicasError(f"paused-replicas annotation {value!r} out of range")
    return number


@dataclass(frozen=True)
class PauseAnnotations:
    """Everything the pause annotations say, read once per poll.

    ``paused_replicas_error`` is set (and ``paused`` true) when ``paused-replicas`` is present
    but unreadable: the object stays paused and is reported not Ready rather than resuming.
    """

    paused: bool = False
    paused_replicas: int | None = None
    paused_replicas_error: str | None = None
    scale_in_paused: bool = False
    scale_out_paused: bool = False
    force_activation: bool = False


def read_pause_annotations(annotations: Mapping[str, str] | None) -> PauseAnnotations:
    """Read all pause-related annotations (either prefix) into one record."""
    replicas: int | None = None
    error: str | None = None
    try:
        replicas = paused_replica_count(annotations)
    except PausedReplicasError as exc:
        error = str(exc)
    return PauseAnnotations(
        paused=need_to_be_paused(annotations),
        paused_replicas=replicas,
        paused_replicas_error=error,
        scale_in_paused=_flag(annotations, PAUSED_SCALE_IN),
        scale_out_paused=_flag(annotations, PAUSED_SCALE_OUT),
        force_activation=_flag(annotations, FORCE_ACTIVATION),
    )
