"""CustomResourceDefinitions generated from the models, and the generator of ``manifests/crds``.

The models are the single source of truth: :func:`crd_manifests` turns their JSON schema into
apiextensions.k8s.io/v1 *structural* schemas (every node typed, references inlined, nullability
dropped because the API omits unset fields, int-or-string for quantities, unknown fields kept
only where the models keep them). ``manifests/crds`` is the committed output; a unit test fails
when it drifts from the models. Regenerate with::

    python -m podscaler.api.crds manifests/crds
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from podscaler.api.meta import API_GROUP, API_VERSION, ApiModel
from podscaler.api.proportionalscaler import ProportionalScalerSpec, ProportionalScalerStatus
from podscaler.api.scaledjob import ScaledJobSpec, ScaledJobStatus
from podscaler.api.scaledobject import ScaledObjectSpec, ScaledObjectStatus
from podscaler.api.triggerauth import TriggerAuthenticationSpec, TriggerAuthenticationStatus
from podscaler.api.verticalcheckpoint import (
    VerticalScalerCheckpointSpec,
    VerticalScalerCheckpointStatus,
)
from podscaler.api.verticalscaler import VerticalScalerSpec, VerticalScalerStatus

__all__ = [
    "REGENERATE_COMMAND",
    "crd_file_name",
    "crd_manifests",
    "main",
    "render_crd",
    "structural_schema",
    "write_crds",
]

REGENERATE_COMMAND: Final = "python -m podscaler.api.crds manifests/crds"
CATEGORY: Final = "podscaler"

_HEADER: Final = (
    f"# Generated from podscaler.api models by `{REGENERATE_COMMAND}`; do not edit by hand.\n"
)


@dataclass(frozen=True)
class _Resource:
    kind: str
    plural: str
    short_name: str
    scope: str
    description: str
    spec: type[ApiModel]
    status: type[ApiModel]
    columns: list[dict[str, Any]] = field(default_factory=list)


def _condition_column(condition_type: str) -> dict[str, Any]:
    return {
        "name": condition_type,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="{condition_type}")].status',
        "description": f"Status of the {condition_type} condition.",
    }


_AGE: Final = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
    "description": "Time since creation.",
}
_TRIGGERS: Final = {
    "name": "Triggers",
    "type": "string",
    "jsonPath": ".spec.triggers[*].type",
    "description": "Trigger types.",
}
_AUTHENTICATIONS: Final = {
    "name": "Authentications",
    "type": "string",
    "jsonPath": ".spec.triggers[*].authenticationRef.name",
    "description": "TriggerAuthentications the triggers use.",
    "priority": 1,
}


def _auth_columns() -> list[dict[str, Any]]:
    return [
        {
            "name": "PodIdentity",
            "type": "string",
            "jsonPath": ".spec.podIdentity.provider",
            "description": "Workload identity provider.",
        },
        {
            "name": "Secret",
            "type": "string",
            "jsonPath": ".spec.secretTargetRef[*].name",
            "description": "Secrets parameters come from.",
        },
        {
            "name": "Env",
            "type": "string",
            "jsonPath": ".spec.env[*].name",
            "description": "Environment variables parameters come from.",
        },
        {
            "name": "VaultAddress",
            "type": "string",
            "jsonPath": ".spec.hashiCorpVault.address",
            "description": "HashiCorp Vault address.",
        },
        {
            "name": "ScaledObjects",
            "type": "string",
            "jsonPath": ".status.scaledobjects",
            "description": "ScaledObjects using this authentication.",
            "priority": 1,
        },
        {
            "name": "ScaledJobs",
            "type": "string",
            "jsonPath": ".status.scaledjobs",
            "description": "ScaledJobs using this authentication.",
            "priority": 1,
        },
        _AGE,
    ]


_RESOURCES: Final = (
    _Resource(
        kind="ScaledObject",
        plural="scaledobjects",
        short_name="so",
        scope="Namespaced",
        description=(
            "ScaledObject scales a workload (anything with a /scale subresource) from zero to N "
            "replicas on event triggers. KEDA's ScaledObject schema; podscaler extensions are "
            "under spec.advanced."
        ),
        spec=ScaledObjectSpec,
        status=ScaledObjectStatus,
        columns=[
            {
                "name": "ScaleTargetKind",
                "type": "string",
                "jsonPath": ".status.scaleTargetKind",
                "description": "Kind of the scaled workload.",
            },
            {
                "name": "ScaleTargetName",
                "type": "string",
                "jsonPath": ".spec.scaleTargetRef.name",
                "description": "Name of the scaled workload.",
            },
            {
                "name": "Min",
                "type": "integer",
                "jsonPath": ".spec.minReplicaCount",
                "description": "Minimum replicas while active.",
            },
            {
                "name": "Max",
                "type": "integer",
                "jsonPath": ".spec.maxReplicaCount",
                "description": "Maximum replicas.",
            },
            _condition_column("Ready"),
            _condition_column("Active"),
            _condition_column("Fallback"),
            _condition_column("Paused"),
            _TRIGGERS,
            _AUTHENTICATIONS,
            {
                "name": "Decision",
                "type": "string",
                "jsonPath": ".status.lastDecision.summary",
                "description": "The latest scaling decision and why (podscaler explain).",
                "priority": 1,
            },
            {
                "name": "Mode",
                "type": "string",
                "jsonPath": ".status.mode",
                "description": (
                    "direct (podscaler writes /scale) or hpa (an HPA does 1..N); from status, "
                    "so an object without spec.advanced shows its default, direct."
                ),
                "priority": 1,
            },
            _AGE,
        ],
    ),
    _Resource(
        kind="ScaledJob",
        plural="scaledjobs",
        short_name="sj",
        scope="Namespaced",
        description=(
            "ScaledJob runs Kubernetes Jobs for pending events on its triggers. KEDA's "
            "ScaledJob schema."
        ),
        spec=ScaledJobSpec,
        status=ScaledJobStatus,
        columns=[
            {
                "name": "Min",
                "type": "integer",
                "jsonPath": ".spec.minReplicaCount",
                "description": "Jobs kept running.",
            },
            {
                "name": "Max",
                "type": "integer",
                "jsonPath": ".spec.maxReplicaCount",
                "description": "Most Jobs at once.",
            },
            _condition_column("Ready"),
            _condition_column("Active"),
            _condition_column("Paused"),
            _TRIGGERS,
            _AUTHENTICATIONS,
            _AGE,
        ],
    ),
    _Resource(
        kind="TriggerAuthentication",
        plural="triggerauthentications",
        short_name="ta",
        scope="Namespaced",
        description=(
            "TriggerAuthentication says where the triggers of its namespace find their "
            "credentials. KEDA's TriggerAuthentication schema."
        ),
        spec=TriggerAuthenticationSpec,
        status=TriggerAuthenticationStatus,
        columns=_auth_columns(),
    ),
    _Resource(
        kind="ClusterTriggerAuthentication",
        plural="clustertriggerauthentications",
        short_name="cta",
        scope="Cluster",
        description=(
            "ClusterTriggerAuthentication says where triggers in any namespace find their "
            "credentials; Secrets are read from the operator's namespace. KEDA's schema."
        ),
        spec=TriggerAuthenticationSpec,
        status=TriggerAuthenticationStatus,
        columns=_auth_columns(),
    ),
    _Resource(
        kind="ProportionalScaler",
        plural="proportionalscalers",
        short_name="ps",
        scope="Namespaced",
        description=(
            "ProportionalScaler scales a cluster add-on with the size of the cluster: "
            "cluster-proportional-autoscaler's linear and ladder modes, from a typed spec or "
            "from an upstream CPA ConfigMap."
        ),
        spec=ProportionalScalerSpec,
        status=ProportionalScalerStatus,
        columns=[
            {
                "name": "Target",
                "type": "string",
                "jsonPath": ".spec.scaleTargetRef.name",
                "description": "Name of the scaled workload.",
            },
            {
                "name": "Mode",
                "type": "string",
                "jsonPath": ".status.mode",
                "description": "linear or ladder (of the parameters in force).",
            },
            {
                "name": "Nodes",
                "type": "integer",
                "jsonPath": ".status.schedulableNodes",
                "description": "Schedulable nodes counted.",
            },
            {
                "name": "Cores",
                "type": "integer",
                "jsonPath": ".status.schedulableCores",
                "description": "Allocatable cores of the schedulable nodes.",
            },
            {
                "name": "Replicas",
                "type": "integer",
                "jsonPath": ".status.replicas",
                "description": "Replicas chosen.",
            },
            _condition_column("Ready"),
            {**_condition_column("ParametersValid"), "priority": 1},
            {
                "name": "Decision",
                "type": "string",
                "jsonPath": ".status.lastDecision.rule",
                "description": "What decided the replicas (podscaler explain).",
                "priority": 1,
            },
            _AGE,
        ],
    ),
)

_VERTICAL_RESOURCES: Final = (
    _Resource(
        kind="VerticalScaler",
        plural="verticalscalers",
        short_name="vsc",
        scope="Namespaced",
        description=(
            "VerticalScaler right-sizes the CPU and memory requests of a workload's pods from "
            "their usage history. The upstream VerticalPodAutoscaler's spec and status: a VPA "
            "manifest ports by changing apiVersion and kind."
        ),
        spec=VerticalScalerSpec,
        status=VerticalScalerStatus,
        columns=[
            {
                "name": "Mode",
                "type": "string",
                "jsonPath": ".spec.updatePolicy.updateMode",
                "description": "How recommendations are applied (unset: Recreate).",
            },
            {
                "name": "CPU",
                "type": "string",
                "jsonPath": ".status.recommendation.containerRecommendations[0].target.cpu",
                "description": "Recommended CPU of the first container.",
            },
            {
                "name": "Mem",
                "type": "string",
                "jsonPath": ".status.recommendation.containerRecommendations[0].target.memory",
                "description": "Recommended memory of the first container.",
            },
            {
                "name": "Provided",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="RecommendationProvided")].status',
                "description": "Whether a recommendation is published.",
            },
            _condition_column("LowConfidence") | {"priority": 1},
            {
                "name": "Target",
                "type": "string",
                "jsonPath": ".spec.targetRef.name",
                "description": "Name of the right-sized workload.",
                "priority": 1,
            },
            _AGE,
        ],
    ),
    _Resource(
        kind="VerticalScalerCheckpoint",
        plural="verticalscalercheckpoints",
        short_name="vsccheckpoint",
        scope="Namespaced",
        description=(
            "VerticalScalerCheckpoint keeps the recommender's usage history of one container "
            "so a restart loses nothing. Upstream's VerticalPodAutoscalerCheckpoint layout "
            "(format v3); written by podscaler."
        ),
        spec=VerticalScalerCheckpointSpec,
        status=VerticalScalerCheckpointStatus,
        columns=[
            {
                "name": "Scaler",
                "type": "string",
                "jsonPath": ".spec.vpaObjectName",
                "description": "The VerticalScaler it belongs to.",
            },
            {
                "name": "Container",
                "type": "string",
                "jsonPath": ".spec.containerName",
                "description": "The container it remembers.",
            },
            {
                "name": "Samples",
                "type": "integer",
                "jsonPath": ".status.totalSamplesCount",
                "description": "CPU samples in the history.",
            },
            {
                "name": "Updated",
                "type": "date",
                "jsonPath": ".status.lastUpdateTime",
                "description": "When it was last saved.",
            },
        ],
    ),
)

#: JSON-schema keywords that have no place in a CRD schema.
_DROPPED_KEYWORDS: Final = frozenset({"title", "$defs", "examples"})


def _clean_text(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


def structural_schema(model: type[ApiModel]) -> dict[str, Any]:
    """The OpenAPI v3 structural schema of *model*, ready for a CRD."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.get("$defs", {})
    return _structural(raw, definitions)


