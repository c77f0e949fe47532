"""Reading EC2 Auto Scaling Group tags the way Cluster Autoscaler does: the node-template tags
that describe a node of an empty group (scale from zero), the per-group autoscaling options,
and the ``--node-group-auto-discovery`` tag filter.

Pure string work, shared by the AWS provider (which fetches the tags) and the planner. The
quirks are CA's and are kept on purpose so existing ASG tags mean the same here:

* ``k8s.io/cluster-autoscaler/node-template/label/<k>: <v>`` → label ``k=v``; any ``eks:<k>``
  tag becomes label ``k`` too;
* ``…/taint/<key>: <value>:<effect>`` with effect NoSchedule, NoExecute or PreferNoSchedule;
  a value that does not look like that is ignored silently;
* ``…/resources/<name>: <quantity>`` overrides or adds capacity; unparsable quantities are
  skipped;
* ``…/autoscaling-options/<name>``: scaledownutilizationthreshold,
  scaledowngpuutilizationthreshold, scaledownunneededtime, scaledownunreadytime,
  ignoredaemonsetsutilization — a value that does not parse keeps the global option (CA logs
  a warning; here it is returned as one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from podscaler.api.durations import parse_go_duration
from podscaler.api.gostrconv import parse_bool
from podscaler.api.quantities import Quantity, QuantityError, parse_quantity
from podscaler.nodes.options import GroupOptions, OptionsError

__all__ = [
    "AutoDiscoverySpec",
    "labels_from_tags",
    "options_from_tags",
    "parse_auto_discovery_spec",
    "resources_from_tags",
    "taints_from_tags",
]

LABEL_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template/label/"
TAINT_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template/taint/"
RESOURCE_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template/resources/"
OPTION_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template/autoscaling-options/"
_TAINT_VALUE: Final = re.compile(r"(.*):(?:NoSchedule|NoExecute|PreferNoSchedule)")


def _after(key: str, marker: str) -> str | None:
    """Go's ``strings.Split(key, marker)[1]`` when the marker occurs, else None."""
    parts = key.split(marker)
    return parts[1] if len(parts) > 1 else None


def labels_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, value in tags.items():
        name = _after(key, LABEL_PREFIX)
        if name is None:
            name = _after(key, "eks:")
        if name:
            labels[name] = value
    return labels


def taints_from_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Taints as API dicts (``key``, ``value``, ``effect``), in tag order."""
    taints: list[dict[str, str]] = []
    for key, value in tags.items():
        if not _TAINT_VALUE.search(value):
            continue
        name = _after(key, TAINT_PREFIX)
        if name is None:
            continue
        taint_value, _, effect = value.partition(":")
        taints.append({"key": name, "value": taint_value, "effect": effect})
    return taints


def resources_from_tags(tags: Mapping[str, str]) -> dict[str, Quantity]:
    found: dict[str, Quantity] = {}
    for key, value in tags.items():
        name = _after(key, RESOURCE_PREFIX)
        if not name:
            continue
        try:
            found[name] = parse_quantity(value)
        except (QuantityError, ValueError):
            continue
    return found


def options_from_tags(tags: Mapping[str, str]) -> tuple[GroupOptions, tuple[str, ...]]:
    """The group's option overrides, and a warning per tag whose value does not parse."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    extra: dict[str, str] = {}
    for key, raw in tags.items():
        name = _after(key, OPTION_PREFIX)
        if not name:
            continue
        if name in ("scaledownutilizationthreshold", "scaledowngpuutilizationthreshold"):
            try:
                number = float(raw)
            except ValueError:
                warnings.append(f"{key}: {raw!r} is not a number; the global option applies")
                continue
            field_name = (
                "scale_down_utilization_threshold"
                if name == "scaledownutilizationthreshold"
                else "scale_down_gpu_utilization_threshold"
            )
            values[field_name] = number
        elif name in ("scaledownunneededtime", "scaledownunreadytime", "maxnodeprovisiontime"):
            seconds = parse_go_duration(raw)
            if seconds is None:
                warnings.append(f"{key}: {raw!r} is not a duration; the global option applies")
                continue
            field_name = {
                "scaledownunneededtime": "scale_down_unneeded_time_seconds",
                "scaledownunreadytime": "scale_down_unready_time_seconds",
                "maxnodeprovisiontime": "max_node_provision_time_seconds",
            }[name]
            values[field_name] = seconds
        elif name == "ignoredaemonsetsutilization":
            flag = parse_bool(raw)
            if flag is None:
                warnings.append(f"{key}: {raw!r} is not a boolean; the global option applies")
                continue
            values["ignore_daemonsets_utilization"] = flag
        else:
            extra[name] = raw
    return replace(GroupOptions(), **values, extra=extra), tuple(warnings)


@dataclass(frozen=True)
class AutoDiscoverySpec:
    """``asg:tag=k1,k2=v2``: an ASG is discovered when it carries every key (with the value,
    where one is given; an empty value matches any)."""

    tags: Mapping[str, str]

    def matches(self, asg_tags: Mapping[str, str]) -> bool:
        return all(
            key in asg_tags and (not value or asg_tags[key] == value)
            for key, value in self.tags.items()
        )


def parse_auto_discovery_spec(spec: str) -> AutoDiscoverySpec:
    """CA's ``parseASGAutoDiscoverySpec``; :class:`OptionsError` names what is wrong."""
    discoverer, sep, param = spec.partition(":")
    if not sep:
        raise OptionsError(f"node-group-auto-discovery: invalid spec {spec!r} (asg:tag=...)")
    if discoverer != "asg":
        raise OptionsError(f"node-group-auto-discovery: unsupported discoverer {discoverer!r}")
    key, sep, value = param.partition("=")
    if not sep:
        raise OptionsError(f"node-group-auto-discovery: invalid key=value pair {param!r}")
    if key != "tag":
        raise OptionsError(
            f"node-group-auto-discovery: unsupported parameter key {key!r} for discoverer "
            "'asg'; the only supported key is 'tag'"
        )
    if not value:
        raise OptionsError("node-group-auto-discovery: tag value not supplied")
    tags: dict[str, str] = {}
    for item in value.split(","):
        tag, _, tag_value = item.partition("=")
        tags[tag] = tag_value
    return AutoDiscoverySpec(tags)
