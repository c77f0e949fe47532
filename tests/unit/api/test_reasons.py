"""Event reasons: UpperCamelCase, unique, each documented where it is declared."""

from __future__ import annotations

import ast
import inspect
import re

from podscaler.api import reasons
from podscaler.api.reasons import EventType, Reason


def _documented_members() -> dict[str, str]:
    tree = ast.parse(inspect.getsource(reasons))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Reason")
    docs: dict[str, str] = {}
    for first, second in zip(cls.body, cls.body[1:], strict=False):
        if (
            isinstance(first, ast.Assign)
            and isinstance(second, ast.Expr)
            and isinstance(second.value, ast.Constant)
            and isinstance(second.value.value, str)
        ):
            target = first.targets[0]
            assert isinstance(target, ast.Name)
            docs[target.id] = second.value.value
    return docs


def test_every_reason_is_upper_camel_case_and_its_own_name() -> None:
    for reason in Reason:
        assert re.fullmatch(r"[A-Z][a-zA-Z0-9]+", reason.value), reason
        assert reason.name == reason.value


def test_every_reason_has_a_docstring() -> None:
    docs = _documented_members()
    missing = [r.name for r in Reason if len(docs.get(r.name, "").strip()) < 20]
    assert missing == []


def test_reasons_the_scaledobject_controller_needs_exist() -> None:
    for name in [
        "ScaledObjectReady",
        "ScaledObjectCheckFailed",
        "ScaleTargetNotFound",
        "TriggerError",
        "ScaledTargetScaled",
        "FallbackActivated",
        "Paused",
        "LeaderElected",
        "LeaderLost",
    ]:
        assert name in Reason.__members__


def test_event_types() -> None:
    assert Reason.ScaledObjectReady.event_type is EventType.Normal
    assert Reason.TriggerError.event_type is EventType.Warning
