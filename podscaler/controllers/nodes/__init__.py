"""The node autoscaler: Cluster Autoscaler's job, leader-elected inside ``podscaler run``.

The planning is pure and lives in :mod:`podscaler.nodes`; this package is the acting half —
the loop (:mod:`.controller`), what it reads from the cluster (:mod:`.inputs`), the clouds it
resizes (:mod:`.providers`: EC2 Auto Scaling groups, or the embedded cluster's simulated
groups), how a node is removed safely (:mod:`.actuation`), and the status ConfigMap with the
"why" per node and pod (:mod:`.status`). :mod:`.settings` declares its command-line flags
(Cluster Autoscaler's, from :data:`podscaler.nodes.OPTIONS`) and how a provider is built
from them.
"""

from podscaler.controllers.nodes.controller import (
    NodeAutoscaler,
    NodeAutoscalerSettings,
    PassReport,
)
from podscaler.controllers.nodes.providers import (
    AwsProvider,
    GroupFailure,
    NodeProvider,
    SimProvider,
)

__all__ = [
    "AwsProvider",
    "GroupFailure",
    "NodeAutoscaler",
    "NodeAutoscalerSettings",
    "NodeProvider",
    "PassReport",
    "SimProvider",
]
