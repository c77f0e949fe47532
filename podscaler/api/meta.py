"""Object metadata, the API group, the base model every resource model shares, and annotations.

Annotations: podscaler reads its own names under ``autoscaling.podscaler.io/`` **and** KEDA's
names (``autoscaling.keda.sh/paused``, ``scaledobject.keda.sh/transfer-hpa-ownership`` …), so a
KEDA manifest ports by changing only ``apiVersion`` and keeps behaving the same, while new
manifests can use names that match the API group they belong to. When an object carries both
spellings of one annotation, podscaler's own spelling wins; :meth:`ObjectMeta.annotation` is the
one place that rule lives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Final, Union, get_args, get_origin

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from podscaler.api.sharedfields import SharedFieldsSet

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "DEFAULT_TARGET_API_VERSION",
    "DEFAULT_TARGET_KIND",
    "FORCE_ACTIVATION",
    "GROUP_VERSION",
    "HPA_EXCLUDED_LABELS",
    "JOB_EXCLUDED_LABELS",
    "KEDA_GROUP_VERSION",
    "PAUSED",
    "PAUSED_REPLICAS",
    "PAUSED_SCALE_IN",
    "PAUSED_SCALE_OUT",
    "SCALED_OBJECT_NAME_LABEL",
    "SKIP_HPA_OWNERSHIP_VALIDATION",
    "TRANSFER_HPA_OWNERSHIP",
    "Annotation",
    "ApiModel",
    "ObjectMeta",
    "OwnerReference",
    "SpecModel",
    "TargetReference",
]

API_GROUP: Final = "autoscaling.podscaler.io"
API_VERSION: Final = "v1alpha1"
GROUP_VERSION: Final = f"{API_GROUP}/{API_VERSION}"
#: KEDA's group/version: accepted on input so KEDA manifests validate unchanged.
KEDA_GROUP_VERSION: Final = "keda.sh/v1alpha1"
#: A ``scaleTargetRef`` without ``apiVersion`` or ``kind`` names a Deployment (KEDA's default,
#: and CPA's).
DEFAULT_TARGET_API_VERSION: Final = "apps/v1"
DEFAULT_TARGET_KIND: Final = "Deployment"


class ApiModel(SharedFieldsSet):
    """Base of every API model: camelCase names on the wire, snake_case in Python.

    ``populate_by_name`` lets code build models with Python names; ``by_alias`` dumping gives
    the Kubernetes JSON. Unknown fields are ignored here; :class:`SpecModel` forbids them.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The object as Kubernetes JSON: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class SpecModel(ApiModel):
    """Base of user-written parts (spec): an unknown field is an error, not silently dropped.

    The API server prunes unknown fields of a structural schema without a word; rejecting
    them here is what lets ``podscaler validate`` catch ``minReplicas`` written for
    ``minReplicaCount`` before the object is applied.

    Scalars are checked by their JSON type, as the CRD schema checks them: pydantic would read
    ``minReplicaCount: "1"`` as 1 and ``restoreToOriginalReplicaCount: "yes"`` as true, which
    the API server refuses ("must be of type integer"), so :meth:`_json_type` refuses them
    first. A whole number written as a float (``5.0``) stays an integer, as for the server.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _json_type(cls, value: Any, info: ValidationInfo) -> Any:
        expected = (
            _scalar_kind(cls.model_fields[info.field_name].annotation) if info.field_name else None
        )
        if expected is None or value is None:
            return value
        if expected == "boolean":
            if not isinstance(value, bool):
                raise ValueError(
                    f"must be true or false, got {_json_text(value)}{_quoted(value, expected)}"
                )
        elif isinstance(value, (bool, str)):
            noun = "an integer" if expected == "integer" else "a number"
            raise ValueError(f"must be {noun}, got {_json_text(value)}{_quoted(value, expected)}")
        return value


_SCALARS: Final[dict[Any, str]] = {int: "integer", float: "number", bool: "boolean"}


def _scalar_kind(annotation: Any) -> str | None:
    """``integer``, ``number`` or ``boolean`` when a field holds only that JSON type (``None``
    allowed); ``None`` for anything else (strings, unions such as int-or-string, models)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    members = (
        [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType)
        else [annotation]
    )
    kinds = {_SCALARS.get(member) for member in members}
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quoted(value: Any, expected: str) -> str:
    """The hint for a scalar YAML read as a string only because it was quoted (``"1"``,
    ``"true"``): the server wants the value itself."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if expected == "boolean":
        fits = text in ("true", "false")
    else:
        try:
            number = float(text)
        except ValueError:
            return ""
        fits = expected == "number" or number.is_integer()
    return (
        " (quoted, it is a string, which the API server refuses: remove the quotes)"
        if (fits)
        else ""
    )


class TargetReference(SpecModel):
    """A workload in the object's namespace, by kind and name (a ``scaleTargetRef``)."""

    name: str = Field(min_length=1, description="Name of the target, in the object's namespace.")
    api_version: str | None = Field(
        default=None, description="API version of the target; defaults to apps/v1."
    )
    kind: str | None = Field(
        default=None, description="Kind of the target; defaults to Deployment."
    )

    @property
    def effective_api_version(self) -> str:
        return self.api_version or DEFAULT_TARGET_API_VERSION

    @property
    def effective_kind(self) -> str:
        return self.kind or DEFAULT_TARGET_KIND


