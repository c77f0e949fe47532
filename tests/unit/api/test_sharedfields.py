"""Parsed API objects share pydantic's set of given field names, and an assignment to one
never shows in another."""

from __future__ import annotations

from typing import Any

from podscaler.api.scaledobject import ScaledObject


def scaled_object(name: str, **spec: Any) -> ScaledObject:
    return ScaledObject.model_validate(
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {
                "scaleTargetRef": {"name": name},
                "triggers": [{"type": "cpu", "metadata": {"value": "50"}}],
                **spec,
            },
        }
    )


def test_objects_of_one_shape_share_the_set_and_an_assignment_copies_it() -> None:
    a, b = scaled_object("a"), scaled_object("b")
    assert a.spec.model_fields_set is b.spec.model_fields_set
    before = set(b.spec.model_fields_set)
    assert "polling_interval" not in before
    a.spec.polling_interval = 5
    assert "polling_interval" in a.spec.model_fields_set
    assert set(b.spec.model_fields_set) == before
    assert b.spec.polling_interval != 5
    assert scaled_object("c").spec.model_fields_set == before


def test_the_shared_set_still_tells_what_was_given() -> None:
    plain, tuned = scaled_object("a"), scaled_object("b", pollingInterval=10)
    assert "polling_interval" in tuned.spec.model_fields_set
    assert "polling_interval" not in plain.spec.model_fields_set
    assert "pollingInterval" not in plain.spec.model_dump(by_alias=True, exclude_unset=True)
    assert tuned.spec.model_dump(by_alias=True, exclude_unset=True)["pollingInterval"] == 10
