"""Pods from templates, and the template hash that names a Deployment's ReplicaSets."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.state import WORKLOAD_ANNOTATION

__all__ = ["owner_reference", "pod_from_template", "template_hash"]

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj) -> str:
    """A stable, name-safe hash of a pod template (the ``pod-template-hash`` label).

    Upstream hashes the Go struct with FNV; any stable function of the template serves the
    same purpose (same template, same ReplicaSet), so the values differ from a real cluster's.
    """
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:10])


def owner_reference(owner: Obj) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(
    template: Obj,
    *,
    name: str,
    namespace: str,
    owner: Obj,
    workload: str,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    """A new pod as a workload controller creates it.

    The template's nested ``spec`` is shared, not copied: stored objects are never mutated, so
    sharing is safe and saves a deep copy per pod.
    """
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    if extra_labels:
        labels.update(extra_labels)
    annotations = dict(tmeta.get("annotations") or {})
    annotations[WORKLOAD_ANNOTATION] = workload
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(owner)],
        },
        "spec": template.get("spec") or {},
    }
