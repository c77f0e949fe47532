"""What a ``--shard`` replica keeps of a ScaledObject another replica owns.

Every replica's informer lists and watches every ScaledObject (a replica must see the whole
set to know the targets' owners and to take objects over), but it works on about 1/N of them.
For the others it needs only what scheduling, target ownership and waking read: the metadata,
``spec.scaleTargetRef``, ``spec.pollingInterval``, ``status.observedGeneration`` and
``status.forecastHeadroom`` (the owner's offer to the node autoscaler). The
triggers, the advanced settings and most of the status (conditions, trigger activity, the last
decision) are dropped from the cached copy: at 10,000 objects over three replicas that was most
of a replica's informer cache.

The cut is made when the object enters the cache (an informer ``transform``), by the ownership
of that moment. An object that comes to this replica later may still have a slim copy (until its
next change); its first poll reads it in full from the API server first
(:meth:`~podscaler.controllers.scaledobject.controller.ScaledObjectController`), as a restarted
operator's list would. An object given away keeps its full copy until its next change.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["SLIM_MARK", "is_slim", "slim_scaled_object"]

#: Set on a slim copy (never sent anywhere: cached copies are read-only and never written).
SLIM_MARK: Final = "podscaler.io/slim"
_META_KEYS: Final = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "annotations",
    "finalizers",
)
_SPEC_KEYS: Final = ("scaleTargetRef", "pollingInterval")


def slim_scaled_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The slim copy of *obj* (see the module docstring)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    slim: dict[str, Any] = {
        SLIM_MARK: True,
        "metadata": {k: meta[k] for k in _META_KEYS if k in meta},
        "spec": {k: spec[k] for k in _SPEC_KEYS if k in spec} if isinstance(spec, dict) else {},
    }
    for key in ("apiVersion", "kind"):
        if key in obj:
            slim[key] = obj[key]
    if isinstance(status, dict):
        # forecastHeadroom: read by the node autoscaler wherever it runs (triggers/published)
        kept = {k: status[k] for k in ("observedGeneration", "forecastHeadroom") if k in status}
        if kept:
            slim["status"] = kept
    return slim


def is_slim(obj: dict[str, Any]) -> bool:
    return bool(obj.get(SLIM_MARK))
