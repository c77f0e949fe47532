"""Write options every create, update and patch carries: ``dryRun`` and ``fieldValidation``.

kube-apiserver validates both before it looks at the body (a bad value is 422 Invalid, naming
the options kind), and decodes built-in kinds into typed structs, which drops fields it does
not know: ``fieldValidation=Strict`` turns that into a 400, ``Warn`` (the server's default) into
a ``Warning`` header, ``Ignore`` into silence.

Deliberate simplification: the embedded server knows the fields of the top level and of
``metadata`` of the kinds in :data:`TOP_LEVEL`, and below ``spec`` the structs
``knownfields.py`` describes (workload specs, pod templates, pod specs, containers); an
unknown field deeper than those is kept as sent. Custom resources are pruned to their CRD's
schema instead (``schemas.py``). Fields sent twice in a JSON body are reported too (the last
one wins, as in Go's decoder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from podscaler.sim.apiserver import knownfields
from podscaler.sim.apiserver.defaulting import DEFAULTS
from podscaler.sim.apiserver.errors import BadRequest, invalid
from podscaler.sim.apiserver.resources import ResourceType

DIRECTIVES: Final = ("Ignore", "Warn", "Strict")

_METADATA: Final = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_OBJECT: Final = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})

#: (group, kind) → the fields its top level may hold.
TOP_LEVEL: Final[Mapping[tuple[str, str], frozenset[str]]] = {
    ("", "ConfigMap"): frozenset(
        {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}
    ),
    ("", "Secret"): frozenset(
        {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"}
    ),
    ("", "Namespace"): _OBJECT,
    ("policy", "PodDisruptionBudget"): _OBJECT,
    **{key: _OBJECT for key in DEFAULTS if key != ("", "Secret")},
}


def _options_kind(method: str) -> str:
    return {"POST": "CreateOptions", "PUT": "UpdateOptions"}.get(method, "PatchOptions")


def _unsupported(method: str, field: str, value: str, supported: str) -> Exception:
    return invalid(
        _options_kind(method),
        "",
        [
            (
                field,
                "FieldValueNotSupported",
                f'Unsupported value: "{value}": supported values: {supported}',
            )
        ],
        group="meta.k8s.io",
    )


def dry_run(values: list[str], method: str) -> bool:
    """Whether the write is a dry run; any ``dryRun`` value but ``All`` is refused (422)."""
    for value in values:
        if value != "All":
            raise _unsupported(method, "dryRun", value, '"All"')
    return bool(values)


def field_validation(query: Mapping[str, str], method: str) -> str:
    """The ``fieldValidation`` directive (default ``Warn``); an unknown one is refused (422)."""
    value = query.get("fieldValidation", "") or "Warn"
    if value not in DIRECTIVES:
        raise _unsupported(method, "fieldValidation", value, '"Ignore", "Warn", "Strict"')
    return value


def drop_unknown_fields(
    rt: ResourceType, obj: dict[str, Any], directive: str, duplicates: Sequence[str] = ()
) -> list[str]:
    """Remove the fields kube-apiserver would not decode; returns the warnings to send.

    ``duplicates`` are the paths of fields the body sent twice (the last one was kept, as
    Go's decoder keeps it). ``Strict`` refuses the body instead (400, upstream's wording).
    """
    messages = [f'duplicate field "{path}"' for path in duplicates]
    known = None if rt.custom else TOP_LEVEL.get((rt.group, rt.kind))
    found: list[tuple[str, dict[str, Any], str]] = []
    if known is not None:
        found.extend((field, obj, field) for field in sorted(f for f in obj if f not in known))
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            found.extend(
                (f"metadata.{field}", meta, field)
                for field in sorted(f for f in meta if f not in _METADATA)
            )
        spec_shape = knownfields.SPECS.get((rt.group, rt.kind))
        if spec_shape is not None and "spec" in known:
            found.extend(knownfields.unknown(obj.get("spec"), spec_shape, "spec"))
    messages.extend(f'unknown field "{path}"' for path, _holder, _key in found)
    if not messages:
        return []
    if directive == "Strict":
        raise BadRequest(f"strict decoding error: {', '.join(messages)}")
    for _path, holder, key in found:
        holder.pop(key, None)
    return messages if directive == "Warn" else []


def warning_header(messages: list[str]) -> str:
    """The ``Warning`` header value (RFC 7234 warn-code 299, as kube-apiserver sends)."""
    return ", ".join('299 - "' + _header_text(m) + '"' for m in messages)


def _header_text(text: str) -> str:
    """``text`` quoted for a header: backslashes and quotes escaped, anything outside
    printable ASCII (a field name may hold control characters) as a ``\\uXXXX`` escape."""
    out = []
    for char in text:
        if char in '\\"':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}")
    return "".join(out)
