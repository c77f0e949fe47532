"""``podscaler run``: the operator process (:mod:`podscaler.manager`), configured from its
option groups.

Each group is a settings dataclass whose fields declare their flags: where the API server is
(:class:`~podscaler.kube.clients.ConnectOptions`), the operator itself
(:class:`~podscaler.manager.RunOptions`), logging
(:class:`~podscaler.observability.logging.LoggingOptions`) and the external metrics API
(:class:`~podscaler.metricsapi.server.MetricsApiOptions`, under ``--metrics-api-``) and
proportional scaling with cluster-proportional-autoscaler's own flags
(:class:`~podscaler.controllers.proportional.ProportionalOptions`), and node autoscaling with
Cluster Autoscaler's (derived from the planner's declaration, :mod:`.nodeoptions`, plus the
cloud's :class:`~podscaler.controllers.nodes.settings.CloudOptions`). A new flag is a new
field in one of them, or a new group added to :data:`GROUPS`; nothing here lists flags one by
one.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Final

import click
from kubernetes_asyncio.config import ConfigException

from podscaler.commands.connection import CLUSTER, check_configuration, describe_config_error
from podscaler.commands.failures import CommandFailure, describe_listen_error
from podscaler.commands.nodeoptions import PLANNER
from podscaler.commands.options import FlagGroup, OptionGroup, options
from podscaler.controllers.nodes.settings import CloudOptions, NodeAutoscalerConfig, NodeConfigError
from podscaler.controllers.proportional import FlagError, ProportionalOptions
from podscaler.controllers.vertical import VerticalOptions
from podscaler.controllers.vertical.admission import WebhookOptions
from podscaler.kube.errors import KubeError
from podscaler.manager import ListenFailed, RunOptions, run_operator
from podscaler.metricsapi.server import MetricsApiOptions
from podscaler.observability.logging import LoggingOptions

__all__ = ["GROUPS", "run"]

OPERATOR: Final = OptionGroup(RunOptions)
LOGGING: Final = OptionGroup(LoggingOptions)
METRICS_API: Final = OptionGroup(MetricsApiOptions, prefix="metrics-api-")
PROPORTIONAL: Final = OptionGroup(ProportionalOptions)
VERTICAL: Final = OptionGroup(VerticalOptions)
WEBHOOK: Final = OptionGroup(WebhookOptions, prefix="admission-webhook-")
CLOUD: Final = OptionGroup(CloudOptions)

#: Every option of ``podscaler run``, in the order ``--help`` shows them.
GROUPS: Final[tuple[FlagGroup, ...]] = (
    CLUSTER,
    OPERATOR,
    LOGGING,
    METRICS_API,
    WEBHOOK,
    PROPORTIONAL,
    VERTICAL,
    CLOUD,
    PLANNER,
)

#: The flag that moves each of the operator's servers (:class:`ListenFailed`'s ``server``).
_PORT_FIELDS: Final = {"metrics": "metrics_port", "health": "health_port"}


def settings(values: dict[str, Any]) -> RunOptions:
    """The operator's settings from the parsed command line; a :class:`click.UsageError`
    names the flags that do not go together."""
    metrics_api = METRICS_API.build(values)
    if (metrics_api.cert_file is None) != (metrics_api.key_file is None):
        cert, key = METRICS_API.flag_name("cert_file"), METRICS_API.flag_name("key_file")
        raise click.UsageError(f"{cert} and {key} go together")
    modes = [
        OPERATOR.flag_name(name)
        for name in ("leader_elect", "shard", "shard_selector")
        if values[OPERATOR.param_of(name)]
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} exclude each other: choose one")
    webhook = WEBHOOK.build(values)
    if (webhook.cert_file is None) != (webhook.key_file is None):
        cert, key = WEBHOOK.flag_name("cert_file"), WEBHOOK.flag_name("key_file")
        raise click.UsageError(f"{cert} and {key} go together")
    proportional = PROPORTIONAL.build(values)
    vertical = VERTICAL.build(values)
    try:
        vertical_settings = vertical.settings(dry_run=bool(values[OPERATOR.param_of("dry_run")]))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    namespace = values[OPERATOR.param_of("namespace")]
    try:
        cpa_flags = proportional.cpa_flags(namespace or os.environ.get("MY_POD_NAMESPACE"))
    except FlagError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        nodes = NodeAutoscalerConfig.from_flags(PLANNER.build(values), CLOUD.build(values))
    except NodeConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    return OPERATOR.build(
        values,
        nodes=nodes,
        cluster=CLUSTER.build(values),
        metrics_api=metrics_api if metrics_api.port else None,
        admission_webhook=webhook if webhook.port else None,
        proportional=proportional.proportional,
        cpa_flags=cpa_flags,
        proportional_resync_seconds=float(proportional.poll_period_seconds),
        vertical=vertical.vertical,
        vertical_settings=vertical_settings,
    )


@click.command("run")
@options(*GROUPS)
def run(**values: Any) -> None:
    """Run the operator.

    Every option is also PODSCALER_RUN_<OPTION> (e.g. PODSCALER_RUN_DRY_RUN=true).
    """
    chosen = settings(values)
    LOGGING.build(values).configure()
    cluster = chosen.cluster
    path = check_configuration(cluster.kubeconfig) if cluster.server is None else None
    try:
        asyncio.run(run_operator(chosen))
    except ListenFailed as exc:
        port = OPERATOR.flag_name(_PORT_FIELDS[exc.server])
        option = f"{port} or {OPERATOR.flag_name('bind_address')}"
        raise CommandFailure(describe_listen_error(exc.cause, exc.host, exc.port, option)) from exc
    except ConfigException as exc:
        raise CommandFailure(describe_config_error(path, cluster.context, exc)) from exc
    except KubeError as exc:  # the in-cluster configuration, before anything ran
        raise CommandFailure(f"cannot configure the Kubernetes client: {exc}") from exc
