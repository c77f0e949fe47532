"""The node-related parts of a scenario: node groups (simulated, or ASGs on moto), their
resizes and launch failures, and the ``nodeAutoscaler:`` block.

Node groups come in two clouds (``cloud:``):

* ``sim`` (the default) — the simulated cloud (:mod:`podscaler.nodes.providers.sim`):
  capacity, allocatable and price as written;
* ``aws`` — an EC2 Auto Scaling group on a moto server the run starts: a launch template of
  ``instanceType`` (capacity and price from the instance-type table, as on AWS), the
  auto-discovery tags, and ``labels``/``taints`` as CA's node-template tags. The world turns
  each instance into a Node after ``bootSeconds`` (``providerID aws:///<zone>/<id>``), and
  the node autoscaler drives the group through the AWS provider itself.

Either kind may fail: ``launchFailures: [{at: 10m, until: 40m, code:
InsufficientInstanceCapacity}]`` makes the group launch nothing in that window and report the
failed launch (on AWS as a failed scaling activity), and ``registers: false`` makes its new
instances never become Nodes (a broken bootstrap).

``nodeAutoscaler:`` holds the node autoscaler's options under Cluster Autoscaler's names —
``expander: priority,least-waste``, ``scaleDownUnneededTime: 2m``, or the flag spellings
(``scale-down-unneeded-time``) — read by :func:`podscaler.nodes.parse_options`, the same
reader as ``podscaler run``'s flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from podscaler.nodes import NodeAutoscalerOptions, OptionsError, parse_options
from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.providers.sim import NodeGroupSpec
from podscaler.sim.scenarios.fields import Fields
from podscaler.sim.world.asgs import AsgSpec

__all__ = [
    "AsgSpec",
    "GroupResize",
    "LaunchWindow",
    "NodeGroups",
    "NodeGroupsError",
    "parse_node_autoscaler",
    "parse_node_groups",
]

_GROUP_FIELDS: Final = {
    "name",
    "cloud",
    "instanceType",
    "capacity",
    "allocatable",
    "labels",
    "taints",
    "min",
    "max",
    "initial",
    "bootSeconds",
    "zone",
    "pricePerHour",
    "resize",
    "launchFailures",
    "registers",
}
#: What a ``cloud: aws`` group takes from its instance type instead.
_SIM_ONLY: Final = ("capacity", "allocatable", "pricePerHour", "resize")


class NodeGroupsError(ValueError):
    """A node group that cannot be read; the message names the field."""


_fields = Fields(NodeGroupsError)
_fail = _fields.fail
_mapping = _fields.mapping
_list = _fields.list
_int = _fields.int
_seconds = _fields.seconds
_strings = _fields.strings


@dataclass(frozen=True)
class GroupResize:
    """Someone (a person, a script, an outside autoscaler) sets a node group's target size."""

    group: str
    at_seconds: float
    size: int


@dataclass(frozen=True)
class LaunchWindow:
    """``group`` launches nothing from ``start_seconds`` until ``end_seconds`` (None: to the
    end), each attempt failing with ``code``."""

    group: str
    start_seconds: float
    end_seconds: float | None
    code: str


@dataclass(frozen=True)
class NodeGroups:
    sim: tuple[NodeGroupSpec, ...] = ()
    asgs: tuple[AsgSpec, ...] = ()
    resizes: tuple[GroupResize, ...] = ()
    failures: tuple[LaunchWindow, ...] = ()

    @property
    def names(self) -> list[str]:
        return [g.name for g in self.sim] + [g.name for g in self.asgs]

    def price_per_hour(self, group: str) -> float:
        for spec in self.sim:
            if spec.name == group:
                return spec.price_per_hour
        for asg in self.asgs:
            if asg.name == group:
                return asg.price_per_hour
        return 0.0


def _taints(raw: Any, where: str) -> tuple[dict[str, str], ...]:
    taints = []
    for index, taint in enumerate(_list(raw, f"{where}.taints")):
        taint = _strings(taint, f"{where}.taints[{index}]")
        if "key" not in taint or "effect" not in taint:
            raise _fail(f"{where}.taints[{index}]", "needs key and effect")
        taints.append(taint)
    return tuple(taints)


