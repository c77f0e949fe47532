"""Derived siblings of keda.json vectors: fields the public half never varies but upstream's
tests do, run through the same adapters (each case cites the upstream rule it pins)."""

from __future__ import annotations

import pytest

from podscaler.engine.keda import need_to_be_paused
from tests.conformance import adapt_keda_scaling

REPLICAS = {"autoscaling.keda.sh/paused-replicas": "5"}


def test_paused_replicas_pause_only_once_applied() -> None:
    """KEDA's NeedToBePausedByAnnotation: with paused-replicas present the answer is
    ``status.pausedReplicaCount != nil`` — the loop must first pin the count before it stops
    (TestNeedToBePausedByAnnotation, "with value but no status set" -> false)."""
    assert need_to_be_paused(REPLICAS) is True
    assert need_to_be_paused(REPLICAS, paused_replicas_applied=True) is True
    assert need_to_be_paused(REPLICAS, paused_replicas_applied=False) is False
    both = {**REPLICAS, "autoscaling.keda.sh/paused": "true"}
    assert need_to_be_paused(both, paused_replicas_applied=False) is False
    plain = {"autoscaling.keda.sh/paused": "true"}
    assert need_to_be_paused(plain, paused_replicas_applied=False) is True


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ({"status": {"pausedReplicaCount": None}}, False),
        ({"status": {"pausedReplicaCount": 5}}, True),
        ({"statusPausedReplicaCount": None}, False),
        ({"pausedReplicaCount": 5}, True),
        ({}, True),
    ],
)
def test_pause_adapter_reads_the_status(extra: dict[str, object], want: bool) -> None:
    adapt_keda_scaling.scaledobject_pause(
        {
            "id": "derived-need-pause",
            "category": "scaledobject.pause",
            "input": {"annotations": REPLICAS, **extra},
            "expected": {"needToBePaused": want},
        }
    )
