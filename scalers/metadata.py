"""KEDA's generic trigger-metadata rules, so manifests written for KEDA parse the same here.

KEDA's typed config (``pkg/scalers/scalersconfig/typed_config.go``) reads each parameter from
an ordered list of sources — ``triggerMetadata``, ``authParams``, ``resolvedEnv`` (the last via
``<name>FromEnv: VAR`` naming an env var of the scale target's container) — and:

- trims every value; an empty value counts as missing, so the next source is tried;
- applies the default when missing, and fails with ``missing required parameter`` otherwise;
- fails on a *removed* (``deprecated=``) parameter that is present;
- parses bools like Go's ``strconv.ParseBool``, numbers like Go's JSON decoder, durations as
  Go durations (``30s``) or integer milliseconds (never negative), lists and ``k=v`` maps
  split on commas, and checks enums element by element;
- ignores metadata keys it does not know (they are only *reported*), so a typo is not fatal.

:class:`MetadataReader` implements those rules once; trigger modules declare what they read
and get typed values back. Every failure is a :class:`~scalers.contract.ScalerConfigError`
naming the parameter, never echoing a value read from ``authParams`` (those are secrets).

Metric names follow KEDA too: ``s{triggerIndex}-{name}`` with ``/ . : % ( )`` replaced by
``-`` (``GenerateMetricNameWithIndex`` and ``NormalizeString``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from podscaler.api.durations import parse_go_duration as _parse_go_duration
from podscaler.api.gostrconv import parse_bool, parse_int
from podscaler.api.metrictarget import MetricTargetType
from scalers.contract import MetricTarget, ScalerConfigError, TriggerInput

__all__ = [
    "AUTH_PARAMS",
    "RESOLVED_ENV",
    "TRIGGER_METADATA",
    "MetadataReader",
    "Source",
    "external_metric_target",
    "external_metric_target_milli",
    "external_target_type",
    "metric_name",
    "normalize_metric_name",
    "parse_go_duration_seconds",
]


class Source(StrEnum):
    """Where a parameter may come from, in KEDA's spelling (``order=`` tag)."""

    TRIGGER_METADATA = "triggerMetadata"
    AUTH_PARAMS = "authParams"
    RESOLVED_ENV = "resolvedEnv"


TRIGGER_METADATA = (Source.TRIGGER_METADATA,)
AUTH_PARAMS = (Source.AUTH_PARAMS,)
RESOLVED_ENV = (Source.RESOLVED_ENV,)

_FROM_ENV = "FromEnv"

