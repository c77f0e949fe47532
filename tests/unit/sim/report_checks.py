"""Reading a report back: the structure tests (unit and e2e) assert on, and what a scenario
file says the report must show.

The report marks what matters with ``data-*`` attributes (a section per scaled workload, a
``data-panel`` per chart, ``data-line``/``data-value`` on reference lines, a ``data-change``
row per replica change, ``data-card`` on the figures), so the checks read content, not pixels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ReportShape", "assert_report_answers_why", "expected_targets", "read_report"]


@dataclass
class Section:
    workload: str
    scaled_by: str
    panels: list[str] = field(default_factory=list)
    #: (panel, role) → values of the reference lines drawn there
    lines: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    markers: dict[str, int] = field(default_factory=dict)


@dataclass
class ReportShape:
    sections: dict[str, Section] = field(default_factory=dict)
    panels: list[str] = field(default_factory=list)
    #: (workload, before, after) per row of the changes table, in order
    changes: list[tuple[str, int, int]] = field(default_factory=list)
    #: rows whose write no autoscaler Event explained
    undecided: list[tuple[str, int, int]] = field(default_factory=list)
    cards: dict[str, str] = field(default_factory=dict)
    scripts: int = 0
    external: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shape = ReportShape()
        self.section: Section | None = None
        self.panel: str | None = None
        self.card: str | None = None
        self.in_card_value = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("src", "href"):
            if a.get(key):
                self.shape.external.append(a[key])
        if tag == "script":
            self.shape.scripts += 1
        if tag == "section" and "data-workload" in a:
            self.section = Section(a["data-workload"], a.get("data-scaled-by", ""))
            self.shape.sections[self.section.workload] = self.section
        if tag == "svg" and "data-panel" in a:
            self.panel = a["data-panel"]
            self.shape.panels.append(self.panel)
            if self.section is not None:
                self.section.panels.append(self.panel)
        if tag == "line" and "data-line" in a and self.section is not None and self.panel:
            line = (self.panel, a["data-line"])
            self.section.lines.setdefault(line, []).append(float(a["data-value"]))
        if tag == "polygon" and "data-marker" in a and self.section is not None:
            marker = f"{self.panel}:{a['data-marker']}"
            self.section.markers[marker] = self.section.markers.get(marker, 0) + 1
        if tag == "tr" and "data-change" in a:
            row = (a["data-change"], int(a["data-before"]), int(a["data-after"]))
            self.shape.changes.append(row)
            if a.get("data-decided") != "yes":
                self.shape.undecided.append(row)
        if tag == "div" and "data-card" in a:
            self.card = a["data-card"]
        if tag == "b" and self.card is not None:
            self.in_card_value = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = None
        if tag == "svg":
            self.panel = None
        if tag == "b":
            self.in_card_value = False
        if tag == "div":
            self.card = None

    def handle_data(self, data: str) -> None:
        if self.in_card_value and self.card is not None:
            self.shape.cards[self.card] = data


def read_report(page: str) -> ReportShape:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader.shape


#: Where each trigger type keeps its target in the metadata, and its default.
_TARGET_KEYS: dict[str, tuple[str, float | None]] = {
    "cpu": ("value", None),
    "memory": ("value", None),
    "aws-sqs-queue": ("queueLength", 5.0),
    "kafka": ("lagThreshold", 10.0),
    "cron": ("desiredReplicas", None),
    "prometheus": ("threshold", None),
}


def _proportional(document: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """A ProportionalScaler's ladder steps (``steps``) or linear ``nodesPerReplica``
    (``target``) and its bounds, from its spec or its ConfigMap's JSON."""
    spec = obj["spec"]
    params: dict[str, Any] = {}
    mode = "ladder" if "ladder" in spec else "linear"
    if "configMapRef" in spec:
        (cm,) = [
            o
            for o in document["objects"]
            if o.get("kind") == "ConfigMap"
            and o["metadata"]["name"] == spec["configMapRef"]["name"]
        ]
        mode, raw = next(iter(cm["data"].items()))
        params = json.loads(raw)
    else:
        params = spec[mode]
    if mode == "ladder":
        steps = params.get("nodesToReplicas") or []
        replicas = [r for _, r in steps]
        return {
            "type": "ladder",
            "steps": [float(n) for n, _ in steps],
            "target": None,
            "min": min(replicas),
            "max": max(replicas),
        }
    return {
        "type": "linear",
        "target": float(params["nodesPerReplica"]),
        "min": int(params.get("min", 0)),
        "max": int(params.get("max", 0)) or 2**31 - 1,
    }


def expected_targets(path: Path) -> dict[str, dict[str, Any]]:
    """Read straight from the scenario file: per scaled workload, its ScaledObject's bounds
    and the target of its first trigger (``{"target": 50.0, "min": 1, "max": 10}``), or a
    ProportionalScaler's steps or ``nodesPerReplica``."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for obj in document.get("objects") or []:
        if obj.get("kind") == "ProportionalScaler":
            out[obj["spec"]["scaleTargetRef"]["name"]] = _proportional(document, obj)
            continue
        if obj.get("kind") != "ScaledObject":
            continue
        spec = obj["spec"]
        trigger = spec["triggers"][0]
        key, default = _TARGET_KEYS[trigger["type"]]
        raw = (trigger.get("metadata") or {}).get(key)
        out[spec["scaleTargetRef"]["name"]] = {
            "type": trigger["type"],
            "target": float(raw) if raw is not None else default,
            "min": int(spec.get("minReplicaCount", 0)),
            "max": int(spec.get("maxReplicaCount", 100)),
        }
    return out


def assert_report_answers_why(page: str, path: Path, *, decided: bool = True) -> ReportShape:
    """What every report of a scenario with autoscalers must show (``decided``: the operator
    ran, so every change has its decision)."""
    shape = read_report(page)
    expected = expected_targets(path)
    assert expected, f"{path.name} scales nothing"
    for workload, facts in expected.items():
        section = shape.sections[workload]
        # A predictive trigger's forecast adds a zoom on where it led the demand most.
        assert section.panels[:3] == ["why", "what", "capacity"], section.panels
        assert section.panels[3:] in ([], ["forecast"]), section.panels
        if facts.get("steps"):
            drawn = section.lines[("why", "step")]
            assert drawn, "the ladder's steps are drawn"
            assert set(drawn) <= set(facts["steps"])
        else:
            assert section.lines[("why", "target")] == [facts["target"]]
        if facts["min"] > 0:
            assert section.lines[("what", "min")] == [facts["min"]]
        if ("what", "max") in section.lines:
            assert section.lines[("what", "max")] == [facts["max"]]
        rows = [c for c in shape.changes if c[0] == workload]
        ups = sum(1 for _, before, after in rows if after > before)
        assert section.markers.get("what:up", 0) == ups
        assert section.markers.get("what:down", 0) == len(rows) - ups
    downs = sum(1 for _, before, after in shape.changes if after < before)
    assert shape.cards["scale-downs"] == str(downs)
    assert shape.cards["scale-ups"] == str(len(shape.changes) - downs)
    if decided:
        assert shape.undecided == [], f"changes without their decision: {shape.undecided}"
    assert shape.scripts == 0
    assert shape.external == []
    return shape
