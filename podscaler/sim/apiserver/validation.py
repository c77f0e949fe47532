"""Per-kind validation the embedded API server applies on create and update (422 Invalid).

Only the checks that catch real client bugs are modelled — a workload whose selector does not
select its own template, a pod without containers, negative replicas, ConfigMap or Secret data
over 1 MiB — not the full upstream validation; custom resources are pruned and validated
against their CRD's schema (``schemas.py``). Names are checked where objects are created
(``names.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from podscaler.api.selectors import LabelSelector, SelectorError
from podscaler.sim.apiserver import schemas
from podscaler.sim.apiserver.errors import invalid
from podscaler.sim.apiserver.resources import ResourceType

_WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
}


#: The most ConfigMap or Secret data kube-apiserver stores (``corev1.MaxSecretSize``, 1 MiB).
MAX_DATA_BYTES: Final = 1024 * 1024


def validate(rt: ResourceType, obj: dict[str, Any], *, subresource: str | None = None) -> None:
    """Refuse (422) what kube-apiserver's validation refuses, for a write of ``subresource``
    (None: the object itself). Custom resources are pruned to their schema first, in place."""
    causes: list[tuple[str, str, str]] = []
    spec = obj.get("spec")
    if subresource is None:
        causes.extend(_labels(obj.get("metadata")))
        if (rt.group, rt.kind) in _WORKLOADS:
            causes.extend(_workload(spec if isinstance(spec, dict) else {}))
        elif (rt.group, rt.kind) == ("", "Pod"):
            causes.extend(_pod_spec(spec if isinstance(spec, dict) else {}, "spec"))
        elif (rt.group, rt.kind) == ("batch", "Job"):
            causes.extend(_job(spec if isinstance(spec, dict) else {}))
        elif (rt.group, rt.kind) in (("", "ConfigMap"), ("", "Secret")):
            causes.extend(_data_keys(rt.kind, obj))
            causes.extend(_data_size(rt.kind, obj))
    if rt.custom and rt.schema is not None:
        causes.extend(_custom(rt, obj, subresource))
    if causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise invalid(rt.kind, name, causes, group=rt.group)


def _job(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(pod, dict):
        return [("spec.template.spec.containers", "FieldValueRequired", "Required value")]
    causes = _pod_spec(pod, "spec.template.spec")
    policy = pod.get("restartPolicy")
    if policy is not None and policy not in ("OnFailure", "Never"):
        causes.append(
            (
                "spec.template.spec.restartPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        )
    return causes


#: Pod spec fields an update may change (upstream's list; container resources too, as with
#: in-place pod resize).
_MUTABLE_POD_FIELDS: Final = frozenset(
    {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"}
)
_MUTABLE_CONTAINER_FIELDS: Final = frozenset({"image", "resources"})


def validate_update(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Refuse (422) an update of a field kube-apiserver keeps immutable: a Service's cluster
    IP, a Pod's spec (but images, resources and the few mutable fields), a Job's template and
    selector."""
    if rt.custom:
        return
    old_spec, new_spec = old.get("spec"), new.get("spec")
    if not isinstance(old_spec, dict) or not isinstance(new_spec, dict):
        return
    causes: list[tuple[str, str, str]] = []
    key = (rt.group, rt.kind)
    if key == ("", "Service"):
        before, after = old_spec.get("clusterIP"), new_spec.get("clusterIP")
        if before and after != before and new_spec.get("type") != "ExternalName":
            causes.append(("spec.clusterIP", "FieldValueInvalid", _IMMUTABLE))
    elif key == ("", "Pod"):
        if _pod_comparable(old_spec) != _pod_comparable(new_spec):
            causes.append(
                (
                    "spec",
                    "FieldValueForbidden",
                    "Forbidden: pod updates may not change fields other than "
                    "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                    "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to "
                    "existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to "
                    "be set to 1 if it was previously negative)",
                )
            )
    elif key == ("batch", "Job"):
        for field in ("template", "selector"):
            if old_spec.get(field) != new_spec.get(field):
                causes.append((f"spec.{field}", "FieldValueInvalid", _IMMUTABLE))
    if causes:
        name = str((new.get("metadata") or {}).get("name") or "")
        raise invalid(rt.kind, name, causes, group=rt.group)


_IMMUTABLE: Final = "Invalid value: field is immutable"


def _pod_comparable(spec: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if k not in _MUTABLE_POD_FIELDS}
    for key in ("containers", "initContainers"):
        items = spec.get(key)
        if isinstance(items, list):
            out[key] = [
                {k: v for k, v in c.items() if k not in _MUTABLE_CONTAINER_FIELDS}
                if isinstance(c, dict)
                else c
                for c in items
            ]
    return out