def _group(raw: Any, where: str) -> tuple[NodeGroupSpec | AsgSpec, list[Any]]:
    spec = _mapping(raw, where)
    unknown = sorted(str(k) for k in spec if k not in _GROUP_FIELDS)
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"{where}.name", "required")
    cloud = spec.get("cloud", "sim")
    if cloud not in ("sim", "aws"):
        raise _fail(f"{where}.cloud", f"must be sim or aws, not {cloud!r}")
    minimum = _int(spec.get("min"), f"{where}.min", 0)
    maximum = _int(spec.get("max"), f"{where}.max", max(minimum, 10))
    initial = _int(spec.get("initial"), f"{where}.initial", minimum)
    if not 0 <= minimum <= initial <= maximum:
        raise _fail(where, f"need 0 <= min ({minimum}) <= initial ({initial}) <= max ({maximum})")
    registers = spec.get("registers", True)
    if not isinstance(registers, bool):
        raise _fail(f"{where}.registers", "must be true or false")
    boot = _seconds(spec.get("bootSeconds"), f"{where}.bootSeconds", 60.0)
    labels = _strings(spec.get("labels"), f"{where}.labels")
    taints = _taints(spec.get("taints"), where)
    instance_type = str(spec.get("instanceType", "m5.large"))
    if cloud == "aws":
        for key in _SIM_ONLY:
            if key in spec:
                raise _fail(
                    f"{where}.{key}",
                    "an ASG (cloud: aws) takes it from its instance type; set instanceType",
                )
        if instance_type not in INSTANCE_TYPES:
            raise _fail(f"{where}.instanceType", f"{instance_type!r} is not a known instance type")
        zone = str(spec.get("zone", "eu-west-1a"))
        return (
            AsgSpec(
                name,
                instance_type,
                minimum,
                maximum,
                initial,
                boot,
                zone,
                labels,
                taints,
                registers,
            ),
            _list(spec.get("launchFailures"), f"{where}.launchFailures"),
        )
    capacity = _strings(spec.get("capacity"), f"{where}.capacity") or {
        "cpu": "2",
        "memory": "8Gi",
        "pods": "29",
    }
    capacity.setdefault("pods", "110")
    price = spec.get("pricePerHour", 0.0)
    if isinstance(price, bool) or not isinstance(price, int | float):
        raise _fail(f"{where}.pricePerHour", "must be a number")
    group = NodeGroupSpec(
        name=name,
        instance_type=instance_type,
        capacity=capacity,
        allocatable=_strings(spec.get("allocatable"), f"{where}.allocatable") or None,
        labels=labels,
        taints=taints,
        min_size=minimum,
        max_size=maximum,
        initial_size=initial,
        boot_seconds=boot,
        zone=str(spec.get("zone", "sim-a")),
        price_per_hour=float(price),
        registers=registers,
    )
    return group, _list(spec.get("launchFailures"), f"{where}.launchFailures")


def _resizes(raw: Any, group: NodeGroupSpec, where: str) -> list[GroupResize]:
    """``resize: [{at: 5m, size: 5}, ...]``: the group's target size set at those times."""
    resizes = []
    for index, item in enumerate(_list(raw, f"{where}.resize")):
        entry = _mapping(item, f"{where}.resize[{index}]")
        unknown = sorted(str(k) for k in entry if k not in ("at", "size"))
        if unknown:
            raise _fail(f"{where}.resize[{index}]", f"unknown field(s) {', '.join(unknown)}")
        if "at" not in entry or "size" not in entry:
            raise _fail(f"{where}.resize[{index}]", "needs at and size")
        at = _seconds(entry["at"], f"{where}.resize[{index}].at", 0.0)
        size = _int(entry["size"], f"{where}.resize[{index}].size", 0)
        if not group.min_size <= size <= group.max_size:
            raise _fail(
                f"{where}.resize[{index}].size",
                f"{size} is outside the group's min..max ({group.min_size}..{group.max_size})",
            )
        resizes.append(GroupResize(group.name, at, size))
    return resizes


def _windows(raw: list[Any], group: str, where: str) -> list[LaunchWindow]:
    windows = []
    for index, item in enumerate(raw):
        here = f"{where}.launchFailures[{index}]"
        entry = _mapping(item, here)
        unknown = sorted(str(k) for k in entry if k not in ("at", "until", "code"))
        if unknown:
            raise _fail(here, f"unknown field(s) {', '.join(unknown)}")
        start = _seconds(entry.get("at"), f"{here}.at", 0.0)
        end = _seconds(entry["until"], f"{here}.until", 0.0) if "until" in entry else None
        if end is not None and end <= start:
            raise _fail(f"{here}.until", "must come after at")
        code = entry.get("code", "InsufficientInstanceCapacity")
        if not isinstance(code, str) or not code.isidentifier():
            raise _fail(
                f"{here}.code", "must be an error code such as InsufficientInstanceCapacity"
            )
        windows.append(LaunchWindow(group, start, end, code))
    return windows


def parse_node_groups(raw: Any) -> NodeGroups:
    """The scenario's ``nodeGroups`` list."""
    sim: list[NodeGroupSpec] = []
    asgs: list[AsgSpec] = []
    resizes: list[GroupResize] = []
    failures: list[LaunchWindow] = []
    for index, item in enumerate(_list(raw, "nodeGroups")):
        where = f"nodeGroups[{index}]"
        group, windows = _group(item, where)
        if isinstance(group, AsgSpec):
            asgs.append(group)
        else:
            sim.append(group)
            resizes.extend(_resizes(_mapping(item, where).get("resize"), group, where))
        failures.extend(_windows(windows, group.name, where))
    names = [g.name for g in sim] + [g.name for g in asgs]
    if len(set(names)) != len(names):
        raise _fail("nodeGroups", "names must be unique")
    return NodeGroups(
        tuple(sim),
        tuple(asgs),
        tuple(sorted(resizes, key=lambda r: r.at_seconds)),
        tuple(sorted(failures, key=lambda w: w.start_seconds)),
    )


def parse_node_autoscaler(raw: Any) -> NodeAutoscalerOptions | None:
    """The ``nodeAutoscaler:`` block (None when absent): CA's options, camelCase or flags."""
    if raw is None:
        return None
    block = _mapping(raw, "nodeAutoscaler")
    try:
        return parse_options(block)
    except OptionsError as exc:
        raise _fail("nodeAutoscaler", str(exc)) from exc