def _structural(node: Mapping[str, Any], definitions: Mapping[str, Any]) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        merged = dict(target)
        merged.update(node)  # the field's own description wins over the class docstring
        node = merged
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        options = [option for option in node.pop("anyOf") if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot make a structural schema of anyOf {options}")
        option = _structural(options[0], definitions)
        option.update({key: value for key, value in node.items() if key != "default"})
        if node.get("default") is not None:
            option["default"] = node["default"]
        node = option
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS or (key == "default" and value is None):
            continue
        if key == "description":
            result[key] = _clean_text(str(value))
        elif key == "properties":
            result[key] = {name: _structural(child, definitions) for name, child in value.items()}
        elif key == "items":
            result[key] = _structural(value, definitions)
        elif key == "additionalProperties":
            if value is True:
                result["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, Mapping):
                result[key] = _structural(value, definitions)
            # ``false`` (extra="forbid") is the API server's pruning already.
        elif key in {"exclusiveMinimum", "exclusiveMaximum"} and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            result[bound] = value
            result[key] = True
        else:
            result[key] = copy.deepcopy(value)
    if "properties" in result and "additionalProperties" in result:
        del result["additionalProperties"]
    untyped = "type" not in result and not result.get("x-kubernetes-int-or-string")
    if untyped and ("properties" in result or "x-kubernetes-preserve-unknown-fields" in result):
        result["type"] = "object"
    return result


def _crd(resource: _Resource) -> dict[str, Any]:
    spec_schema = structural_schema(resource.spec)
    status_schema = structural_schema(resource.status)
    root = {
        "description": resource.description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "description": (
                    "APIVersion defines the versioned schema of this representation of an object."
                ),
                "type": "string",
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource.",
                "type": "string",
            },
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{resource.plural}.{API_GROUP}",
            "labels": {"app.kubernetes.io/part-of": "podscaler"},
        },
        "spec": {
            "group": API_GROUP,
            "names": {
                "kind": resource.kind,
                "listKind": f"{resource.kind}List",
                "plural": resource.plural,
                "singular": resource.kind.lower(),
                "shortNames": [resource.short_name],
                "categories": [CATEGORY],
            },
            "scope": resource.scope,
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(resource.columns),
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def crd_manifests() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition (ScaledObject, ScaledJob, TriggerAuthentication,
    ClusterTriggerAuthentication, ProportionalScaler, VerticalScaler, VerticalScalerCheckpoint)
    as apiextensions.k8s.io/v1 dicts."""
    return [_crd(resource) for resource in (*_RESOURCES, *_VERTICAL_RESOURCES)]


def crd_file_name(crd: Mapping[str, Any]) -> str:
    """``<group>_<plural>.yaml``, as controller-gen names them."""
    spec = crd["spec"]
    return f"{spec['group']}_{spec['names']['plural']}.yaml"


def render_crd(crd: Mapping[str, Any]) -> str:
    """The committed YAML text of *crd*."""
    body = yaml.safe_dump(dict(crd), sort_keys=False, default_flow_style=False, width=100)
    return _HEADER + "---\n" + body


def write_crds(directory: Path) -> list[Path]:
    """Write every CRD into *directory*; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in crd_manifests():
        path = directory / crd_file_name(crd)
        path.write_text(render_crd(crd), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m podscaler.api.crds DIRECTORY``: (re)generate the CRD manifests."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            f"usage: {REGENERATE_COMMAND.replace('manifests/crds', 'DIRECTORY')}", file=sys.stderr
        )
        return 2
    for path in write_crds(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