def _workload(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(
            (
                "spec.replicas",
                "FieldValueInvalid",
                f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            )
        )
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
        return causes
    try:
        parsed = LabelSelector.from_dict(selector)
    except SelectorError as exc:
        causes.append(("spec.selector", "FieldValueInvalid", f"Invalid value: {exc}"))
        return causes
    if parsed.is_empty:
        causes.append(
            (
                "spec.selector",
                "FieldValueInvalid",
                "Invalid value: empty selector is invalid for deployment",
            )
        )
    template: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not parsed.is_empty and not parsed.matches(labels):
        causes.append(
            (
                "spec.template.metadata.labels",
                "FieldValueInvalid",
                f"Invalid value: {labels!r}: `selector` does not match template `labels`",
            )
        )
    causes.extend(_pod_spec(template.get("spec") or {}, "spec.template.spec"))
    return causes


def _pod_spec(spec: dict[str, Any], where: str) -> list[tuple[str, str, str]]:
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{where}.containers", "FieldValueRequired", "Required value")]
    causes = []
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append((f"{where}.containers[{i}].name", "FieldValueRequired", "Required value"))
        elif not container.get("image"):
            causes.append(
                (f"{where}.containers[{i}].image", "FieldValueRequired", "Required value")
            )
    return causes


def _data_size(kind: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """ConfigMap data plus binaryData, or Secret data (decoded) plus stringData, over 1 MiB."""
    if kind == "ConfigMap":
        total = sum(len(str(v).encode()) for v in _values(obj, "data"))
        total += sum(_decoded_length(v) for v in _values(obj, "binaryData"))
        field = "[]"
    else:
        total = sum(_decoded_length(v) for v in _values(obj, "data"))
        total += sum(len(str(v).encode()) for v in _values(obj, "stringData"))
        field = "data"
    if total <= MAX_DATA_BYTES:
        return []
    return [(field, "FieldValueTooLong", f"Too long: must have at most {MAX_DATA_BYTES} bytes")]


_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _quoted(value: str) -> str:
    """A value as Go's ``%q`` prints it in field errors (close enough for printable text)."""
    return json.dumps(value, ensure_ascii=False)


def _labels(meta: Any) -> list[tuple[str, str, str]]:
    """Label keys (qualified names) and values (at most 63 characters, alphanumeric ends),
    worded as upstream's ``ValidateLabels``."""
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, dict):
        return []
    causes: list[tuple[str, str, str]] = []
    for key, value in labels.items():
        for problem in _qualified_name_problems(str(key)):
            causes.append(
                (
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(key)}: {problem}",
                )
            )
        text = "" if value is None else str(value)
        problems = []
        if len(text) > 63:
            problems.append("must be no more than 63 characters")
        if not _LABEL_VALUE.fullmatch(text):
            problems.append(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                f"'{_LABEL_VALUE.pattern}')"
            )
        for problem in problems:
            causes.append(
                (
                    "metadata.labels",
                    "FieldValueInvalid",
                    f"Invalid value: {_quoted(text)}: {problem}",
                )
            )
    return causes


def _qualified_name_problems(key: str) -> list[str]:
    """Upstream's ``IsQualifiedName``: an optional DNS-subdomain prefix, a slash, a name part."""
    prefix, slash, name = key.rpartition("/")
    problems: list[str] = []
    if slash:
        if not prefix:
            problems.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            problems.append("prefix part must be no more than 253 characters")
        elif not _DNS_SUBDOMAIN.fullmatch(prefix):
            problems.append(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for validation is "
                f"'{_DNS_SUBDOMAIN.pattern}')"
            )
    if not name:
        problems.append("name part must be non-empty")
        return problems
    if len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    if not _NAME_PART.fullmatch(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            f"'123-abc', regex used for validation is '{_NAME_PART.pattern}')"
        )
    return problems


def _data_keys(kind: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """ConfigMap and Secret keys, as upstream's ``IsConfigMapKey`` words their problems."""
    fields = ("data", "binaryData") if kind == "ConfigMap" else ("data", "stringData")
    causes: list[tuple[str, str, str]] = []
    for field in fields:
        found = obj.get(field)
        if not isinstance(found, dict):
            continue
        for key in found:
            text = str(key)
            problems = []
            if len(text) > 253:
                problems.append("must be no more than 253 characters")
            if not _CONFIG_KEY.fullmatch(text):
                problems.append(
                    "a valid config key must consist of alphanumeric characters, '-', '_' or "
                    "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                    f"validation is '{_CONFIG_KEY.pattern}')"
                )
            if text == ".":
                problems.append("must not be '.'")
            elif text == "..":
                problems.append("must not be '..'")
            elif text.startswith(".."):
                problems.append("must not start with '..'")
            causes.extend(
                (f"{field}[{text}]", "FieldValueInvalid", f"Invalid value: {_quoted(text)}: {p}")
                for p in problems
            )
    return causes


def _values(obj: dict[str, Any], key: str) -> list[Any]:
    found = obj.get(key)
    return list(found.values()) if isinstance(found, dict) else []


def _decoded_length(value: Any) -> int:
    text = str(value)
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return len(text.encode())


def _custom(
    rt: ResourceType, obj: dict[str, Any], subresource: str | None
) -> list[tuple[str, str, str]]:
    schema = rt.schema
    assert schema is not None
    if subresource == "status":
        properties = schema.get("properties")
        status_schema = properties.get("status") if isinstance(properties, dict) else None
        if "status" not in obj or not isinstance(status_schema, dict):
            return []
        schemas.prune(obj["status"], status_schema)
        return schemas.validate(obj["status"], status_schema, "status")
    if subresource is not None:
        return []
    schemas.prune(obj, schema, root=True)
    checked = obj
    if "status" in rt.subresources and "status" in obj:
        # The stored status is kept on this write whatever the body says (status subresource).
        checked = {k: v for k, v in obj.items() if k != "status"}
    return schemas.validate(checked, schema, root=True)
