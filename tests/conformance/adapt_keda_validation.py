"""KEDA ScaledObject validation vectors → :mod:`podscaler.api.validation`.

The vectors come from three kinds of upstream tests, and each exercises a different amount of
KEDA, so each maps to the matching amount of podscaler:

* unit tests of one rule (``TestCheckReplicaCountBoundsAreValid``, ``TestCheckFallbackValid``,
  ``TestValidateTriggers``): the vector's partial spec goes to that one rule function;
* admission-webhook tests (``scaledobject_webhook_test.go``): the vector lists only what differs
  from the test's fixture ScaledObject, so the fixture is rebuilt here and the whole object is
  validated, plus the cpu/memory request check against the workload the vector describes.

KEDA always runs an HPA, so the vectors are evaluated in podscaler's ``mode: hpa`` unless they
say otherwise (``scaledobject.warnings`` depends on it).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from podscaler.api.formulas import formula_variables
from podscaler.api.scaledobject import ScaledObjectSpec
from podscaler.api.triggers import ScaleTrigger
from podscaler.api.validation import (
    Problem,
    check_cpu_memory_requests,
    check_fallback,
    check_replica_bounds,
    check_triggers,
    scaled_object_problems,
    scaled_object_warnings,
)
from tests.conformance.registry import Vector, adapter

#: Name and target of the webhook tests' fixture (createScaledObject).
FIXTURE_NAME = "test-so"
FIXTURE_TARGET = "test-workload"

#: Keys of a webhook vector's spec that describe the test's surroundings, not the spec.
_ENVIRONMENT_KEYS = ("metadata.name", "workload")


def _trigger(raw: dict[str, Any]) -> dict[str, Any]:
    trigger = dict(raw)
    trigger.setdefault("type", "kafka")
    trigger.setdefault("metadata", {})
    return trigger


def _spec(partial: dict[str, Any], *, default_triggers: list[dict[str, Any]]) -> ScaledObjectSpec:
    """A parsed spec from a unit-test vector's partial spec (nulls mean unset)."""
    spec = {key: value for key, value in partial.items() if value is not None}
    spec.setdefault("scaleTargetRef", {"name": FIXTURE_TARGET})
    spec["triggers"] = [_trigger(t) for t in spec.get("triggers", default_triggers)]
    spec.setdefault("advanced", {})
    spec["advanced"].setdefault("mode", "hpa")
    return ScaledObjectSpec.model_validate(spec)


def _fixture(partial: dict[str, Any], *, idle: bool = True) -> dict[str, Any]:
    """The webhook tests' fixture ScaledObject with the vector's differences applied.

    The warning tests set idleReplicaCount themselves (to a value or to nil), so they start
    from the fixture without it (*idle* false).
    """
    spec: dict[str, Any]
    advanced = partial.get("advanced") or {}
    modifiers = advanced.get("scalingModifiers") or {}
    if modifiers:
        # createScaledObjectScalingModifiers: min 0, max 10, cooldown 1, and the triggers the
        # test declares for its formula (one named trigger per name used in the formula).
        names = formula_variables(modifiers.get("formula") or "")
        spec = {
            "scaleTargetRef": {"name": FIXTURE_TARGET},
            "minReplicaCount": 0,
            "maxReplicaCount": 10,
            "cooldownPeriod": 1,
            "triggers": [{"type": "kubernetes-workload", "name": n, "metadata": {}} for n in names],
        }
    else:
        # createScaledObject: idle 1, min 5, max 10 and one unnamed cron trigger.
        spec = {
            "scaleTargetRef": {
                "name": FIXTURE_TARGET,
                "apiVersion": "apps/v1",
                "kind": "Deployment",
            },
            "idleReplicaCount": 1,
            "minReplicaCount": 5,
            "maxReplicaCount": 10,
            "triggers": [{"type": "cron", "metadata": {}}],
            "advanced": {},
        }
        # Tests that set minReplicaCount themselves build ScaledObjects without an idle count
        # (createScaledObjectSTZ, the warning tests).
        if not idle or ("minReplicaCount" in partial and "idleReplicaCount" not in partial):
            del spec["idleReplicaCount"]
    for key, value in partial.items():
        if key in _ENVIRONMENT_KEYS:
            continue
        if key == "advanced" and isinstance(value, dict):
            merged = dict(spec.get("advanced") or {})
            merged.update(copy.deepcopy(value))
            spec["advanced"] = merged
        elif key == "triggers" and isinstance(value, list):
            spec["triggers"] = [_trigger(t) for t in value]
        elif value is None:
            spec.pop(key, None)
        else:
            spec[key] = copy.deepcopy(value)
    spec.setdefault("advanced", {})
    spec["advanced"].setdefault("mode", "hpa")
    name = partial.get("metadata.name", FIXTURE_NAME)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": "test"},
        "spec": spec,
    }


