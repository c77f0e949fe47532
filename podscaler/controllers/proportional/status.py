"""A ProportionalScaler's status, composed from what its controller knows.

Pure: the time is passed in, and the previous conditions keep their transition times
(:func:`podscaler.kube.statuses.set_condition`). The status carries no clock of its own
besides ``lastScaleTime`` and the conditions' transitions, so a scaler whose cluster does not
change costs no status writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podscaler.api.proportionalscaler import PARAMETERS_VALID, PROPORTIONAL_READY
from podscaler.api.timestamps import format_time
from podscaler.engine.cpa import Decision
from podscaler.kube.statuses import set_condition

__all__ = ["Problem", "compose_status"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """Why a condition is False: an UpperCamelCase reason and a message."""

    reason: str
    message: str


def compose_status(
    *,
    previous: Mapping[str, Any] | None,
    generation: int | None,
    decision: Decision | None,
    source: str | None,
    parameters_problem: Problem | None,
    target_problem: Problem | None,
    last_scale_time: datetime | None,
    dry_run: bool,
    now: datetime,
) -> Obj:
    """The whole status: counts, mode, replicas, decision, and the two conditions."""
    previous = previous or {}
    status: Obj = {}
    if generation is not None:
        status["observedGeneration"] = generation
    if decision is not None:
        cluster = decision.status
        detail: Obj = {
            "rule": decision.rule,
            "summary": decision.summary() + (" (dry run: not applied)" if dry_run else ""),
            "replicas": decision.replicas,
            "formula": decision.lines(),
        }
        status.update(
            {
                "mode": decision.mode,
                "parametersSource": source,
                "totalNodes": cluster.total_nodes,
                "schedulableNodes": cluster.schedulable_nodes,
                "totalCores": cluster.total_cores,
                "schedulableCores": cluster.schedulable_cores,
                "replicas": decision.replicas,
                "lastDecision": detail,
            }
        )
    if last_scale_time is not None:
        status["lastScaleTime"] = format_time(last_scale_time)
    elif previous.get("lastScaleTime"):
        status["lastScaleTime"] = previous["lastScaleTime"]
    conditions: Sequence[Mapping[str, Any]] = previous.get("conditions") or []
    if parameters_problem is None:
        valid = ("True", "ParametersAccepted", f"parameters from {source} are in force")
    else:
        valid = ("False", parameters_problem.reason, parameters_problem.message)
    conditions = set_condition(
        conditions,
        type_=PARAMETERS_VALID,
        status=valid[0],
        reason=valid[1],
        message=valid[2],
        now=now,
        observed_generation=generation,
    )
    if decision is None:
        ready = (
            "False",
            "NoParameters",
            "no valid parameters yet: nothing is scaled"
            + (f" ({parameters_problem.message})" if parameters_problem else ""),
        )
    elif target_problem is not None:
        ready = ("False", target_problem.reason, target_problem.message)
    else:
        ready = ("True", "ScaledProportionally", decision.summary())
    conditions = set_condition(
        conditions,
        type_=PROPORTIONAL_READY,
        status=ready[0],
        reason=ready[1],
        message=ready[2],
        now=now,
        observed_generation=generation,
    )
    # Ready first, as kubectl and KEDA users read it.
    status["conditions"] = sorted(conditions, key=lambda c: c.get("type") != PROPORTIONAL_READY)
    return status
