"""CustomResourceDefinitions: from a stored CRD object to a served resource.

Upstream, a CRD becomes served after the apiextensions controllers accept its names and mark
it Established, a moment later. Here that happens in the same request: the CRD's status says
Established and NamesAccepted as soon as it is stored, and its resource is in discovery and
routing at once.

Deliberate simplifications: only the storage version is served (no conversion webhooks, no
multi-version serving); schemas serve OpenAPI and prune and validate custom resources
(``schemas.py``), but their ``default`` values are not applied.
"""

from __future__ import annotations

from typing import Any

from podscaler.sim.apiserver.errors import invalid
from podscaler.sim.apiserver.resources import ResourceType, ScalePaths
from podscaler.sim.apiserver.store import Obj


def _served_version(spec: dict[str, Any]) -> dict[str, Any] | None:
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    for v in versions:
        if v.get("storage"):
            return v
    for v in versions:
        if v.get("served", True):
            return v
    return None


def validate(crd: Obj) -> None:
    spec: dict[str, Any] = crd["spec"] if isinstance(crd.get("spec"), dict) else {}
    names: dict[str, Any] = spec["names"] if isinstance(spec.get("names"), dict) else {}
    name = str((crd.get("metadata") or {}).get("name", ""))
    causes: list[tuple[str, str, str]] = []
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not group:
        causes.append(("spec.group", "FieldValueRequired", "Required value"))
    if not plural:
        causes.append(("spec.names.plural", "FieldValueRequired", "Required value"))
    if not kind:
        causes.append(("spec.names.kind", "FieldValueRequired", "Required value"))
    if group and plural and name != f"{plural}.{group}":
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "spec.scope",
                "FieldValueNotSupported",
                'Unsupported value: must be "Cluster" or "Namespaced"',
            )
        )
    if _served_version(spec) is None:
        causes.append(
            (
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if causes:
        raise invalid("CustomResourceDefinition", name, causes, group="apiextensions.k8s.io")


def resource_type(crd: Obj) -> ResourceType:
    spec = crd["spec"]
    names = spec["names"]
    version = _served_version(spec)
    assert version is not None
    subresources = version.get("subresources") or spec.get("subresources") or {}
    subs: set[str] = set()
    scale: ScalePaths | None = None
    if "status" in subresources:
        subs.add("status")
    if isinstance(subresources.get("scale"), dict):
        s = subresources["scale"]
        subs.add("scale")
        scale = ScalePaths(
            spec_replicas=str(s.get("specReplicasPath", ".spec.replicas")),
            status_replicas=str(s.get("statusReplicasPath", ".status.replicas")),
            label_selector=s.get("labelSelectorPath"),
            selector_is_structured=False,
        )
    columns = version.get("additionalPrinterColumns") or spec.get("additionalPrinterColumns") or []
    schema = (version.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")
    return ResourceType(
        group=str(spec["group"]),
        version=str(version["name"]),
        resource=str(names["plural"]),
        kind=str(names["kind"]),
        namespaced=spec.get("scope") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        subresources=frozenset(subs),
        scale=scale,
        custom=True,
        printer_columns=tuple(c for c in columns if isinstance(c, dict)),
        schema=schema if isinstance(schema, dict) else None,
    )


def accepted_status(crd: Obj, now: str) -> dict[str, Any]:
    """The status the apiextensions controllers would write once they accept the CRD."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", str(names["kind"]).lower())
    names.setdefault("listKind", f"{names['kind']}List")
    stored = [str(v["name"]) for v in spec.get("versions") or [] if v.get("storage")]

    def cond(type_: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": type_,
            "status": "True",
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    return {
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    }
