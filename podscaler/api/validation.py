"""Validation of the custom resources, as KEDA's types and admission webhook do it.

Every rule is a small function returning :class:`Problem` s — ``(path, message)`` where *path*
names the field (``spec.advanced.scalingModifiers.target``) and *message* says what is wrong,
keeping KEDA's wording where users may search for it. The ``validate_*`` functions parse an
object with the models, run every rule, and raise :class:`ObjectValidationError` with all the
problems found (pydantic's own errors converted to the same shape), so one run shows everything
to fix rather than the first thing.

Rules that need the cluster (the target's pod template for cpu/memory requests) take what they
need as arguments; the caller fetches it. Rules about other objects (another ScaledObject or
HPA on the same target) live with the controllers, which see those objects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeVar

import pydantic

from podscaler.api.formulas import FormulaError, check_formula
from podscaler.api.meta import GROUP_VERSION, KEDA_GROUP_VERSION, SCALED_OBJECT_NAME_LABEL, ApiModel
from podscaler.api.quantities import QuantityError, parse_quantity
from podscaler.api.scaledjob import ScaledJob
from podscaler.api.scaledobject import ScaledObject, ScaledObjectSpec, ScalingSpec
from podscaler.api.triggerauth import (
    ClusterTriggerAuthentication,
    TriggerAuthentication,
    TriggerAuthenticationSpec,
)
from podscaler.api.triggers import CPU, MEMORY, ScaleTrigger

__all__ = [
    "MAX_LABEL_VALUE_LENGTH",
    "ObjectValidationError",
    "Problem",
    "check_cpu_memory_requests",
    "check_fallback",
    "check_metric_types",
    "check_names",
    "check_replica_bounds",
    "check_scale_to_zero",
    "check_scaling_modifiers",
    "check_triggers",
    "name_warnings",
    "pydantic_problems",
    "scaled_job_problems",
    "scaled_object_problems",
    "scaled_object_warnings",
    "trigger_authentication_problems",
    "validate_cluster_trigger_authentication",
    "validate_scaled_job",
    "validate_scaled_object",
    "validate_trigger_authentication",
]

#: Kubernetes' limit on label values; the object's name is one (and the HPA's name a DNS label).
MAX_LABEL_VALUE_LENGTH: Final = 63

#: Trigger types whose values are not worth caching: resource metrics and a pure clock.
_NO_CACHED_METRICS_TYPES: Final = frozenset({CPU, MEMORY, "cron"})

ACCEPTED_API_VERSIONS: Final = (GROUP_VERSION, KEDA_GROUP_VERSION)


class Problem(NamedTuple):
    """One thing wrong (or worth a warning) with an object: where, and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ObjectValidationError(ValueError):
    """An object is invalid; :attr:`problems` lists every ``(path, message)`` found."""

    def __init__(self, kind: str, name: str | None, problems: Sequence[Problem]):
        self.kind = kind
        self.name = name
        self.problems = list(problems)
        subject = f"{kind} {name!r}" if name else kind
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{subject} is invalid:\n{lines}")


# --------------------------------------------------------------------------- pydantic errors

_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _join_path(prefix: str, loc: Iterable[int | str]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}" if path else part
        else:
            path += f"[{part!r}]"
    return path


