"""The ScaledObject controller, in direct mode: podscaler decides 0..N and writes ``/scale``.

``controller`` schedules one evaluation per object per ``pollingInterval``; ``evaluation`` is
one pass (triggers → ``engine.keda`` → ``engine.hpa`` → ``/scale``, status, Events,
metrics); ``triggers`` builds and polls scalers; ``auth`` resolves env and
TriggerAuthentications; ``targets`` and ``pods`` read the workload; ``mapping``, ``direct``
and ``status`` are the pure translations; ``records`` keeps what ``podscaler explain`` shows.
"""

from podscaler.controllers.scaledobject.controller import ScaledObjectController
from podscaler.controllers.scaledobject.evaluation import FINALIZER, Settings
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
