"""Service NodePorts: allocated from 30000-32767 without collisions, as kube-apiserver does.

A Service of type ``NodePort``, or ``LoadBalancer`` with ``allocateLoadBalancerNodePorts``
(true by default), gets a node port on every port that names none; one it names must be in the
range and free (else 422, with upstream's message). An update keeps the node port of a port of
the same name when the new spec leaves it out; a switch to a type without node ports drops the
ones left unchanged; ports no longer used return to the pool, and so do a removed Service's.

Simplification: no ``healthCheckNodePort`` (LoadBalancer with ``externalTrafficPolicy:
Local``), and the range is fixed (upstream's ``--service-node-port-range`` default).
"""

from __future__ import annotations

import random
from typing import Any

from podscaler.sim.apiserver.errors import InternalError, invalid

Obj = dict[str, Any]

FIRST, LAST = 30000, 32767


def needs_node_ports(spec: Obj) -> bool:
    kind = spec.get("type")
    if kind == "NodePort":
        return True
    return kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False


def _ports(spec: Obj) -> list[Obj]:
    ports = spec.get("ports")
    return [p for p in ports if isinstance(p, dict)] if isinstance(ports, list) else []


def used_by(service: Obj | None) -> set[int]:
    spec = (service or {}).get("spec")
    if not isinstance(spec, dict):
        return set()
    return {p["nodePort"] for p in _ports(spec) if isinstance(p.get("nodePort"), int)}


class NodePorts:
    """The node ports in use in one cluster."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.used: set[int] = set()

    def assign(self, service: Obj, old: Obj | None = None) -> None:
        """Fill in (in place) and reserve the node ports of ``service`` (a create when ``old``
        is None, else an update of ``old``); refuses (422) a port out of range or taken. Nothing
        is reserved or released when it refuses."""
        spec = service.get("spec")
        if not isinstance(spec, dict):
            return
        old_spec = (old or {}).get("spec")
        old_spec = old_spec if isinstance(old_spec, dict) else {}
        before = used_by(old)
        ports = _ports(spec)
        if needs_node_ports(spec):
            if old is not None and needs_node_ports(old_spec):
                by_name = {p.get("name", ""): p.get("nodePort") for p in _ports(old_spec)}
                sent = {p["nodePort"] for p in ports if isinstance(p.get("nodePort"), int)}
                for port in ports:
                    kept = by_name.get(port.get("name", ""))
                    if "nodePort" not in port and isinstance(kept, int) and kept not in sent:
                        port["nodePort"] = kept
        else:
            # upstream drops the node ports a type change leaves behind, unless changed
            old_by_name = {p.get("name", ""): p.get("nodePort") for p in _ports(old_spec)}
            for port in ports:
                if "nodePort" in port and port["nodePort"] == old_by_name.get(port.get("name", "")):
                    del port["nodePort"]
        self._check(service, ports, before)
        if needs_node_ports(spec):
            taken = self.used | {p["nodePort"] for p in ports if isinstance(p.get("nodePort"), int)}
            for port in ports:
                if not isinstance(port.get("nodePort"), int):
                    port["nodePort"] = self._free(taken)
                    taken.add(port["nodePort"])
        after = used_by(service)
        self.used -= before - after
        self.used |= after

    def release(self, service: Obj) -> None:
        self.used -= used_by(service)

    def _check(self, service: Obj, ports: list[Obj], before: set[int]) -> None:
        causes: list[tuple[str, str, str]] = []
        seen: set[int] = set()
        for index, port in enumerate(ports):
            value = port.get("nodePort")
            if value is None:
                continue
            field = f"spec.ports[{index}].nodePort"
            if not isinstance(value, int) or isinstance(value, bool):
                causes.append((field, "FieldValueInvalid", f"Invalid value: {value!r}"))
            elif not FIRST <= value <= LAST:
                causes.append(
                    (
                        field,
                        "FieldValueInvalid",
                        f"Invalid value: {value}: provided port is not in the valid range. "
                        f"The range of valid ports is {FIRST}-{LAST}",
                    )
                )
            elif value in seen:
                causes.append((field, "FieldValueDuplicate", f"Duplicate value: {value}"))
            elif value in self.used and value not in before:
                causes.append(
                    (
                        field,
                        "FieldValueInvalid",
                        f"Invalid value: {value}: provided port is already allocated",
                    )
                )
            if isinstance(value, int):
                seen.add(value)
        if causes:
            name = str((service.get("metadata") or {}).get("name") or "")
            raise invalid("Service", name, causes)

    def _free(self, taken: set[int]) -> int:
        if len(taken) >= LAST - FIRST + 1:
            raise InternalError("range is full: no node port left in 30000-32767")
        while True:
            port = self._rng.randint(FIRST, LAST)
            if port not in taken:
                return port
