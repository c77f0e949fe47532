"""cluster-proportional-autoscaler's own flags, for users replacing a CPA Deployment.

``podscaler run --configmap dns-autoscaler --target deployment/coredns --namespace kube-system``
does what ``cluster-proportional-autoscaler`` with the same flags does: it scales each target
in the namespace from the ConfigMap's parameters (created from ``--default-params`` when
missing), counting the nodes ``--nodelabels`` selects. The targets behave as ProportionalScalers
that exist only in the operator (no object, so no status; Events regard the target).

Parsing follows upstream's ``options`` package: targets are ``kind/name``, comma-separated,
case-insensitive, of the kinds deployment, replicationcontroller and replicaset;
``--default-params`` is a JSON object of mode to parameters whose values are re-marshalled to
JSON strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.api.flags import flag
from podscaler.api.selectors import LabelSelector, SelectorError, parse_label_selector

__all__ = [
    "CpaFlags",
    "FlagError",
    "FlagTarget",
    "ProportionalOptions",
    "parse_default_params",
    "parse_targets",
]

#: ``--target`` kinds as upstream's flag validation accepts them, with their API types.
TARGET_KINDS: Final = {
    "deployment": ("apps/v1", "Deployment"),
    "replicaset": ("apps/v1", "ReplicaSet"),
    "replicationcontroller": ("v1", "ReplicationController"),
}


class FlagError(ValueError):
    """A CPA flag podscaler cannot use; the message names the flag."""


@dataclass(frozen=True)
class FlagTarget:
    api_version: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class CpaFlags:
    """``--configmap``, ``--target``, ``--namespace``, ``--nodelabels`` and
    ``--default-params`` after parsing."""

    configmap: str
    namespace: str
    targets: tuple[FlagTarget, ...]
    node_selector: LabelSelector = field(default_factory=LabelSelector.everything)
    default_params: dict[str, str] | None = None

    @classmethod
    def parse(
        cls,
        *,
        configmap: str,
        target: str,
        namespace: str | None,
        nodelabels: str = "",
        default_params: str | None = None,
    ) -> CpaFlags:
        if not configmap:
            raise FlagError("--configmap parameter cannot be empty")
        if not namespace:
            raise FlagError(
                "--namespace parameter not set and failed to fallback (MY_POD_NAMESPACE)"
            )
        try:
            selector = (
                parse_label_selector(nodelabels) if nodelabels else LabelSelector.everything()
            )
        except SelectorError as exc:
            raise FlagError(f"--nodelabels: {exc}") from exc
        return cls(
            configmap=configmap,
            namespace=namespace,
            targets=parse_targets(target),
            node_selector=selector,
            default_params=parse_default_params(default_params) if default_params else None,
        )


def parse_targets(text: str) -> tuple[FlagTarget, ...]:
    """``deployment/a,replicaset/b`` (case-insensitive) as upstream's ``--target``."""
    if not text:
        raise FlagError("--target parameter cannot be empty")
    targets = []
    for raw in text.lower().split(","):
        item = raw.strip()
        kind, slash, name = item.partition("/")
        if not slash or "/" in name or not name or kind not in TARGET_KINDS:
            raise FlagError(
                f"--target {text!r}: please use 'deployment/*,replicationcontroller/*,"
                "replicaset/*' (not case sensitive, comma delimiter supported)"
            )
        api_version, api_kind = TARGET_KINDS[kind]
        targets.append(FlagTarget(api_version, api_kind, name))
    return tuple(targets)


def parse_default_params(text: str) -> dict[str, str]:
    """``--default-params``: ``{"linear": {...}}`` → ``{"linear": "{...}"}`` (ConfigMap data)."""
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        raise FlagError(f"--default-params is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise FlagError("--default-params must be a JSON object of mode to parameters")
    return {
        str(mode): json.dumps(params, separators=(",", ":"), sort_keys=True)
        for mode, params in raw.items()
    }


@dataclass(frozen=True)
class ProportionalOptions:
    """``podscaler run``'s proportional scaling flags, CPA's own among them, declared once
    (:mod:`podscaler.api.flags`): users replacing a cluster-proportional-autoscaler Deployment
    keep its arguments. ``--namespace`` (podscaler's option, which also narrows what the other
    controllers watch) names the namespace of the ConfigMap and targets, falling back to
    ``$MY_POD_NAMESPACE`` as CPA does (the command resolves it)."""

    proportional: bool | None = flag(
        None,
        negatable=True,
        help="Watch ProportionalScalers (default: when their CRD is installed).",
    )
    configmap: str | None = flag(
        None,
        help="cluster-proportional-autoscaler's flag: the ConfigMap holding linear or ladder "
        "parameters; with --target.",
    )
    target: str | None = flag(
        None,
        help="cluster-proportional-autoscaler's flag: deployment/NAME, replicaset/NAME or "
        "replicationcontroller/NAME (comma-separated) to scale from --configmap.",
    )
    nodelabels: str = flag(
        "",
        help="cluster-proportional-autoscaler's flag: count only nodes with these labels "
        "(a label selector, e.g. pool=general) for --target.",
    )
    default_params: str | None = flag(
        None,
        help="cluster-proportional-autoscaler's flag: JSON parameters "
        '(e.g. {"linear": {"nodesPerReplica": 16}}) to create --configmap with when missing.',
    )
    poll_period_seconds: int = flag(
        10,
        minimum=1,
        help="How often proportional targets' /scale is re-checked to undo manual changes "
        "(CPA's flag; decisions follow node changes at once, not on this period).",
    )

    def cpa_flags(self, namespace: str | None) -> CpaFlags | None:
        """CPA's flags parsed, or ``None`` when they are not used; a :class:`FlagError` names
        the flag that is wrong."""
        if self.configmap or self.target:
            if not (self.configmap and self.target):
                raise FlagError("--configmap and --target go together")
            return CpaFlags.parse(
                configmap=self.configmap,
                target=self.target,
                namespace=namespace,
                nodelabels=self.nodelabels,
                default_params=self.default_params,
            )
        if self.nodelabels or self.default_params:
            raise FlagError("--nodelabels and --default-params need --configmap and --target")
        return None
