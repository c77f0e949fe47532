"""Proportional scaling: cluster add-ons sized to the cluster (cluster-proportional-autoscaler).

:class:`ProportionalController` watches Nodes, ProportionalScalers and the CPA ConfigMaps they
reference, and scales each target with :mod:`podscaler.engine.cpa`; :mod:`.flags` gives
``podscaler run`` CPA's own ``--configmap/--target`` flags; :mod:`.explain` is
``podscaler explain proportionalscaler/NS/NAME``.
"""

from podscaler.controllers.proportional.controller import (
    PROPORTIONAL_SCALERS,
    ProportionalController,
    ProportionalSettings,
    ScalerState,
    proportional_crd_installed,
    start_proportional_controller,
)
from podscaler.controllers.proportional.flags import (
    CpaFlags,
    FlagError,
    FlagTarget,
    ProportionalOptions,
)
from podscaler.controllers.proportional.nodes import NODES, NodeCounts, trim_node

__all__ = [
    "NODES",
    "PROPORTIONAL_SCALERS",
    "CpaFlags",
    "FlagError",
    "FlagTarget",
    "NodeCounts",
    "ProportionalController",
    "ProportionalOptions",
    "ProportionalSettings",
    "ScalerState",
    "proportional_crd_installed",
    "start_proportional_controller",
    "trim_node",
]
