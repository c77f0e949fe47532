"""The refresher's rules that need no server: what reads like refused credentials, what a build
records, and that a change landing while a build reads is not lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest

from podscaler.controllers.loop import Wake
from podscaler.controllers.triggers.refresh import (
    AuthRefresher,
    looks_like_auth_failure,
    note_read,
    recording,
)
from podscaler.kube.clients import Kube


@pytest.mark.parametrize(
    "message",
    [
        "GetQueueAttributes for queue q failed: InvalidClientTokenId: The security token ...",
        "GetQueueAttributes for queue q failed: SignatureDoesNotMatch",
        "prometheus query api at http://p:9090 returned error. status: 401",
        "status: 403 (forbidden)",
        "kafka: SASL authentication failed",
        "AccessDenied: not authorized to perform sqs:GetQueueAttributes",
    ],
)
def test_refused_credentials_are_recognised(message: str) -> None:
    assert looks_like_auth_failure(message)


@pytest.mark.parametrize(
    "message",
    [
        "timed out after 5s",
        "GetQueueAttributes for queue q failed: AWS.SimpleQueueService.NonExistentQueue",
        "prometheus query api at http://p:9090 returned error. status: 503",
        "kafka topic t: UnknownTopicOrPartition",
        "port 4010 refused the connection",
    ],
)
def test_other_failures_are_not(message: str) -> None:
    assert not looks_like_auth_failure(message)


def test_only_reads_inside_a_recording_are_kept() -> None:
    note_read("Secret", "ns", "outside", {"metadata": {"resourceVersion": "1"}})
    with recording() as reads:
        note_read("Secret", "ns", "aws", {"metadata": {"resourceVersion": "7"}})
        note_read("TriggerAuthentication", "ns", "aws", {"metadata": {"resourceVersion": "3"}})
    note_read("Secret", "ns", "after", {"metadata": {"resourceVersion": "2"}})
    assert reads.versions == {
        ("Secret", "ns", "aws"): "7",
        ("TriggerAuthentication", "ns", "aws"): "3",
    }


@dataclass
class Target:
    built_generation: int | None = 4
    wake: Wake = field(default_factory=Wake)


async def test_a_change_during_the_build_rebuilds_again() -> None:
    refresher = AuthRefresher(cast(Kube, None), namespace=None, period_seconds=0)
    owner = ("ScaledObject", "ns", "api")
    target = Target()
    with recording() as first:
        note_read("TriggerAuthentication", "ns", "aws", {"metadata": {"resourceVersion": "3"}})
    refresher.track(owner, first, target)
    with recording() as second:  # a rebuild starts …
        # … and the TriggerAuthentication changes before it finishes.
        refresher._watched_changed(
            "TriggerAuthentication",
            {"metadata": {"namespace": "ns", "name": "aws"}},
            "4",
        )
        note_read("TriggerAuthentication", "ns", "aws", {"metadata": {"resourceVersion": "3"}})
    target.built_generation = 5  # the build completes as the controller records it
    target.wake.clear()
    refresher.track(owner, second, target)
    assert target.built_generation is None
    assert target.wake.is_set()
    # A later build that read the new version is left alone.
    target.built_generation = 6
    target.wake.clear()
    with recording() as third:
        note_read("TriggerAuthentication", "ns", "aws", {"metadata": {"resourceVersion": "4"}})
    refresher.track(owner, third, target)
    assert target.built_generation == 6
    assert not target.wake.is_set()


async def test_an_unchanged_or_unrelated_object_rebuilds_nothing() -> None:
    refresher = AuthRefresher(cast(Kube, None), namespace=None, period_seconds=0)
    target = Target()
    with recording() as reads:
        note_read(
            "ClusterTriggerAuthentication", "", "shared", {"metadata": {"resourceVersion": "9"}}
        )
    refresher.track(("ScaledJob", "ns", "w"), reads, target)
    meta = {"metadata": {"name": "shared"}}
    refresher._watched_changed("ClusterTriggerAuthentication", meta, "9")
    refresher._watched_changed("TriggerAuthentication", {"metadata": {"name": "shared"}}, "10")
    assert target.built_generation == 4
    refresher._watched_changed("ClusterTriggerAuthentication", meta, "")  # deleted
    assert target.built_generation is None
    assert refresher.rebuilds == 1
