"""The ScaledObject controller, in direct mode: podscaler decides 0..N and writes ``/scale``.

``controller`` keeps one context per object (``context``) in the shared poll loop
(:mod:`podscaler.controllers.loop`); ``evaluation`` is one pass, in three steps:
``gathering`` (spec, target, one poll of the triggers — built and polled by
:mod:`podscaler.controllers.triggers` —, pods: a frozen snapshot), ``deciding`` (pure:
``engine.keda`` then ``engine.hpa``) and ``applying`` (``/scale``, Events, status, metrics,
the record); ``finalizer`` restores replicas on deletion. ``targets`` and ``pods`` read the
workload; ``mapping``, ``direct`` and ``status`` are the pure translations; ``records`` keeps
what ``podscaler explain`` shows; ``hpamode`` keeps the HPA of mode hpa.
"""

from podscaler.controllers.scaledobject.context import Settings
from podscaler.controllers.scaledobject.controller import ScaledObjectController
from podscaler.controllers.scaledobject.finalizer import FINALIZER
from podscaler.controllers.scaledobject.records import (
    DecisionLog,
    DecisionRecord,
    render_history,
    render_records,
)

__all__ = [
    "FINALIZER",
    "DecisionLog",
    "DecisionRecord",
    "ScaledObjectController",
    "Settings",
    "render_history",
    "render_records",
]
