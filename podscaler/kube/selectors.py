"""Label selectors: parsing the string form and matching labels, as the API server does.

Informer caches answer ``select("app=web,tier in (front,back)")`` locally instead of asking
the server, and ``/scale`` hands back its selector in the string form, so the operator needs
the same grammar: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``
(exists) and ``!k`` (does not exist), joined by commas. The structured form of a Deployment's
``spec.selector`` (``matchLabels`` / ``matchExpressions``) converts to the same requirements.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Requirement", "from_label_selector", "matches", "parse_selector"]

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]


class SelectorError(ValueError):
    """A label selector string that does not parse."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "!":
            return self.key not in labels
        value = labels.get(self.key)
        if self.operator in ("=", "in"):
            return value is not None and value in self.values
        # "!=" and "notin" also match objects without the key, as upstream does.
        return value is None or value not in self.values


_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside a ``( … )`` value set."""
    terms: list[str] = []
    depth = 0
    current: list[str] = []
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


@functools.lru_cache(maxsize=1024)
def parse_selector(selector: str) -> tuple[Requirement, ...]:
    """Parse the string form; the empty selector matches everything.

    Cached: controllers select with the same few selectors on every reconcile.
    """
    requirements: list[Requirement] = []
    for term in _split_terms(selector):
        if m := _SET_RE.match(term):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            op: Operator = "in" if m.group(2) == "in" else "notin"
            requirements.append(Requirement(m.group(1), op, values))
        elif m := _EQ_RE.match(term):
            eq: Operator = "!=" if m.group(2) == "!=" else "="
            requirements.append(Requirement(m.group(1), eq, frozenset({m.group(3)})))
        elif m := _EXISTS_RE.match(term):
            requirements.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise SelectorError(f"cannot parse label selector term {term.strip()!r}")
    return tuple(requirements)


def from_label_selector(selector: Mapping[str, Any]) -> tuple[Requirement, ...]:
    """Requirements of a structured ``LabelSelector`` (matchLabels + matchExpressions)."""
    requirements = [
        Requirement(str(k), "=", frozenset({str(v)}))
        for k, v in (selector.get("matchLabels") or {}).items()
    ]
    names: dict[str, Operator] = {
        "In": "in",
        "NotIn": "notin",
        "Exists": "exists",
        "DoesNotExist": "!",
    }
    for expr in selector.get("matchExpressions") or []:
        op = names.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(f"unknown selector operator {expr.get('operator')!r}")
        values = frozenset(str(v) for v in expr.get("values") or ())
        requirements.append(Requirement(str(expr["key"]), op, values))
    return tuple(requirements)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)