class OwnerReference(ApiModel):
    """The owner of an object (metav1.OwnerReference)."""

    model_config = ConfigDict(extra="allow")

    api_version: str = Field(description="API version of the owner.")
    kind: str = Field(description="Kind of the owner.")
    name: str = Field(description="Name of the owner.")
    uid: str = Field(description="UID of the owner.")
    controller: bool | None = Field(
        default=None, description="True if the owner is the controller."
    )
    block_owner_deletion: bool | None = Field(
        default=None, description="True if deleting the owner waits for this object."
    )


class ObjectMeta(ApiModel):
    """The parts of metav1.ObjectMeta podscaler reads; other fields are kept as they come."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, description="Name of the object.")
    generate_name: str | None = Field(default=None, description="Prefix for a generated name.")
    namespace: str | None = Field(default=None, description="Namespace of the object.")
    uid: str | None = Field(default=None, description="Unique id assigned by the API server.")
    resource_version: str | None = Field(default=None, description="Opaque version for watches.")
    generation: int | None = Field(default=None, description="Sequence number of spec changes.")
    creation_timestamp: datetime | None = Field(default=None, description="Creation time.")
    deletion_timestamp: datetime | None = Field(default=None, description="Deletion request time.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the object.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")
    finalizers: list[str] = Field(default_factory=list, description="Finalizers.")
    owner_references: list[OwnerReference] = Field(
        default_factory=list, description="Owners of the object."
    )

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _null_map_is_empty(cls, value: Any) -> Any:
        """``annotations:`` with nothing under it (a YAML null) is an empty map, as the API
        server reads it; exports of live objects and Helm output often carry one."""
        return {} if value is None else value

    @field_validator("finalizers", "owner_references", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    def annotation(self, which: Annotation) -> str | None:
        """The value of *which* under podscaler's name, else under KEDA's, else ``None``."""
        return which.lookup(self.annotations)

    def has_annotation(self, which: Annotation) -> bool:
        return any(key in self.annotations for key in which.names)


@dataclass(frozen=True)
class Annotation:
    """One annotation (or label) under podscaler's name and KEDA's."""

    podscaler: str
    keda: str

    @property
    def names(self) -> tuple[str, str]:
        """Both names, the one that wins first."""
        return (self.podscaler, self.keda)

    def lookup(self, annotations: Mapping[str, str] | None) -> str | None:
        """The value in *annotations* under podscaler's name, else KEDA's, else ``None``."""
        if annotations:
            for key in self.names:
                value = annotations.get(key)
                if value is not None:
                    return value
        return None


#: Pause at N replicas: stop scaling and hold the target at N. Presence pauses, whatever else.
PAUSED_REPLICAS: Final = Annotation(
    "autoscaling.podscaler.io/paused-replicas", "autoscaling.keda.sh/paused-replicas"
)
#: Pause at the current replica count; any value but a false boolean means true (as KEDA).
PAUSED: Final = Annotation("autoscaling.podscaler.io/paused", "autoscaling.keda.sh/paused")
#: Never scale in (never to 0/idle, and the HPA's scaleDown is disabled).
PAUSED_SCALE_IN: Final = Annotation(
    "autoscaling.podscaler.io/paused-scale-in", "autoscaling.keda.sh/paused-scale-in"
)
#: Never scale out (never activate from 0/idle, and the HPA's scaleUp is disabled).
PAUSED_SCALE_OUT: Final = Annotation(
    "autoscaling.podscaler.io/paused-scale-out", "autoscaling.keda.sh/paused-scale-out"
)
#: Treat the object as active whatever its triggers say.
FORCE_ACTIVATION: Final = Annotation(
    "autoscaling.podscaler.io/force-activation", "autoscaling.keda.sh/force-activation"
)
#: Adopt the existing HPA named in ``spec.advanced.horizontalPodAutoscalerConfig.name``.
TRANSFER_HPA_OWNERSHIP: Final = Annotation(
    "autoscaling.podscaler.io/transfer-hpa-ownership",
    "scaledobject.keda.sh/transfer-hpa-ownership",
)
#: On an HPA: ``"false"`` exempts it from the one-autoscaler-per-target admission check.
SKIP_HPA_OWNERSHIP_VALIDATION: Final = Annotation(
    "autoscaling.podscaler.io/hpa-ownership", "validations.keda.sh/hpa-ownership"
)
#: Comma-separated labels of the ScaledObject not copied to the generated HPA.
HPA_EXCLUDED_LABELS: Final = Annotation(
    "autoscaling.podscaler.io/hpa-excluded-labels", "scaledobject.keda.sh/hpa-excluded-labels"
)
#: Comma-separated labels of the ScaledJob not copied to the Jobs it creates (split on commas
#: exactly, as KEDA's ``generateJobs``: no trimming).
JOB_EXCLUDED_LABELS: Final = Annotation(
    "autoscaling.podscaler.io/job-excluded-labels", "scaledjob.keda.sh/job-excluded-labels"
)
#: Label carrying the ScaledObject name (on the object, its HPA, and external metric selectors).
SCALED_OBJECT_NAME_LABEL: Final = Annotation(
    "autoscaling.podscaler.io/scaledobject-name", "scaledobject.keda.sh/name"
)
