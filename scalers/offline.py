"""Checking triggers offline: what the operator's scaler building would say, without a cluster.

``podscaler validate`` runs every trigger through :meth:`ScalerRegistry.check
<scalers.registry.ScalerRegistry.check>`, the same parse-and-check the operator runs before it
builds a scaler, so the two agree on each manifest: an unknown type is an error naming the known
ones, a metadata error is the parser's own message, a metadata key the parser never reads is a
warning (KEDA ignores such keys, so a typo goes unnoticed).

What is only known at run time cannot be checked here: parameters resolved from the scale
target's container env (``xxxFromEnv``) or from a TriggerAuthentication. When the parser misses
such a parameter, a stand-in value is supplied so the rest of the metadata is still checked,
and the finding says the parameter "cannot be checked offline" instead of guessing whether the
real value is right. Stand-ins are tried in turn (a number, a boolean, a word) because the
parser's type for the parameter is not known from outside; if none fits, the rest of that
trigger is left unchecked and the finding says so.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from podscaler.api.manifests import TriggerChecker
from podscaler.api.validation import Problem
from scalers.contract import ScalerConfig, ScalerConfigError, ScaleTrigger
from scalers.registry import ScalerRegistry, default_registry

__all__ = [
    "OfflineFinding",
    "check_trigger_offline",
    "check_triggers_offline",
    "trigger_checker",
    "unread_key_message",
]

#: Values standing in for a parameter only known at run time, tried in this order.
_STAND_INS: Final = ("1", "true", "stand-in")
_FROM_ENV: Final = "FromEnv"
_ENV_SOURCE: Final = "resolvedEnv"
_AUTH_SOURCE: Final = "authParams"
#: The parameter a parser names when the TriggerAuthentication's pod identity is the problem:
#: known (passed in) or not, no stand-in value could change it.
_POD_IDENTITY: Final = "podIdentity"
#: Fields of the trigger itself (not metadata) a parser may name as the culprit.
_TRIGGER_FIELDS: Final = {"type": "type", "metricType": "metricType", "name": "name"}
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Metadata keys every trigger type once read and KEDA dropped; manifests keep them for years
#: (a third of the ScaledObjects found in public repositories carry ``metricName``), so the
#: warning says what happened instead of asking whether they are misspelt.
_RETIRED_KEYS: Final = {
    "metricName": (
        "'metricName' is no longer read (KEDA removed it in 2.12; metric names are generated "
        "as s<index>-<type>-…) and is ignored; it can be deleted"
    ),
}

Severity = Literal["error", "warning", "info"]  # as podscaler.api.manifests.Severity


@dataclass(frozen=True)
class OfflineFinding:
    """One thing to say about one trigger; ``path`` is relative to the object (``spec.…``)."""

    severity: Severity
    path: str
    message: str


#: Fields of a ScaledObject's (or ScaledJob's) spec, sometimes written into a trigger's
#: metadata by mistake; KEDA ignores them there, so the object keeps its default bounds.
_SPEC_FIELDS: Final = frozenset(
    {
        "minReplicaCount",
        "maxReplicaCount",
        "idleReplicaCount",
        "pollingInterval",
        "cooldownPeriod",
        "initialCooldownPeriod",
        "fallback",
        "metricType",
        "useCachedMetrics",
    }
)


def unread_key_message(trigger_type: str, key: str, read: Sequence[str] = ()) -> str:
    """Why a metadata key the parser never read is ignored: retired, misplaced, or unknown
    (then with the parameter it is closest to, when one is close: ``offsetRestPolicy``)."""
    retired = {name.casefold(): message for name, message in _RETIRED_KEYS.items()}
    if key.casefold() in retired:
        return retired[key.casefold()]
    if key in _SPEC_FIELDS:
        where = "the trigger itself" if key in ("metricType", "useCachedMetrics") else "spec"
        return (
            f"{key!r} is a field of {where}, not a parameter of {trigger_type} triggers: in "
            "metadata it is ignored (move it)"
        )
    message = f"{key!r} is not a parameter of {trigger_type} triggers and is ignored"
    suggestion = _closest(key, read)
    return (
        f"{message}; did you mean {suggestion!r}?" if suggestion else f"{message} (a misspelling?)"
    )


def _closest(key: str, names: Sequence[str]) -> str | None:
    """The parameter *key* most likely misspells: the same but for case (``queueUrl``), or
    one a few edits away (``offsetRestPolicy``, ``treshold``)."""
    folded = {name.casefold(): name for name in names if not name.endswith(_FROM_ENV)}
    if key.casefold() in folded:
        return folded[key.casefold()]
    close = difflib.get_close_matches(key.casefold(), list(folded), n=1, cutoff=0.8)
    return folded[close[0]] if close else None


def _key_path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{prefix}['{key}']"


def _runtime_source(
    trigger: ScaleTrigger, error: ScalerConfigError
) -> tuple[Literal["env", "auth"], str] | None:
    """Where the parameter ``error`` is about would come from at run time, when the metadata
    does not give it and the parser looks there (``missing_from``; a parser that does not say
    is taken to look everywhere)."""
    parameter = error.parameter
    metadata = trigger.metadata
    if (
        parameter is None
        or parameter in _TRIGGER_FIELDS
        or parameter == _POD_IDENTITY
        or metadata.get(parameter, "").strip()
    ):
        return None  # the trigger's own fields (an unknown ``type``) never come from elsewhere
    looked = set(error.missing_from) or {_ENV_SOURCE, _AUTH_SOURCE}
    env_name = metadata.get(parameter + _FROM_ENV, "").strip()
    if env_name and _ENV_SOURCE in looked:
        return "env", f"the scale target's env var {env_name!r}"
    ref = trigger.authentication_ref
    if ref is not None and _AUTH_SOURCE in looked:
        return "auth", f"{ref.effective_kind} {ref.name!r}"
    return None


def check_trigger_offline(
    registry: ScalerRegistry,
    trigger: ScaleTrigger,
    *,
    trigger_index: int,
    path: str,
    pod_identity_provider: str = "",
) -> list[OfflineFinding]:
    """Findings for one trigger at ``path`` (``spec.triggers[0]``), as the operator would
    judge it, plus notes on what only the cluster can tell."""
    metadata_path = f"{path}.metadata"
    findings: list[OfflineFinding] = []
    env: dict[str, str] = {}
    auth: dict[str, str] = {}
    tried: dict[str, int] = {}
    deferred: dict[str, str] = {}
    env_sourced: set[str] = set()
    parsed: ScalerConfig | None = None
    for _ in range(len(_STAND_INS) * (len(trigger.metadata) + 16)):
        try:
            config = registry.check(
                trigger,
                env,
                auth,
                trigger_index=trigger_index,
                pod_identity_provider=pod_identity_provider,
            )
        except ScalerConfigError as exc:
            parameter = exc.parameter
            runtime = _runtime_source(trigger, exc)
            if parameter is None or runtime is None:
                findings.append(OfflineFinding("error", _error_path(trigger, path, exc), str(exc)))
                break
            where, source = runtime
            attempt = tried.get(parameter, 0)
            if attempt >= len(_STAND_INS):
                findings.append(
                    OfflineFinding(
                        "info",
                        _parameter_path(trigger, metadata_path, parameter),
                        f"{parameter!r} comes from {source} at run time and cannot be checked "
                        f"offline; the trigger's other parameters were not checked past it "
                        f"(with a stand-in value the parser said: {exc})",
                    )
                )
                deferred.pop(parameter, None)
                break
            tried[parameter] = attempt + 1
            deferred[parameter] = source
            if where == "env":
                env[trigger.metadata[parameter + _FROM_ENV].strip()] = _STAND_INS[attempt]
                env_sourced.add(parameter)
            else:
                auth[parameter] = _STAND_INS[attempt]
            continue
        parsed = config
        for key in config.unexpected_parameters:
            findings.append(
                OfflineFinding(
                    "warning",
                    _key_path(metadata_path, key),
                    unread_key_message(trigger.type, key, config.read_parameters),
                )
            )
        break
    for parameter, source in deferred.items():
        findings.append(
            OfflineFinding(
                "info",
                _parameter_path(trigger, metadata_path, parameter),
                f"{parameter!r} comes from {source} at run time and cannot be checked offline",
            )
        )
    ignored = set(parsed.unexpected_parameters) if parsed is not None else set()
    for key, value in trigger.metadata.items() if parsed is not None else ():
        base = key.removesuffix(_FROM_ENV)
        noted = base in deferred or key in ignored
        if key.endswith(_FROM_ENV) and not noted and value.strip():
            findings.append(
                OfflineFinding(
                    "info",
                    _key_path(metadata_path, key),
                    f"{base!r} comes from the scale target's env var {value.strip()!r} at run "
                    "time and cannot be checked offline",
                )
            )
    ref = trigger.authentication_ref
    if ref is not None and not (set(deferred) - set(env_sourced)):
        findings.append(
            OfflineFinding(
                "info",
                f"{path}.authenticationRef",
                f"the parameters of {ref.effective_kind} {ref.name!r} are resolved at run "
                "time and cannot be checked offline",
            )
        )
    return findings


def _parameter_path(trigger: ScaleTrigger, metadata_path: str, parameter: str) -> str:
    if parameter + _FROM_ENV in trigger.metadata:
        return _key_path(metadata_path, parameter + _FROM_ENV)
    if trigger.authentication_ref is not None and parameter not in trigger.metadata:
        return metadata_path.rsplit(".", 1)[0] + ".authenticationRef"
    return _key_path(metadata_path, parameter)


def _error_path(trigger: ScaleTrigger, path: str, error: ScalerConfigError) -> str:
    parameter = error.parameter
    if parameter is None:
        return path
    if parameter in _TRIGGER_FIELDS and parameter not in trigger.metadata:
        return f"{path}.{_TRIGGER_FIELDS[parameter]}"
    if parameter == _POD_IDENTITY and trigger.authentication_ref is not None:
        return f"{path}.authenticationRef"
    if parameter in trigger.metadata or parameter + _FROM_ENV in trigger.metadata:
        return _parameter_path(trigger, f"{path}.metadata", parameter)
    return f"{path}.metadata"


def check_triggers_offline(
    registry: ScalerRegistry,
    triggers: Sequence[tuple[int, ScaleTrigger]],
    *,
    prefix: str = "spec.triggers",
    pod_identities: Mapping[int, str] | None = None,
) -> list[OfflineFinding]:
    """Findings for each ``(index, trigger)`` of an object's ``spec.triggers``;
    ``pod_identities`` gives the pod identity provider of the TriggerAuthentication a trigger
    names, where it is known (the operator passes the same to the parser)."""
    findings: list[OfflineFinding] = []
    for index, trigger in triggers:
        findings.extend(
            check_trigger_offline(
                registry,
                trigger,
                trigger_index=index,
                path=f"{prefix}[{index}]",
                pod_identity_provider=(pod_identities or {}).get(index, ""),
            )
        )
    return findings


def trigger_checker(registry: ScalerRegistry | None = None) -> TriggerChecker:
    """:func:`check_triggers_offline` as :func:`podscaler.api.manifests.validate_documents`
    takes it (``podscaler validate``); the process's registry unless one is given."""
    chosen = registry or default_registry()

    def check(
        triggers: Sequence[tuple[int, ScaleTrigger]],
        /,
        *,
        pod_identities: Mapping[int, str] | None = None,
    ) -> list[tuple[Severity, Problem]]:
        return [
            (finding.severity, Problem(finding.path, finding.message))
            for finding in check_triggers_offline(chosen, triggers, pod_identities=pod_identities)
        ]

    return check