def _describe(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()  # as the YAML said it
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pydantic_message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (not in the schema; check its spelling and indentation)"
    if kind == "string_type":
        return f"must be a string, got {_describe(value)} (quote it in YAML)"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be an integer, got {_describe(value)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"must be true or false, got {_describe(value)}"
    if kind in {"list_type", "dict_type", "model_type", "model_attributes_type"}:
        expected = "a list" if kind == "list_type" else "a mapping"
        return f"must be {expected}, got {_describe(value)}"
    if kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}, got {_describe(value)}"
        if isinstance(value, bool):
            # YAML 1.1 (PyYAML here, and kubectl's YAML reader) reads an unquoted Off, On,
            # Yes or No as a boolean: ``updateMode: Off`` arrives as false, and the API
            # server refuses it too ("must be of type string").
            message += " (YAML reads an unquoted Off, On, Yes or No as a boolean: quote it)"
        return message
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        bound = {
            "greater_than_equal": (">=", "ge"),
            "greater_than": (">", "gt"),
            "less_than_equal": ("<=", "le"),
            "less_than": ("<", "lt"),
        }[kind]
        return f"must be {bound[0]} {ctx.get(bound[1])}, got {_describe(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(error.get("msg", "invalid value"))


def pydantic_problems(error: pydantic.ValidationError, prefix: str = "") -> list[Problem]:
    """pydantic's errors as :class:`Problem` s, with camelCase field paths under *prefix*."""
    return [
        Problem(_join_path(prefix, item["loc"]), _pydantic_message(item))
        for item in error.errors(include_url=False)
    ]


# --------------------------------------------------------------------------- ScaledObject rules


def check_replica_bounds(spec: ScaledObjectSpec) -> list[Problem]:
    """min ≤ max and idle < min, as ``CheckReplicaCountBoundsAreValid``.

    An *unset* minReplicaCount counts as 0 here, but an explicit one counts as the HPA's
    minimum (at least 1): so ``minReplicaCount: 0`` with ``idleReplicaCount: 0`` is valid while
    ``idleReplicaCount: 0`` alone is not. Equal min and max are allowed.
    """
    problems: list[Problem] = []
    resolved = ScalingSpec.resolve(
        min_replica_count=spec.min_replica_count, max_replica_count=spec.max_replica_count
    )
    minimum = 0 if spec.min_replica_count is None else resolved.hpa_min_replicas
    maximum = resolved.hpa_max_replicas
    if minimum > maximum:
        problems.append(
            Problem(
                "spec.minReplicaCount",
                f"MinReplicaCount={minimum} must be less than MaxReplicaCount={maximum}",
            )
        )
    idle = spec.idle_replica_count
    if idle is not None and idle >= minimum:
        problems.append(
            Problem(
                "spec.idleReplicaCount",
                f"IdleReplicaCount={idle} must be less than MinReplicaCount={minimum}",
            )
        )
    return problems


def check_triggers(triggers: Sequence[ScaleTrigger], path: str = "spec.triggers") -> list[Problem]:
    """At least one trigger, unique names, useCachedMetrics only where it means something."""
    if not triggers:
        return [Problem(path, "no triggers defined in the ScaledObject/ScaledJob")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, trigger in enumerate(triggers):
        if trigger.use_cached_metrics and trigger.type in _NO_CACHED_METRICS_TYPES:
            problems.append(
                Problem(
                    f"{path}[{index}].useCachedMetrics",
                    f'property "useCachedMetrics" is not supported for "{trigger.type}" scaler',
                )
            )
        if trigger.name:
            if trigger.name in seen:
                problems.append(
                    Problem(
                        f"{path}[{index}].name",
                        f'triggerName "{trigger.name}" is defined multiple times in the '
                        "ScaledObject/ScaledJob, but it must be unique",
                    )
                )
            seen.add(trigger.name)
    return problems


def check_metric_types(
    triggers: Sequence[ScaleTrigger], path: str = "spec.triggers"
) -> list[Problem]:
    """Utilization is for cpu/memory only; cpu/memory cannot use Value.

    KEDA finds these when it builds the scaler (after admission); podscaler rejects them
    up front because the object could never scale as written.
    """
    problems: list[Problem] = []
    for index, trigger in enumerate(triggers):
        where = f"{path}[{index}].metricType"
        if trigger.is_resource_trigger and trigger.metric_type == "Value":
            problems.append(
                Problem(
                    where, f"{trigger.type} triggers take Utilization or AverageValue, not Value"
                )
            )
        if not trigger.is_resource_trigger and trigger.metric_type == "Utilization":
            problems.append(
                Problem(where, "'Utilization' metric type is unsupported for external metrics")
            )
    return problems


def check_fallback(spec: ScaledObjectSpec) -> list[Problem]:
    """Fallback needs non-negative numbers and a metric it can stand in for.

    A fallback replaces a failing metric with ``target * replicas`` (AverageValue) or
    ``target * replicas / ready`` (Value), which the replica calculation turns back into
    ``replicas``. cpu and memory come from pods, not scalers, so they cannot fail over: at least
    one other trigger must have an AverageValue or Value target. With scalingModifiers the
    composite metric is what falls back, whichever its metric type: current KEDA accepts
    ``metricType: Value`` there too (the fallback value is then divided by the ready replicas,
    as for a Value trigger), so manifests that use it port unchanged.
    """
    fallback = spec.fallback
    if fallback is None:
        return []
    problems: list[Problem] = []
    if fallback.failure_threshold < 0 or fallback.replicas < 0:
        problems.append(
            Problem(
                "spec.fallback",
                f"FailureThreshold={fallback.failure_threshold} & Replicas={fallback.replicas} "
                "must both be greater than or equal to 0",
            )
        )
    modifiers = spec.scaling_modifiers
    if fallback.behavior == "scalingModifiers" and (modifiers is None or not modifiers.formula):
        problems.append(
            Problem(
                "spec.fallback.behavior",
                "scalingModifiers fallback behavior requires "
                "scalingModifiers.formula to be defined",
            )
        )
    if modifiers is None and not any(
        not trigger.is_resource_trigger
        and trigger.effective_metric_type in ("AverageValue", "Value")
        for trigger in spec.triggers
    ):
        problems.append(
            Problem(
                "spec.fallback",
                "at least one trigger that is not cpu or memory must use the AverageValue or "
                "Value metric type for the fallback to be enabled",
            )
        )
    return problems


def _parse_positive_float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def check_scaling_modifiers(spec: ScaledObjectSpec) -> list[Problem]:
    """A formula over named triggers and a target > 0 (``ValidateAndCompileScalingModifiers``)."""
    modifiers = spec.scaling_modifiers
    if modifiers is None:
        return []
    base = "spec.advanced.scalingModifiers"
    problems: list[Problem] = []
    if not modifiers.formula:
        problems.append(
            Problem(
                f"{base}.formula",
                "required when scalingModifiers is set (ScalingModifiers.Formula is mandatory)",
            )
        )
    else:
        if not modifiers.target:
            problems.append(
                Problem(
                    f"{base}.target",
                    "required when formula is set (formula is given but target is empty)",
                )
            )
        variables = [t.name for t in spec.triggers if t.name and not t.is_resource_trigger]
        try:
            check_formula(modifiers.formula, variables)
        except FormulaError as error:
            problems.append(
                Problem(f"{base}.formula", f"error validating formula in ScalingModifiers: {error}")
            )
    if modifiers.target:
        target = _parse_positive_float(modifiers.target)
        if target is None or target <= 0:
            problems.append(
                Problem(
                    f"{base}.target",
                    f"must be a number greater than 0, got {modifiers.target!r}",
                )
            )
    if modifiers.activation_target and _parse_positive_float(modifiers.activation_target) is None:
        problems.append(
            Problem(
                f"{base}.activationTarget",
                f"must be a number, got {modifiers.activation_target!r}",
            )
        )
    if modifiers.metric_type == "Utilization":
        problems.append(
            Problem(
                f"{base}.metricType",
                "Utilization is not supported for the composite metric; use AverageValue or Value",
            )
        )
    return problems


#: Targets whose cpu/memory-only objects must keep a replica (KEDA's verifyCPUMemoryScalers
#: checks apps/v1 Deployments and StatefulSets only and lets any other kind through).
_SCALE_TO_ZERO_CHECKED_TARGETS: Final = frozenset(
    {("apps/v1", "Deployment"), ("apps/v1", "StatefulSet")}
)


def check_scale_to_zero(spec: ScaledObjectSpec) -> list[Problem]:
    """Only cpu/memory triggers cannot scale to zero: their metrics come from running pods.

    As in KEDA, only a Deployment or StatefulSet target is held to it; other kinds (an Argo
    Rollout, a custom resource with its own ``/scale``) are exempt, since their pods may be
    measured some other way.
    """
    if not spec.triggers or not all(t.is_resource_trigger for t in spec.triggers):
        return []
    target = spec.scale_target_ref
    if (target.effective_api_version, target.effective_kind) not in _SCALE_TO_ZERO_CHECKED_TARGETS:
        return []
    if spec.min_replica_count:
        return []
    return [
        Problem(
            "spec.minReplicaCount",
            "scaledobject has only cpu/memory triggers AND minReplica is 0 (scale to zero doesn't "
            "work in this case); set minReplicaCount to 1 or more, or add an event trigger",
        )
    ]


def check_names(so: ScaledObject) -> list[Problem]:
    """The name is a label value (≤ 63); in mode hpa the generated HPA's name is too."""
    problems: list[Problem] = []
    name = so.metadata.name or ""
    if len(name) > MAX_LABEL_VALUE_LENGTH:
        problems.append(
            Problem(
                "metadata.name",
                f"scaledobject name {name!r} is {len(name)} characters long; must be no more than "
                f"{MAX_LABEL_VALUE_LENGTH} characters because it is used as the "
                f"{SCALED_OBJECT_NAME_LABEL.podscaler!r} label value",
            )
        )
    elif so.spec.mode == "hpa" and name:
        hpa_name = so.hpa_name()
        if len(hpa_name) > MAX_LABEL_VALUE_LENGTH:
            problems.append(
                Problem(
                    "spec.advanced.horizontalPodAutoscalerConfig.name",
                    f"HPA name {hpa_name!r} derived from the scaledobject is {len(hpa_name)} "
                    f"characters long; must be no more than {MAX_LABEL_VALUE_LENGTH}: set "
                    "spec.advanced.horizontalPodAutoscalerConfig.name or shorten the name",
                )
            )
    return problems


def name_warnings(so: ScaledObject) -> list[Problem]:
    """Mode direct creates no HPA, so a name whose ``keda-hpa-<name>`` is too long works; KEDA
    (and podscaler in mode hpa) refuses it, so say so before a port or a mode change does."""
    name = so.metadata.name or ""
    if so.spec.mode == "hpa" or not name or len(name) > MAX_LABEL_VALUE_LENGTH:
        return []
    hpa_name = so.hpa_name()
    if len(hpa_name) <= MAX_LABEL_VALUE_LENGTH:
        return []
    return [
        Problem(
            "metadata.name",
            f"the HPA name {hpa_name!r} derived from this name is {len(hpa_name)} characters "
            f"long (more than {MAX_LABEL_VALUE_LENGTH}): fine in mode direct, which creates no "
            "HPA, but KEDA and mode hpa refuse it; set "
            "spec.advanced.horizontalPodAutoscalerConfig.name or shorten the name",
        )
    ]


def _resource_set(resources: Mapping[str, Any] | None, resource: str) -> bool:
    """True when requests or limits give *resource* a value above zero."""
    if not isinstance(resources, Mapping):
        return False
    for section in ("requests", "limits"):
        values = resources.get(section)
        if isinstance(values, Mapping) and resource in values:
            try:
                if parse_quantity(values[resource]).value > 0:
                    return True
            except QuantityError:
                continue
    return False


def check_cpu_memory_requests(
    spec: ScaledObjectSpec,
    pod_spec: Mapping[str, Any] | None,
    limit_range_defaults: Collection[str] = (),
) -> list[Problem]:
    """cpu/memory triggers need the resource requested (utilization is relative to requests).

    *pod_spec* is the target's pod template spec (``None`` when the target does not exist);
    *limit_range_defaults* names the resources a container-type LimitRange in the namespace
    defaults. A trigger with ``metadata.containerName`` checks that container only, which must
    declare the request itself; otherwise pod-level requests (KEP-2837) also count.
    """
    resource_triggers = [t for t in spec.triggers if t.is_resource_trigger]
    if not resource_triggers:
        return []
    if pod_spec is None:
        return [
            Problem(
                "spec.scaleTargetRef",
                f"{spec.scale_target_ref.effective_kind} {spec.scale_target_ref.name!r} not found; "
                "cpu/memory triggers need its pod template to check resource requests",
            )
        ]
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    pod_resources = pod_spec.get("resources")
    problems: list[Problem] = []
    for index, trigger in enumerate(spec.triggers):
        if not trigger.is_resource_trigger:
            continue
        resource = trigger.type
        container_name = trigger.metadata.get("containerName", "")
        if resource in limit_range_defaults:
            continue
        if not container_name and _resource_set(pod_resources, resource):
            continue
        for container in containers:
            name = str(container.get("name", ""))
            if container_name and name != container_name:
                continue
            if not _resource_set(container.get("resources"), resource):
                problems.append(
                    Problem(
                        f"spec.triggers[{index}]",
                        f"the scaledobject has a {resource} trigger but the container {name} "
                        f"doesn't have the {resource} request defined",
                    )
                )
                break
    return problems


def scaled_object_warnings(spec: ScaledObjectSpec) -> list[Problem]:
    """Settings that are valid but do nothing, as KEDA's webhook warns about them.

    With minReplicaCount > 0 and no idleReplicaCount the object never goes to zero or idle,
    so cooldownPeriod never applies; in mode hpa the HPA's own sync period drives 1..N, so
    pollingInterval only matters when a trigger serves cached metrics. In mode direct podscaler
    itself computes replicas every pollingInterval, so that warning is for mode hpa only.
    """
    warnings: list[Problem] = []
    if not spec.min_replica_count or spec.idle_replica_count is not None:
        return warnings
    uses_cache = any(t.use_cached_metrics for t in spec.triggers)
    if spec.polling_interval is not None and not uses_cache and spec.mode == "hpa":
        warnings.append(
            Problem(
                "spec.pollingInterval",
                "PollingInterval is configured but is not relevant when minReplicaCount > 0 and "
                "idleReplicaCount is not set: the HPA's sync period drives scaling above the "
                "minimum, and no trigger uses cached metrics",
            )
        )
    if spec.cooldown_period is not None:
        warnings.append(
            Problem(
                "spec.cooldownPeriod",
                "CooldownPeriod is configured but is not relevant when minReplicaCount > 0 and "
                "idleReplicaCount is not set: it only delays scaling to zero or idle",
            )
        )
    return warnings


# --------------------------------------------------------------------------- whole objects

M = TypeVar("M", bound=ApiModel)


def _parse(model: type[M], obj: Mapping[str, Any]) -> tuple[M | None, list[Problem]]:
    if not isinstance(obj, Mapping):
        return None, [Problem("", f"must be a mapping, got {_describe(obj)}")]
    problems: list[Problem] = []
    api_version = obj.get("apiVersion", GROUP_VERSION)
    if api_version not in ACCEPTED_API_VERSIONS:
        problems.append(
            Problem(
                "apiVersion",
                f"must be {GROUP_VERSION} (or KEDA's {KEDA_GROUP_VERSION}), "
                f"got {_describe(api_version)}",
            )
        )
    try:
        parsed = model.model_validate(dict(obj))
    except pydantic.ValidationError as error:
        return None, problems + pydantic_problems(error)
    return parsed, problems


def scaled_object_problems(obj: Mapping[str, Any]) -> tuple[ScaledObject | None, list[Problem]]:
    """The parsed object (``None`` if it does not parse) and every problem found."""
    so, problems = _parse(ScaledObject, obj)
    if so is None:
        return None, problems
    spec = so.spec
    for rule in _SCALED_OBJECT_SPEC_RULES:
        problems.extend(rule(spec))
    problems.extend(check_names(so))
    return so, problems


_SCALED_OBJECT_SPEC_RULES: Final[tuple[Callable[[ScaledObjectSpec], list[Problem]], ...]] = (
    check_replica_bounds,
    lambda spec: check_triggers(spec.triggers),
    lambda spec: check_metric_types(spec.triggers),
    check_fallback,
    check_scaling_modifiers,
    check_scale_to_zero,
)


def validate_scaled_object(obj: Mapping[str, Any]) -> ScaledObject:
    """Parse and validate a ScaledObject; :class:`ObjectValidationError` lists every problem."""
    so, problems = scaled_object_problems(obj)
    if problems or so is None:
        raise ObjectValidationError("ScaledObject", _name_of(obj), problems)
    return so


def scaled_job_problems(obj: Mapping[str, Any]) -> tuple[ScaledJob | None, list[Problem]]:
    """The parsed ScaledJob (``None`` if it does not parse) and every problem found."""
    sj, problems = _parse(ScaledJob, obj)
    if sj is None:
        return None, problems
    spec = sj.spec
    problems.extend(check_triggers(spec.triggers))
    problems.extend(check_metric_types(spec.triggers))
    resolved = spec.resolved()
    if resolved.min_replica_count > resolved.max_replica_count:
        problems.append(
            Problem(
                "spec.minReplicaCount",
                f"MinReplicaCount={resolved.min_replica_count} must be less than "
                f"MaxReplicaCount={resolved.max_replica_count}",
            )
        )
    strategy = spec.scaling_strategy
    percentage = strategy.custom_scaling_running_job_percentage if strategy else None
    if percentage and _parse_positive_float(percentage) is None:
        problems.append(
            Problem(
                "spec.scalingStrategy.customScalingRunningJobPercentage",
                "must be a number such as 0.5 (otherwise the default strategy applies)",
            )
        )
    return sj, problems


def validate_scaled_job(obj: Mapping[str, Any]) -> ScaledJob:
    """Parse and validate a ScaledJob; :class:`ObjectValidationError` lists every problem."""
    sj, problems = scaled_job_problems(obj)
    if problems or sj is None:
        raise ObjectValidationError("ScaledJob", _name_of(obj), problems)
    return sj


def _trigger_auth_spec_problems(spec: TriggerAuthenticationSpec) -> list[Problem]:
    problems: list[Problem] = []
    identity = spec.pod_identity
    if identity is not None:
        if identity.identity_id == "":
            problems.append(
                Problem(
                    "spec.podIdentity.identityId",
                    "must not be empty when set (leave it out instead)",
                )
            )
        if identity.identity_tenant_id == "":
            problems.append(
                Problem(
                    "spec.podIdentity.identityTenantId",
                    "must not be empty when set (leave it out instead)",
                )
            )
        if identity.role_arn and identity.identity_owner == "workload":
            problems.append(
                Problem(
                    "spec.podIdentity.roleArn",
                    "cannot be set when identityOwner is workload (the workload's role is used)",
                )
            )
    for source in spec.unsupported_sources():
        problems.append(
            Problem(
                f"spec.{source}",
                f"{source} is not supported by podscaler yet (KEDA reads it); use "
                "secretTargetRef, configMapTargetRef, env or podIdentity",
            )
        )
    names = spec.parameter_names()
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(
            Problem(
                "spec",
                f"authentication parameter(s) {', '.join(duplicates)} come from more than one "
                "source; each parameter must have one",
            )
        )
    return problems


def trigger_authentication_problems(
    obj: Mapping[str, Any], *, cluster: bool = False
) -> tuple[TriggerAuthentication | ClusterTriggerAuthentication | None, list[Problem]]:
    """The parsed (Cluster)TriggerAuthentication and every problem found."""
    parsed: TriggerAuthentication | ClusterTriggerAuthentication | None
    if cluster:
        parsed, problems = _parse(ClusterTriggerAuthentication, obj)
    else:
        parsed, problems = _parse(TriggerAuthentication, obj)
    if parsed is None:
        return None, problems
    return parsed, problems + _trigger_auth_spec_problems(parsed.spec)


def validate_trigger_authentication(obj: Mapping[str, Any]) -> TriggerAuthentication:
    """Parse and validate a TriggerAuthentication."""
    parsed, problems = trigger_authentication_problems(obj)
    if problems or not isinstance(parsed, TriggerAuthentication):
        raise ObjectValidationError("TriggerAuthentication", _name_of(obj), problems)
    return parsed


def validate_cluster_trigger_authentication(obj: Mapping[str, Any]) -> ClusterTriggerAuthentication:
    """Parse and validate a ClusterTriggerAuthentication."""
    parsed, problems = trigger_authentication_problems(obj, cluster=True)
    if problems or not isinstance(parsed, ClusterTriggerAuthentication):
        raise ObjectValidationError("ClusterTriggerAuthentication", _name_of(obj), problems)
    return parsed


def _name_of(obj: Any) -> str | None:
    if isinstance(obj, Mapping):
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str):
            return str(metadata["name"])
    return None
