"""Vertical scaling: the VerticalScaler recommender and updater, and history from Prometheus.

:class:`VerticalRecommender` samples usage from ``metrics.k8s.io``, feeds the estimator of
:mod:`podscaler.engine.vpa` and publishes ``status.recommendation`` with checkpoints kept as
VerticalScalerCheckpoint objects; :class:`VerticalUpdater` evicts pods far from their
recommendation, through the Eviction API; :mod:`.history` reads Prometheus for the history
bootstrap and for ``podscaler recommend``.
"""

from podscaler.controllers.vertical.options import VerticalOptions
from podscaler.controllers.vertical.recommender import (
    PODS,
    VERTICAL_SCALERS,
    ScalerState,
    VerticalRecommender,
    trim_pod,
)
from podscaler.controllers.vertical.running import (
    VerticalControllers,
    start_vertical_controllers,
)
from podscaler.controllers.vertical.settings import VerticalSettings
from podscaler.controllers.vertical.updater import (
    AdmissionGate,
    InPlaceResizer,
    VerticalUpdater,
)

__all__ = [
    "PODS",
    "VERTICAL_SCALERS",
    "AdmissionGate",
    "InPlaceResizer",
    "ScalerState",
    "VerticalControllers",
    "VerticalOptions",
    "VerticalRecommender",
    "VerticalSettings",
    "VerticalUpdater",
    "start_vertical_controllers",
    "trim_pod",
]