# Go's encoding/json number grammar: what KEDA accepts for int and float parameters.
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class MetadataReader:
    """Reads one trigger's parameters under KEDA's rules and remembers which it read.

    ``metadata`` is the trigger's ``metadata`` map, ``resolved_env`` the env of the scale
    target's container, ``auth_params`` the TriggerAuthentication's resolved parameters.
    Each typed method takes the parameter name (or names, first found wins: KEDA's
    ``name=a;b``), the sources to try in order, and a default; ``required=False`` with no
    default returns ``None`` when absent.
    """

    def __init__(
        self,
        metadata: Mapping[str, str],
        resolved_env: Mapping[str, str] | None = None,
        auth_params: Mapping[str, str] | None = None,
        *,
        trigger_type: str = "",
    ) -> None:
        self._sources: dict[Source, Mapping[str, str]] = {
            Source.TRIGGER_METADATA: metadata,
            Source.AUTH_PARAMS: auth_params or {},
            Source.RESOLVED_ENV: resolved_env or {},
        }
        self._trigger_type = trigger_type
        self._known: set[str] = set()
        self._from_env: set[str] = set()

    @classmethod
    def for_input(cls, given: TriggerInput, trigger_type: str) -> MetadataReader:
        """A reader of *given*'s metadata, env and auth params."""
        return cls(
            given.trigger.metadata,
            given.resolved_env,
            given.auth_params,
            trigger_type=trigger_type,
        )

    # ---------------------------------------------------------------------------- lookup

    def lookup(
        self, names: str | Sequence[str], order: Sequence[Source] = TRIGGER_METADATA
    ) -> tuple[str, Source] | None:
        """The trimmed, non-empty value of the first of ``names`` found in ``order``.

        Sources are tried in order and, within one, names in order, as KEDA does.
        """
        names = _names(names)
        self._known.update(names)
        if Source.RESOLVED_ENV in order:
            self._from_env.update(names)
        metadata = self._sources[Source.TRIGGER_METADATA]
        for source in order:
            mapping = self._sources[source]
            for name in names:
                key = name
                if source is Source.RESOLVED_ENV:
                    env_name = metadata.get(name + _FROM_ENV)
                    if env_name is None:
                        continue
                    key = env_name
                raw = mapping.get(key)
                if raw is None:
                    continue
                value = str(raw).strip()
                if value:
                    return value, source
        return None

    def _get(
        self,
        names: str | Sequence[str],
        order: Sequence[Source],
        default: str | None,
        required: bool,
    ) -> tuple[str, Source] | None:
        found = self.lookup(names, order)
        if found is not None:
            return found
        if default is not None:
            return default, Source.TRIGGER_METADATA
        if required:
            shown = ",".join(_names(names))
            where = " ".join(str(s) for s in order)
            raise ScalerConfigError(
                f"missing required parameter {shown!r} in [{where}]",
                parameter=_names(names)[0],
                missing_from=tuple(str(s) for s in order),
            )
        return None

    # ---------------------------------------------------------------------------- typed reads

    def string(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: str | None = None,
        required: bool = True,
    ) -> str | None:
        """A string parameter (trimmed)."""
        found = self._get(names, order, default, required)
        return None if found is None else found[0]

    def required_string(
        self, names: str | Sequence[str], order: Sequence[Source] = TRIGGER_METADATA
    ) -> str:
        """A string parameter that must be present."""
        found = self._get(names, order, None, True)
        assert found is not None
        return found[0]

    def integer(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: int | None = None,
        required: bool = True,
    ) -> int | None:
        """An integer parameter, written as a JSON integer literal (``10``, ``-3``)."""
        found = self._get(names, order, None if default is None else str(default), required)
        if found is None:
            return None
        value, source = found
        if not _JSON_INT.fullmatch(value) or not _INT64_MIN <= int(value) <= _INT64_MAX:
            raise self._invalid(names, value, source, "an integer")
        return int(value)

    def number(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: float | None = None,
        required: bool = True,
    ) -> float | None:
        """A float parameter, written as a JSON number (``100``, ``0.5``, ``1e3``)."""
        found = self._get(names, order, None if default is None else repr(default), required)
        if found is None:
            return None
        value, source = found
        if not _JSON_NUMBER.fullmatch(value):
            raise self._invalid(names, value, source, "a number")
        parsed = float(value)
        if math.isinf(parsed):
            raise self._invalid(names, value, source, "a number within float64 range")
        return parsed

    def boolean(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: bool | None = None,
        required: bool = True,
    ) -> bool | None:
        """A bool parameter, as Go's ``strconv.ParseBool`` reads it (``true``, ``1``, ``f`` …)."""
        found = self._get(names, order, None if default is None else str(default), required)
        if found is None:
            return None
        value, source = found
        parsed = parse_bool(value)
        if parsed is None:
            raise self._invalid(names, value, source, "a boolean (true or false)")
        return parsed

    def duration_seconds(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: float | None = None,
        required: bool = True,
    ) -> float | None:
        """A duration in seconds: a Go duration (``30s``, ``1m30s``) or integer milliseconds."""
        found = self._get(names, order, None if default is None else f"{default}s", required)
        if found is None:
            return None
        value, source = found
        seconds = parse_go_duration_seconds(value)
        if seconds is None:
            raise self._invalid(
                names, value, source, "a duration such as '30s' or a number of milliseconds"
            )
        if seconds < 0:
            raise self._invalid(names, value, source, "a duration that is not negative")
        return seconds

    def enum(
        self,
        names: str | Sequence[str],
        allowed: Iterable[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        default: str | None = None,
        required: bool = True,
    ) -> str | None:
        """A string parameter that must be one of ``allowed``."""
        allowed = tuple(allowed)
        value = self.string(names, order, default=default, required=required)
        if value is not None and value not in allowed:
            raise ScalerConfigError(
                f"parameter {_names(names)[0]!r} value {value!r} must be one of "
                f"{', '.join(allowed)}",
                parameter=_names(names)[0],
            )
        return value

    def string_list(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        allowed: Iterable[str] | None = None,
        exclusive: Iterable[str] = (),
        required: bool = False,
    ) -> list[str] | None:
        """A comma-separated list (elements trimmed); with ``allowed``, every element must be
        one of them; at most one element may come from ``exclusive`` (KEDA's
        ``exclusiveSet``)."""
        found = self._get(names, order, None, required)
        if found is None:
            return None
        value, source = found
        items = [item.strip() for item in value.split(",")]
        name = _names(names)[0]
        if allowed is not None:
            allowed = tuple(allowed)
            bad = [item for item in items if item not in allowed]
            if bad:
                shown = value if source is Source.TRIGGER_METADATA else "…"
                raise ScalerConfigError(
                    f"parameter {name!r} value {shown!r} must be a list of {', '.join(allowed)}",
                    parameter=name,
                )
        exclusive = set(exclusive)
        if sum(1 for item in items if item in exclusive) > 1:
            raise ScalerConfigError(
                f"parameter {name!r} may contain only one of {', '.join(sorted(exclusive))}",
                parameter=name,
            )
        return items

    def mapping(
        self,
        names: str | Sequence[str],
        order: Sequence[Source] = TRIGGER_METADATA,
        *,
        required: bool = False,
    ) -> dict[str, str] | None:
        """A ``k1=v1,k2=v2`` parameter; each item must be exactly one ``key=value``."""
        found = self._get(names, order, None, required)
        if found is None:
            return None
        value, source = found
        out: dict[str, str] = {}
        for item in value.split(","):
            parts = item.strip().split("=")
            if len(parts) != 2:
                shown = repr(item.strip()) if source is Source.TRIGGER_METADATA else "an item"
                raise ScalerConfigError(
                    f"parameter {_names(names)[0]!r}: expected format key=value, got {shown}",
                    parameter=_names(names)[0],
                )
            out[parts[0].strip()] = parts[1].strip()
        return out

    def removed(self, name: str, message: str, order: Sequence[Source] = TRIGGER_METADATA) -> None:
        """Fail if a parameter KEDA has removed (``deprecated=`` tag) is present."""
        if self.lookup(name, order) is not None:
            raise ScalerConfigError(
                f"parameter {name!r} has been removed: {message}", parameter=name
            )

    def mark_known(self, *names: str) -> None:
        """Declare parameters the trigger reads in some other way (not unexpected)."""
        self._known.update(names)

    def known(self) -> tuple[str, ...]:
        """Every parameter name a read asked for (or :meth:`mark_known` declared), sorted:
        the vocabulary a misspelt key is compared with."""
        return tuple(sorted(self._known))

    def unexpected(self) -> tuple[str, ...]:
        """Metadata keys no read asked for, sorted. ``xFromEnv`` is expected only where ``x``
        was read with the container env among its sources (prometheus' ``serverAddress`` is
        not, as in KEDA, so ``serverAddressFromEnv`` is ignored and reported here)."""
        out = []
        for key in self._sources[Source.TRIGGER_METADATA]:
            if key in self._known:
                continue
            if key.endswith(_FROM_ENV) and key.removesuffix(_FROM_ENV) in self._from_env:
                continue
            out.append(key)
        return tuple(sorted(out))

    # ---------------------------------------------------------------------------- errors

    def _invalid(
        self, names: str | Sequence[str], value: str, source: Source, expected: str
    ) -> ScalerConfigError:
        name = _names(names)[0]
        # Values from authParams or the container env may be secrets: name, never show them.
        shown = f" {value!r}" if source is Source.TRIGGER_METADATA else ""
        return ScalerConfigError(
            f"parameter {name!r} value{shown} is invalid: expected {expected}", parameter=name
        )


def _names(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


# -------------------------------------------------------------------------------- Go parsing


def parse_go_duration_seconds(value: str) -> float | None:
    """KEDA's duration parameter: Go ``time.ParseDuration``, else integer milliseconds.

    Returns seconds (possibly negative: the caller decides), or ``None`` if neither form fits.
    """
    parsed = _parse_go_duration(value)
    if parsed is not None:
        return parsed
    milliseconds = parse_int(value)
    if milliseconds is not None:
        return milliseconds / 1000.0
    return None


# -------------------------------------------------------------------------------- metric names


_NORMALIZE = str.maketrans(dict.fromkeys("/.:%()", "-"))


def normalize_metric_name(name: str) -> str:
    """KEDA's ``NormalizeString``: ``/ . : % ( )`` become ``-``."""
    return name.translate(_NORMALIZE)


def metric_name(trigger_index: int, name: str) -> str:
    """KEDA's ``GenerateMetricNameWithIndex``: ``s{index}-{name}``."""
    return f"s{trigger_index}-{name}"


def external_target_type(metric_type: MetricTargetType | None) -> MetricTargetType:
    """KEDA's ``GetMetricTargetType`` for External metrics: unset means ``AverageValue``;
    ``Utilization`` only makes sense for resource metrics and is refused. (A name that is no
    metric type at all never gets here: the trigger model refuses it.)"""
    if metric_type is None:
        return MetricTargetType.AVERAGE_VALUE
    if metric_type is MetricTargetType.UTILIZATION:
        raise ScalerConfigError(
            "'Utilization' metric type is unsupported for external metrics, "
            "allowed values are 'Value' or 'AverageValue'",
            parameter="metricType",
        )
    return metric_type


def external_metric_target(target_type: MetricTargetType, value: int) -> MetricTarget:
    """KEDA's ``GetMetricTarget``: an integer target (cron, kafka, sqs)."""
    if target_type is MetricTargetType.AVERAGE_VALUE:
        return MetricTarget(type=target_type, average_value=float(value))
    return MetricTarget(type=target_type, value=float(value))


def external_metric_target_milli(target_type: MetricTargetType, value: float) -> MetricTarget:
    """KEDA's ``GetMetricTargetMili``: a float target kept to thousandths, truncated toward
    zero as ``int64(value*1000)`` does (prometheus)."""
    milli = math.trunc(value * 1000)
    exact = milli / 1000
    if target_type is MetricTargetType.AVERAGE_VALUE:
        return MetricTarget(type=target_type, average_value=exact)
    return MetricTarget(type=target_type, value=exact)
