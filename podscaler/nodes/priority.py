"""The priority expander's configuration: ConfigMap ``cluster-autoscaler-priority-expander``,
key ``priorities``, YAML mapping integer priorities to lists of regular expressions matched
(unanchored) against node group ids. The highest matching priority wins.

Parsing never raises: a configuration that cannot be used comes back as a
:class:`PriorityConfigError` value carrying CA's wording, so the controller can keep the last
good configuration and record ``PriorityConfigMapInvalid`` on the ConfigMap — CA re-reads the
ConfigMap on every call and lets every option through while it is broken; keeping the last
good one is kinder to a cluster whose ConfigMap was just mistyped.

Expressions are Go RE2 upstream; Python's ``re`` accepts a superset, and constructs RE2
rejects (backreferences, lookarounds) are refused here too so a configuration means the same
in both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

__all__ = [
    "CONFIGMAP_KEY",
    "CONFIGMAP_NAME",
    "PriorityConfig",
    "PriorityConfigError",
    "parse_priorities",
    "priorities_from_configmap",
]

CONFIGMAP_NAME: Final = "cluster-autoscaler-priority-expander"
CONFIGMAP_KEY: Final = "priorities"
_NOT_RE2: Final = re.compile(r"\\[1-9]|\(\?[=!<]|\(\?P=")


@dataclass(frozen=True)
class PriorityConfig:
    """Priority → compiled expressions."""

    rules: tuple[tuple[int, tuple[re.Pattern[str], ...]], ...]

    def priority_of(self, group: str) -> int | None:
        """The highest priority whose expressions match ``group``, or None."""
        best: int | None = None
        for priority, patterns in self.rules:
            if any(p.search(group) for p in patterns) and (best is None or priority > best):
                best = priority
        return best


@dataclass(frozen=True)
class PriorityConfigError:
    """A configuration that cannot be used; ``message`` is the Event text
    (reason ``PriorityConfigMapInvalid``)."""

    message: str
    reason: str = "PriorityConfigMapInvalid"


def parse_priorities(text: str) -> PriorityConfig | PriorityConfigError:
    """The ``priorities`` value of the ConfigMap."""
    if text == "":
        return _invalid(
            f"priority configuration in {CONFIGMAP_NAME} configmap is empty; please provide "
            "valid configuration"
        )
    try:
        loaded: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return _invalid(f"Can't parse YAML with priorities in the configmap: {exc}")
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, Mapping):
        return _invalid("Can't parse YAML with priorities in the configmap: not a mapping")
    rules: list[tuple[int, tuple[re.Pattern[str], ...]]] = []
    for key, expressions in loaded.items():
        if isinstance(key, bool) or not isinstance(key, int):
            return _invalid(
                "Can't parse YAML with priorities in the configmap: "
                f"priority {key!r} is not an integer"
            )
        if expressions is None:
            expressions = []
        if not isinstance(expressions, list) or not all(isinstance(e, str) for e in expressions):
            return _invalid(
                "Can't parse YAML with priorities in the configmap: "
                f"priority {key} must list regular expressions (strings)"
            )
        compiled: list[re.Pattern[str]] = []
        for expression in expressions:
            try:
                if _NOT_RE2.search(expression):
                    raise re.error("construct not supported by RE2")
                compiled.append(re.compile(expression))
            except re.error as exc:
                return _invalid(
                    f"Can't compile regexp rule for priority {key} and rule {expression}: {exc}"
                )
        rules.append((key, tuple(compiled)))
    return PriorityConfig(tuple(rules))


def priorities_from_configmap(configmap: Mapping[str, Any]) -> PriorityConfig | PriorityConfigError:
    data = configmap.get("data") or {}
    if not isinstance(data, Mapping) or CONFIGMAP_KEY not in data:
        return PriorityConfigError(
            f"Wrong configmap for priority expander, doesn't contain {CONFIGMAP_KEY} key. "
            "Ignoring update."
        )
    return parse_priorities(str(data[CONFIGMAP_KEY]))


def _invalid(detail: str) -> PriorityConfigError:
    return PriorityConfigError(
        f"Wrong configuration for priority expander: {detail}. Ignoring update."
    )
