"""The words of ``podscaler run``'s info log: a replica change and a condition change, each one
line naming the object, what changed and why."""

from __future__ import annotations

from typing import Any

from podscaler.controllers.transitions import condition_changes, replica_change


def _status(*conditions: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "conditions": [
            {"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions
        ]
    }


def test_a_new_objects_first_status_reports_what_it_found_not_its_unknowns() -> None:
    after = _status(
        ("Ready", "True", "ScaledObjectReady", "ready for scaling"),
        ("Active", "False", "ScalerNotActive", ""),
        ("Fallback", "Unknown", "", ""),
    )
    assert condition_changes("ScaledObject", "shop", "web", None, after) == [
        "ScaledObject shop/web: condition Ready Unknown -> True (ScaledObjectReady: ready for "
        "scaling)",
        "ScaledObject shop/web: condition Active Unknown -> False (ScalerNotActive)",
    ]


def test_a_status_or_reason_change_is_a_line_and_a_steady_status_none() -> None:
    before = _status(("Ready", "True", "ScaledObjectReady", ""), ("Paused", "False", "", ""))
    assert condition_changes("ScaledJob", "q", "jobs", before, before) == []
    after = _status(
        ("Ready", "False", "ScaledObjectCheckFailed", "spec.triggers: required"),
        ("Paused", "False", "", ""),
    )
    assert condition_changes("ScaledJob", "q", "jobs", before, after) == [
        "ScaledJob q/jobs: condition Ready True -> False (ScaledObjectCheckFailed: "
        "spec.triggers: required)"
    ]
    reason_only = _status(
        ("Ready", "False", "ScaleTargetNotFound", "no deployment"), ("Paused", "False", "", "")
    )
    assert condition_changes("ScaledJob", "q", "jobs", after, reason_only) == [
        "ScaledJob q/jobs: condition Ready False -> False (ScaleTargetNotFound: no deployment)"
    ]


def test_a_replica_change_names_target_counts_rule_and_why() -> None:
    common: dict[str, Any] = {"rule": "hpa", "bound_by": "ScaleUpPolicy", "summary": "policy"}
    target = "apps/v1.Deployment shop/web"
    assert replica_change("ScaledObject", "shop", "web", target, 2, 3, **common) == (
        "ScaledObject shop/web: scaled apps/v1.Deployment shop/web 2 -> 3 replicas "
        "(rule hpa, bound by ScaleUpPolicy): policy"
    )
    assert replica_change(
        "ScaledObject", "shop", "web", target, 2, 3, **common, dry_run=True
    ).startswith("ScaledObject shop/web: would scale apps/v1.Deployment")
    assert replica_change(
        "ScaledObject", "shop", "web", target, 1, 0, rule="deactivation", error="409 Conflict"
    ) == (
        "ScaledObject shop/web: could not scale apps/v1.Deployment shop/web 1 -> 0 replicas "
        "(rule deactivation): 409 Conflict"
    )
