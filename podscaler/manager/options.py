"""The operator's settings (``podscaler run``'s flags)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field

from podscaler.api.flags import flag
from podscaler.controllers.nodes.settings import NodeAutoscalerConfig
from podscaler.controllers.proportional import (
    CpaFlags,
)
from podscaler.controllers.vertical import (
    VerticalSettings,
)
from podscaler.controllers.vertical.admission import (
    WebhookOptions,
)
from podscaler.kube.clients import ConnectOptions
from podscaler.metricsapi.server import MetricsApiOptions


def version() -> str:
    try:
        return importlib.metadata.version("podscaler")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class RunOptions:
    """The operator's settings; each flagged field is a ``podscaler run`` flag (and its
    ``PODSCALER_RUN_*`` variable), declared here once (:mod:`podscaler.api.flags`)."""

    namespace: str | None = flag(None, help="Watch only this namespace (default: all).")
    metrics_port: int = flag(8080, help="Port of /metrics and /debug/decisions.")
    health_port: int = flag(8081, help="Port of /healthz and /readyz.")
    bind_address: str = flag("0.0.0.0", help="Address the ports listen on.")
    debug_endpoints: str = flag(
        "local",
        choices=("local", "any"),
        help="Who may read /debug/* on the metrics port: local (loopback peers, e.g. through "
        "kubectl port-forward) or any.",
    )
    leader_elect: bool = flag(
        False,
        negatable=True,
        help="Run the controller only while holding a Lease (active/standby).",
    )
    shard: bool = flag(
        False,
        help="Share the ScaledObjects with the other replicas run with --shard "
        "(a Lease each, rendezvous hashing; singletons under one leader Lease).",
    )
    shard_selector: str | None = flag(
        None,
        help="Work only on ScaledObjects matching this label selector (static sharding).",
    )
    shard_lease_duration_seconds: float = flag(
        15.0,
        name="shard-lease-duration",
        minimum=1.0,
        help="Seconds a --shard member Lease lasts unrenewed (renewed every 2/15 of it, "
        "a member stops working 2/3 of it after its last renewal).",
    )
    shard_address: str = flag(
        "",
        help="host:port other --shard replicas reach this one's metrics API at "
        "(default: $POD_IP or the bind address, and --metrics-api-port).",
    )
    dry_run: bool = flag(False, help="Decide and explain, never write a target's /scale.")
    operator_namespace: str = flag(
        "podscaler", help="Namespace of the Lease and of ClusterTriggerAuthentication Secrets."
    )
    trigger_timeout_seconds: float = flag(
        5.0, name="trigger-timeout", help="Seconds a trigger may take per poll."
    )
    #: How often referenced Secrets/ConfigMaps are re-read to notice rotations (0: never).
    auth_refresh_seconds: float = flag(
        60.0,
        name="auth-refresh-interval",
        help="Seconds between re-reads of the Secrets/ConfigMaps triggers use (0: never).",
    )
    identity: str = ""
    #: Where the API server is (``--kubeconfig``, ``--context``, ``--server``).
    cluster: ConnectOptions = field(default_factory=ConnectOptions)
    #: The external metrics API; ``None`` does not serve it (``--metrics-api-port=0``).
    metrics_api: MetricsApiOptions | None = None
    #: The VerticalScaler admission webhook; ``None`` does not serve it.
    admission_webhook: WebhookOptions | None = None
    #: ProportionalScalers: None watches them when their CRD is installed; True/False forces.
    proportional: bool | None = None
    #: cluster-proportional-autoscaler's own flags (--configmap/--target/...), or None.
    cpa_flags: CpaFlags | None = None
    #: How often proportional targets' /scale is re-checked (CPA's --poll-period-seconds).
    proportional_resync_seconds: float = 10.0
    #: VerticalScalers: None runs the recommender and updater when their CRD is installed.
    vertical: bool | None = None
    vertical_settings: VerticalSettings = field(default_factory=VerticalSettings)
    #: The node autoscaler (Cluster Autoscaler's flags), or None when it does not run.
    nodes: NodeAutoscalerConfig | None = None
    #: Seeds the operator's random choices (the phases of the polls); a simulation passes its
    #: scenario's seed so that a run replays exactly. None: seeded from the OS.
    seed: int | None = None
