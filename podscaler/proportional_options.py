"""``podscaler run``'s options for proportional scaling, CPA's own flags among them.

Users replacing a cluster-proportional-autoscaler Deployment keep its arguments:
``--configmap``, ``--target``, ``--nodelabels``, ``--default-params`` and
``--poll-period-seconds`` mean what they mean to CPA, and ``--namespace`` (podscaler's option,
which also narrows what the other controllers watch) names the namespace of the ConfigMap and
targets, falling back to ``$MY_POD_NAMESPACE`` as CPA does. Declared once here so ``cli.py``
only applies the decorator and passes the values on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["proportional_options", "proportional_run_options"]

F = TypeVar("F", bound=Callable[..., Any])


def proportional_options(command: F) -> F:
    """Add the proportional scaling options to a click command."""
    options = [
        click.option(
            "--proportional/--no-proportional",
            "proportional",
            default=None,
            help="Watch ProportionalScalers (default: when their CRD is installed).",
        ),
        click.option(
            "--configmap",
            "cpa_configmap",
            default=None,
            help="cluster-proportional-autoscaler's flag: the ConfigMap holding linear or "
            "ladder parameters; with --target.",
        ),
        click.option(
            "--target",
            "cpa_target",
            default=None,
            help="cluster-proportional-autoscaler's flag: deployment/NAME, replicaset/NAME or "
            "replicationcontroller/NAME (comma-separated) to scale from --configmap.",
        ),
        click.option(
            "--nodelabels",
            "cpa_nodelabels",
            default="",
            help="cluster-proportional-autoscaler's flag: count only nodes with these labels "
            "(a label selector, e.g. pool=general) for --target.",
        ),
        click.option(
            "--default-params",
            "cpa_default_params",
            default=None,
            help="cluster-proportional-autoscaler's flag: JSON parameters "
            '(e.g. {"linear": {"nodesPerReplica": 16}}) to create --configmap with when missing.',
        ),
        click.option(
            "--poll-period-seconds",
            "cpa_poll_period_seconds",
            default=10,
            show_default=True,
            type=click.IntRange(min=1),
            help="How often proportional targets' /scale is re-checked to undo manual changes "
            "(CPA's flag; decisions follow node changes at once, not on this period).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def proportional_run_options(
    namespace: str | None,
    *,
    proportional: bool | None,
    cpa_configmap: str | None,
    cpa_target: str | None,
    cpa_nodelabels: str,
    cpa_default_params: str | None,
    cpa_poll_period_seconds: int,
) -> dict[str, Any]:
    """The :class:`~podscaler.operator.RunOptions` fields these options set; a usage error
    names the flag that is wrong."""
    from podscaler.controllers.proportional import CpaFlags, FlagError

    flags = None
    if cpa_configmap or cpa_target:
        if not (cpa_configmap and cpa_target):
            raise click.UsageError("--configmap and --target go together")
        try:
            flags = CpaFlags.parse(
                configmap=cpa_configmap,
                target=cpa_target,
                namespace=namespace or os.environ.get("MY_POD_NAMESPACE"),
                nodelabels=cpa_nodelabels,
                default_params=cpa_default_params,
            )
        except FlagError as exc:
            raise click.UsageError(str(exc)) from exc
    elif cpa_nodelabels or cpa_default_params:
        raise click.UsageError("--nodelabels and --default-params need --configmap and --target")
    return {
        "proportional": proportional,
        "cpa_flags": flags,
        "proportional_resync_seconds": float(cpa_poll_period_seconds),
    }
