"""How ``podscaler run`` turns on the node autoscaler, and which cloud it drives.

Cluster Autoscaler's own options (``--nodes``, ``--node-group-auto-discovery``,
``--expander``, ``--scale-down-unneeded-time`` …) are declared once, in the planner
(:data:`podscaler.nodes.OPTIONS`), and the command line derives its flags from that
declaration. What is not CA's planning lives here, as :func:`~podscaler.api.flags.flag`
fields: ``--cloud-provider`` (CA's flag; ``aws`` is the one provider), and where AWS is
(``--aws-region``, ``--aws-endpoint-url`` — for a VPC endpoint, or a moto server).

The node autoscaler runs when ``--nodes`` or ``--node-group-auto-discovery`` is given, or
``--cloud-provider=aws``. Credentials come from botocore's chain (environment, the IRSA web
identity token of ``manifests/nodes``, the instance profile); never from a flag, so they
never show in a process listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from podscaler.api.flags import flag
from podscaler.controllers.nodes.providers import AwsProvider, NodeProvider
from podscaler.nodes import NodeAutoscalerOptions
from podscaler.nodes.providers.aws import AwsCloud, AwsSettings

__all__ = ["CloudOptions", "NodeAutoscalerConfig", "NodeConfigError", "start_provider"]

#: Where the region comes from when ``--aws-region`` is not given (botocore's order).
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


class NodeConfigError(ValueError):
    """Flags that cannot run a node autoscaler; the message names them."""


@dataclass(frozen=True)
class CloudOptions:
    """``podscaler run``'s flags for the node autoscaler's cloud."""

    cloud_provider: str | None = flag(
        None,
        choices=("aws",),
        help="Cluster Autoscaler's flag: the cloud whose node groups to scale. The node "
        "autoscaler runs with --cloud-provider=aws, --nodes or --node-group-auto-discovery.",
    )
    aws_region: str | None = flag(
        None,
        help="AWS region of the Auto Scaling groups (default: $AWS_REGION, $AWS_DEFAULT_REGION).",
    )
    aws_endpoint_url: str | None = flag(
        None,
        help="Endpoint of the EC2 Auto Scaling and EC2 APIs (a VPC endpoint, or a moto server "
        "in tests).",
    )


@dataclass(frozen=True)
class NodeAutoscalerConfig:
    """Everything the operator needs to run the node autoscaler. ``provider`` is given
    in-process (the embedded cluster's simulated groups, or its moto-backed ASGs); otherwise
    :func:`start_provider` builds the AWS one from ``aws``."""

    options: NodeAutoscalerOptions = field(default_factory=NodeAutoscalerOptions)
    aws: AwsSettings | None = None
    provider: NodeProvider | None = None
    #: the random expander's seed
    seed: int = 0

    @classmethod
    def from_flags(
        cls, options: NodeAutoscalerOptions, cloud: CloudOptions
    ) -> NodeAutoscalerConfig | None:
        """The configuration ``podscaler run``'s flags ask for, or None (no node autoscaler)."""
        wanted = bool(options.nodes or options.node_group_auto_discovery)
        if cloud.cloud_provider is None and not wanted:
            if cloud.aws_region or cloud.aws_endpoint_url:
                raise NodeConfigError(
                    "--aws-region and --aws-endpoint-url configure the node autoscaler: give "
                    "--nodes, --node-group-auto-discovery or --cloud-provider=aws too"
                )
            return None
        if not wanted:
            raise NodeConfigError(
                "--cloud-provider=aws needs node groups: --nodes=MIN:MAX:ASG_NAME or "
                "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,"
                "k8s.io/cluster-autoscaler/<cluster>"
            )
        region = cloud.aws_region or next(
            (os.environ[v] for v in REGION_VARIABLES if os.environ.get(v)), None
        )
        if not region:
            raise NodeConfigError(
                "the node autoscaler needs the AWS region of its groups: --aws-region, or "
                "$AWS_REGION"
            )
        return cls(
            options=options,
            aws=AwsSettings(
                region=region,
                endpoint_url=cloud.aws_endpoint_url,
                use_static_instance_list=options.aws_use_static_instance_list,
            ),
        )


async def start_provider(config: NodeAutoscalerConfig, clock: Callable[[], float]) -> NodeProvider:
    """The provider ``config`` names, started (``clock``: Unix seconds)."""
    if config.provider is not None:
        return config.provider
    if config.aws is None:
        raise NodeConfigError("no node groups: neither a provider nor AWS settings")
    cloud = AwsCloud.from_options(config.options, config.aws, clock=clock)
    await cloud.start()
    return AwsProvider(cloud)
