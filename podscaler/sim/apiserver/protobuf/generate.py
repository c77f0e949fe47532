"""Regenerate ``schema.json`` from Kubernetes' published protobuf and Go type definitions.

Run (from checkouts of k8s.io/api and k8s.io/apimachinery)::

    python -m podscaler.sim.apiserver.protobuf.generate --api ../api \
        --apimachinery ../apimachinery --release v0.35.7

(``schema.json`` records the release it was generated from; v0.35.7 of both today.)

The schema holds facts only: for each message the kinds in :data:`ROOTS` reach, each field's
number, its JSON name, its type, and how Go's JSON encoding treats it. Two sources are needed
because neither says everything:

* ``generated.proto`` gives field numbers and wire types;
* the Go structs (``types.go`` and friends) say what the proto does not: whether a field is a
  pointer (sent only when set, so a zero on the wire is meaningful, e.g. ``replicas: 0``),
  whether its JSON tag has ``omitempty`` (a zero value of a plain field is then left out, as
  ``encoding/json`` does), and whether an embedded struct is inlined into its parent's JSON
  (``Volume`` carries its ``VolumeSource`` fields, ``Probe`` its ``ProbeHandler``'s).

Field numbers never change upstream (protobuf compatibility), so a schema generated from a
newer release decodes what older clients send.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

#: The kinds decoded: every built-in kind the embedded API server stores, keyed by
#: ``apiVersion/kind`` → (proto package short name, message).
ROOTS: dict[str, str] = {
    "v1/Namespace": "core/v1.Namespace",
    "v1/Pod": "core/v1.Pod",
    "v1/Node": "core/v1.Node",
    "v1/Service": "core/v1.Service",
    "v1/ConfigMap": "core/v1.ConfigMap",
    "v1/Secret": "core/v1.Secret",
    "v1/Event": "core/v1.Event",
    "v1/ServiceAccount": "core/v1.ServiceAccount",
    "v1/Endpoints": "core/v1.Endpoints",
    "v1/Binding": "core/v1.Binding",
    "policy/v1/Eviction": "policy/v1.Eviction",
    "apps/v1/Deployment": "apps/v1.Deployment",
    "apps/v1/ReplicaSet": "apps/v1.ReplicaSet",
    "apps/v1/StatefulSet": "apps/v1.StatefulSet",
    "apps/v1/DaemonSet": "apps/v1.DaemonSet",
    "batch/v1/Job": "batch/v1.Job",
    "batch/v1/CronJob": "batch/v1.CronJob",
    "autoscaling/v2/HorizontalPodAutoscaler": "autoscaling/v2.HorizontalPodAutoscaler",
    "autoscaling/v1/HorizontalPodAutoscaler": "autoscaling/v1.HorizontalPodAutoscaler",
    "autoscaling/v1/Scale": "autoscaling/v1.Scale",
    "policy/v1/PodDisruptionBudget": "policy/v1.PodDisruptionBudget",
    "coordination.k8s.io/v1/Lease": "coordination/v1.Lease",
    "scheduling.k8s.io/v1/PriorityClass": "scheduling/v1.PriorityClass",
    "discovery.k8s.io/v1/EndpointSlice": "discovery/v1.EndpointSlice",
    "rbac.authorization.k8s.io/v1/Role": "rbac/v1.Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "rbac/v1.RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRole": "rbac/v1.ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "rbac/v1.ClusterRoleBinding",
    "events.k8s.io/v1/Event": "events/v1.Event",
    "authentication.k8s.io/v1/TokenReview": "authentication/v1.TokenReview",
    "authorization.k8s.io/v1/SubjectAccessReview": "authorization/v1.SubjectAccessReview",
    "meta.k8s.io/v1/DeleteOptions": "meta/v1.DeleteOptions",
}

#: Directories (relative to the k8s.io/api or k8s.io/apimachinery checkout) → short package.
API_PACKAGES = (
    "core/v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "policy/v1",
    "coordination/v1",
    "scheduling/v1",
    "discovery/v1",
    "rbac/v1",
    "events/v1",
    "authentication/v1",
    "authorization/v1",
)
MACHINERY_PACKAGES = {
    "pkg/apis/meta/v1": "meta/v1",
    "pkg/util/intstr": "intstr",
    "pkg/api/resource": "resource",
    "pkg/runtime": "runtime",
    "pkg/runtime/schema": "schema",
}

_SCALARS = {
    "string",
    "bytes",
    "bool",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "sint32",
    "sint64",
    "double",
    "float",
    "fixed32",
    "fixed64",
}
#: The scalar types the decoder handles (all the kinds above use); the generator refuses others.
DECODED_SCALARS = frozenset({"string", "bytes", "bool", "int32", "int64"})
_MESSAGE_RE = re.compile(r"^message (\w+) \{$")
_FIELD_RE = re.compile(r"^\s*(optional|repeated) ([\w.]+) (\w+) = (\d+);")
_MAP_RE = re.compile(r"^\s*map<([\w.]+), ([\w.]+)> (\w+) = (\d+);")
_PACKAGE_RE = re.compile(r"^package ([\w.]+);")
_STRUCT_RE = re.compile(r"^type (\w+) struct \{")
_SLICE_TYPE_RE = re.compile(r"^type (\w+) \[\](\w+)\s*$")
_GO_FIELD_RE = re.compile(r"^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`([^`]*)`")
_TAG_RE = re.compile(r'(\w+):"([^"]*)"')


@dataclass
class GoField:
    json_name: str
    pointer: bool
    omitempty: bool
    inline: bool


@dataclass
class ProtoField:
    number: int
    name: str
    type: str
    repeated: bool = False
    map_key: str | None = None


@dataclass
class Message:
    fields: list[ProtoField] = field(default_factory=list)


def _short_package(proto_package: str) -> str:
    if proto_package.startswith("k8s.io.api."):
        return proto_package.removeprefix("k8s.io.api.").replace(".", "/")
    tail = proto_package.removeprefix("k8s.io.apimachinery.pkg.")
    for path, short in MACHINERY_PACKAGES.items():
        if path.removeprefix("pkg/").replace("/", ".") == tail:
            return short
    raise ValueError(f"unknown proto package {proto_package}")


def _qualify(type_name: str, package: str) -> str:
    if type_name in _SCALARS:
        return type_name
    if type_name.startswith("."):
        pkg, _, name = type_name[1:].rpartition(".")
        return f"{_short_package(pkg)}.{name}"
    return f"{package}.{type_name}"


def parse_proto(text: str) -> dict[str, Message]:
    package = ""
    messages: dict[str, Message] = {}
    current: Message | None = None
    for line in text.splitlines():
        if m := _PACKAGE_RE.match(line):
            package = _short_package(m.group(1))
        elif m := _MESSAGE_RE.match(line):
            current = messages[f"{package}.{m.group(1)}"] = Message()
        elif line.startswith("}"):
            current = None
        elif current is not None and (m := _FIELD_RE.match(line)):
            label, type_name, name, number = m.groups()
            current.fields.append(
                ProtoField(int(number), name, _qualify(type_name, package), label == "repeated")
            )
        elif current is not None and (m := _MAP_RE.match(line)):
            key, value, name, number = m.groups()
            current.fields.append(
                ProtoField(int(number), name, _qualify(value, package), map_key=key)
            )
    return messages


def parse_go(text: str, package: str) -> tuple[dict[tuple[str, str], GoField], set[str]]:
    """Struct fields by (message, proto field name), and the named slice types."""
    fields: dict[tuple[str, str], GoField] = {}
    slices: set[str] = set()
    struct: str | None = None
    for line in text.splitlines():
        if m := _STRUCT_RE.match(line):
            struct = m.group(1)
            continue
        if m := _SLICE_TYPE_RE.match(line):
            slices.add(f"{package}.{m.group(1)}")
            continue
        if line.startswith("}"):
            struct = None
            continue
        if struct is None or not (m := _GO_FIELD_RE.match(line)):
            continue
        go_name, go_type, tag_text = m.groups()
        tags = dict(_TAG_RE.findall(tag_text))
        proto_tag = tags.get("protobuf")
        if not proto_tag:
            continue
        proto_name = next(
            (p.removeprefix("name=") for p in proto_tag.split(",") if p.startswith("name=")), ""
        )
        json_parts = tags.get("json", "").split(",")
        json_name = json_parts[0]
        fields[(f"{package}.{struct}", proto_name)] = GoField(
            json_name=json_name,
            pointer=go_type.startswith("*"),
            omitempty="omitempty" in json_parts[1:],
            inline=go_name is None and json_name == "",
        )
    return fields, slices


def build(api: Path, machinery: Path) -> dict[str, object]:
    messages: dict[str, Message] = {}
    go_fields: dict[tuple[str, str], GoField] = {}
    slices: set[str] = set()
    dirs = [(api / d, d) for d in API_PACKAGES] + [
        (machinery / d, short) for d, short in MACHINERY_PACKAGES.items()
    ]
    for directory, short in dirs:
        messages.update(parse_proto((directory / "generated.proto").read_text()))
        for go_file in sorted(directory.glob("*.go")):
            if go_file.name.endswith("_test.go") or go_file.name.startswith("zz_generated"):
                continue
            found, named = parse_go(go_file.read_text(), short)
            go_fields.update(found)
            slices |= named
    out: dict[str, object] = {}
    pending = list(ROOTS.values())
    while pending:
        name = pending.pop()
        if name in out:
            continue
        message = messages[name]
        entries: dict[str, list[str]] = {}
        for f in message.fields:
            go = go_fields.get((name, f.name))
            flags = ""
            if f.repeated:
                flags += "r"
            if f.map_key is not None:
                flags += "m"
            if go is not None:
                if go.inline:
                    flags += "i"
                if go.pointer:
                    flags += "p"
                elif not go.omitempty:
                    flags += "k"
            json_name = go.json_name if go is not None and go.json_name else f.name
            if f.map_key not in (None, "string"):
                raise ValueError(f"{name}.{f.name}: only string map keys are supported")
            if f.type in _SCALARS and f.type not in DECODED_SCALARS:
                raise ValueError(f"{name}.{f.name}: scalar type {f.type} is not decoded")
            entries[str(f.number)] = [json_name, f.type, flags]
            if f.type not in _SCALARS:
                pending.append(f.type)
        record: dict[str, object] = {"fields": entries}
        if name in slices:
            record["list"] = True
        out[name] = record
    return {"kinds": ROOTS, "messages": dict(sorted(out.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--api", type=Path, required=True, help="a k8s.io/api checkout")
    parser.add_argument("--apimachinery", type=Path, required=True)
    parser.add_argument(
        "--release", required=True, help="the checkouts' release, recorded in the schema"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("schema.json"), help="output file"
    )
    args = parser.parse_args()
    schema = {"release": args.release, **build(args.api, args.apimachinery)}
    args.out.write_text(render(schema))


def render(schema: dict[str, object]) -> str:
    """JSON with one kind or message per line: small diffs when upstream adds a field."""
    lines = [f'"release": {json.dumps(schema["release"])}']
    for section in ("kinds", "messages"):
        items = schema[section]
        assert isinstance(items, dict)
        body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in items.items())
        lines.append(f'"{section}": {{\n{body}\n}}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


if __name__ == "__main__":
    main()