def _workload(description: str) -> tuple[dict[str, Any] | None, set[str]]:
    """(pod spec, LimitRange-defaulted resources) from a vector's plain-words workload."""
    text = description.lower()
    if re.search(
        r"\b(missing|not exist|doesn't exist|no (deployment|statefulset|workload))\b", text
    ):
        return None, set()
    requested: set[str] = set()
    defaults: set[str] = set()
    for clause in re.split(r"[,;]|\bbut\b", text):
        negated = re.search(r"\b(no|without|missing|lacks?|hasn't|doesn't|not)\b", clause)
        resources = {r for r in ("cpu", "memory") if r in clause}
        if "limitrange" in clause.replace(" ", ""):
            if not negated:
                defaults |= resources or {"cpu", "memory"}
            continue
        if not negated:
            requested |= resources
    requests = dict.fromkeys(requested, "100m")
    container = {"name": "test", "resources": {"requests": requests}}
    return {"containers": [container]}, defaults


def _messages(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def _unit(vector: Vector) -> list[Problem]:
    test = vector["source"]["test"]
    data = vector["input"]
    if test == "TestValidateTriggers":
        triggers = [ScaleTrigger.model_validate(_trigger(t)) for t in data["triggers"]]
        return check_triggers(triggers)
    partial = data["spec"]
    if test == "TestCheckReplicaCountBoundsAreValid":
        return check_replica_bounds(_spec(partial, default_triggers=[{}]))
    if test == "TestCheckFallbackValid":
        return check_fallback(_spec(partial, default_triggers=[{}]))
    raise AssertionError(f"no podscaler rule for upstream test {test!r}")


def _webhook(vector: Vector) -> list[Problem]:
    partial = vector["input"]["spec"]
    so, problems = scaled_object_problems(_fixture(partial))
    workload = partial.get("workload")
    if so is not None and isinstance(workload, str) and "dry-run" not in workload.lower():
        kind = so.spec.scale_target_ref.effective_kind
        if kind in {"Deployment", "StatefulSet"}:
            pod_spec, defaults = _workload(workload)
            problems += check_cpu_memory_requests(so.spec, pod_spec, defaults)
    return problems


@adapter("keda", "scaledobject.validation")
def scaled_object_validation(vector: Vector) -> None:
    expected = vector["expected"]
    is_webhook = vector["source"]["file"].endswith("_webhook_test.go")
    problems = _webhook(vector) if is_webhook else _unit(vector)
    should_fail = bool(expected.get("rejected") if is_webhook else expected.get("error"))
    assert bool(problems) == should_fail, (
        f"expected {'rejection' if should_fail else 'acceptance'}, got:\n{_messages(problems)}"
    )
    for key in ("errorContains", "errorMessage"):
        wanted = expected.get(key)
        if wanted:
            assert any(wanted in problem.message for problem in problems), (
                f"no problem says {wanted!r}:\n{_messages(problems)}"
            )


@adapter("keda", "scaledobject.hpa_bounds")
def scaled_object_hpa_bounds(vector: Vector) -> None:
    spec = _spec(vector["input"]["spec"], default_triggers=[{}])
    expected = vector["expected"]
    assert spec.resolved().hpa_min_replicas == expected["hpaMinReplicas"]
    assert spec.resolved().hpa_max_replicas == expected["hpaMaxReplicas"]


@adapter("keda", "scaledobject.warnings")
def scaled_object_warnings_vector(vector: Vector) -> None:
    so, problems = scaled_object_problems(_fixture(vector["input"]["spec"], idle=False))
    expected = vector["expected"]
    assert so is not None, _messages(problems)
    assert bool(problems) == bool(expected.get("rejected")), _messages(problems)
    warnings = [w.message for w in scaled_object_warnings(so.spec)]
    wanted = expected.get("warningsContain") or []
    for text in wanted:
        assert any(text in warning for warning in warnings), (text, warnings)
    for kind in ("PollingInterval", "CooldownPeriod"):
        if not any(kind in text for text in wanted):
            assert not any(w.startswith(kind) for w in warnings), warnings
