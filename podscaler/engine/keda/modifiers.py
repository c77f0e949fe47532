"""scalingModifiers: one composite metric computed by a formula over the named triggers.

KEDA binds each named, non-cpu/memory trigger's metric value to the trigger's name, evaluates
the formula (auto-cast to ``float``), and replaces all external metrics by one
``composite-metric`` with the formula's target and metric type. Activity is then decided by the
composite alone: ``value > activationTarget`` (0 when unset), and only on a poll without errors.

What happens when a trigger the formula names has failed:

- below the fallback threshold, or without fallback: the poll is in error, the composite is
  not computed (the object is neither activated nor deactivated by it);
- beyond the threshold with a static/currentReplicas* fallback: the whole composite *is* the
  fallback value (``fallback replicas * target``), however many triggers fail;
- beyond the threshold with ``behavior: scalingModifiers``: the trigger enters the formula as
  ``nil``; ``??`` routes around it, and a formula that still ends up nil yields
  ``fallback.replicas * target``.

A formula whose result is not a finite number, or is beyond what the HPA's milli-quantity can
hold (``a / 0``, ``a * 1e308 * 10``, ``a ** a ** a ** 999999``: the language saturates to ±Inf
and NaN in constant time, as Go's float64 does, so evaluation itself is bounded), gives no
value: an ``unusable`` error, which the decision treats as a failing composite metric (a
TriggerError condition and Event, and fallback after its threshold when one is configured).
KEDA would export ``int64(±Inf * 1000)``, an undefined conversion in Go; exporting nothing
is the only honest answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from podscaler.api.scaledobject import ScalingSpec
from podscaler.api.triggers import RESOURCE_TRIGGER_TYPES
from podscaler.engine.keda.formula import Formula, FormulaError, Value, compile_formula

__all__ = [
    "MAX_COMPOSITE_VALUE",
    "CompositeOutcome",
    "activation_target",
    "compose",
    "parse_formula",
    "validate_formula",
]


#: The largest composite the HPA can be given: its quantities are int64 milli-units.
MAX_COMPOSITE_VALUE = (2**63 - 1) / 1000


@lru_cache(maxsize=1024)
def parse_formula(source: str) -> Formula:
    """Parse once per distinct formula; the AST is immutable so sharing it is safe."""
    return compile_formula(source)


def activation_target(spec: ScalingSpec) -> float:
    """``activationTarget`` as a float (0 when unset); unparsable text raises ``ValueError``."""
    modifiers = spec.scaling_modifiers
    if modifiers is None or modifiers.activation_target == "":
        return 0.0
    return float(modifiers.activation_target)


def validate_formula(spec: ScalingSpec, trigger_names: Mapping[str, str]) -> Formula:
    """Admission check, like KEDA's: the formula parses and runs with every named trigger at -1.

    *trigger_names* maps each trigger's ``name`` to its ``type``; cpu/memory triggers are not
    variables. Raises :class:`FormulaError` (position included) or ``ValueError`` for the target.
    """
    modifiers = spec.scaling_modifiers
    if modifiers is None or not modifiers.formula:
        raise FormulaError("ScalingModifiers.Formula is mandatory", 0)
    if not modifiers.target:
        raise FormulaError("formula is given but target is empty", 0)
    formula = parse_formula(modifiers.formula)
    dummy: dict[str, Value] = {
        name: -1.0
        for name, trigger_type in trigger_names.items()
        if name and trigger_type not in RESOURCE_TRIGGER_TYPES
    }
    formula.evaluate_float(dummy)
    target = float(modifiers.target)
    if not target > 0:
        raise ValueError(f"scalingModifiers.target must be a positive number, got {target}")
    return formula


@dataclass(frozen=True)
class CompositeOutcome:
    """The composite metric of one poll: its value and the activity it implies."""

    value: float | None
    is_active: bool
    error: str | None = None
    #: the formula ran but its result cannot be a metric (not finite, or out of range)
    unusable: bool = False


def compose(
    spec: ScalingSpec,
    variables: Mapping[str, float | None],
    *,
    fallback_value: float | None = None,
) -> CompositeOutcome:
    """Evaluate the formula over *variables* (trigger name → value, ``None`` = nil).

    *fallback_value* is the first fallback metric of the poll, if some trigger is in fallback:
    KEDA then exports it as the composite instead of running the formula.
    """
    modifiers = spec.scaling_modifiers
    assert modifiers is not None
    try:
        threshold = activation_target(spec)
    except ValueError:
        return CompositeOutcome(None, False, "scalingModifiers.ActivationTarget parsing error")
    if fallback_value is not None:
        return CompositeOutcome(fallback_value, fallback_value > threshold)
    if not modifiers.formula:
        return CompositeOutcome(None, False)
    try:
        value = parse_formula(modifiers.formula).evaluate_float(dict(variables))
    except FormulaError as exc:
        return CompositeOutcome(None, False, f"error trying to run custom formula: {exc}")
    if value is None:
        fallback = spec.fallback
        if fallback is None:
            return CompositeOutcome(None, False, "formula evaluated to nil")
        try:
            value = fallback.replicas * float(modifiers.target)
        except ValueError:
            return CompositeOutcome(None, False, "scalingModifiers.target is not a number")
    if not math.isfinite(value) or abs(value) > MAX_COMPOSITE_VALUE:
        return CompositeOutcome(
            None,
            False,
            f"scalingModifiers.formula evaluated to {value!r}, not a finite number within "
            f"±{MAX_COMPOSITE_VALUE:.3g}; check it for a division by zero or an overflow",
            unusable=True,
        )
    value = math.trunc(value * 1000) / 1000
    return CompositeOutcome(value, value > threshold)
