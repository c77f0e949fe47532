"""Event field formats: MicroTime and object references."""

from __future__ import annotations

from datetime import UTC, datetime

from podscaler.kube.events import format_micro_time, object_reference


def test_micro_time_has_microseconds_and_z() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    assert format_micro_time(moment) == "2026-03-04T05:06:07.000089Z"


def test_reference_from_an_object_and_from_a_reference() -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u-1",
            "resourceVersion": "5",
            "labels": {"a": "b"},
        },
        "spec": {},
    }
    ref = object_reference(deploy)
    assert ref == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "5",
    }
    assert object_reference({"kind": "Node", "name": "n1", "namespace": ""}) == {
        "kind": "Node",
        "name": "n1",
    }
