"""What the ScaledObject controller knows: its settings, and per object what lasts between polls.

:class:`ObjectContext` is the one mutable thing of an evaluation: the poll loop
(:mod:`podscaler.controllers.loop`) schedules it, the gathering step builds its triggers into
it, the applying step stores the engines' memory (the KEDA state, the HPA history) and the
status it wrote. Everything a single decision needs is copied out of it first
(:class:`~.gathering.Inputs`), so the deciding step never reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podscaler.api.conditions import Condition
from podscaler.api.triggers import polling_interval_of
from podscaler.controllers.loop import Wake
from podscaler.controllers.scaledobject.specs import SpecCache
from podscaler.controllers.scaledobject.status import DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS
from podscaler.controllers.triggers import TriggerPoll, TriggerSet
from podscaler.engine import hpa, keda
from podscaler.kube.kinds import SCALED_OBJECTS
from podscaler.kube.scaling import ScaleRef

__all__ = ["SCALED_OBJECTS", "ObjectContext", "Settings"]


@dataclass(frozen=True)
class Settings:
    """Controller-wide settings (``podscaler run`` flags)."""

    #: Longest a trigger may take before its poll counts as failed (KEDA's HTTP default is 3 s;
    #: a scaler's own timeout usually fires first).
    trigger_timeout_seconds: float = 5.0
    #: Decide and explain, never write ``/scale``.
    dry_run: bool = False
    #: Where ClusterTriggerAuthentications read their Secrets.
    operator_namespace: str = "podscaler"
    #: Objects whose status is current when the operator starts take their first poll at a
    #: random point of the first ``pollingInterval * start_spread`` seconds, so after a restart
    #: thousands of objects spread evenly over the interval instead of all polling at once.
    #: Objects without a current status are polled at once (a user waits for them).
    start_spread: float = 1.0
    #: Cap of how stale ``status.lastActiveTime`` may get while an object stays active (the
    #: exact value is kept in memory); see :mod:`.status` for why and what it costs.
    last_active_refresh_cap_seconds: float = DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS
    hpa: hpa.HpaSettings = field(default_factory=hpa.HpaSettings)


@dataclass
class ObjectContext:
    """What the controller remembers about one ScaledObject between polls."""

    namespace: str
    name: str
    obj: dict[str, Any]
    wake: Wake = field(default_factory=Wake)
    triggers: TriggerSet | None = None
    built_generation: int | None = None
    #: The generation whose ignored trigger metadata keys were reported (one Event each); a
    #: 1-tuple so that an object without a generation is remembered too.
    ignored_metadata_reported: tuple[int | None] | None = None
    scaling_state: keda.ScalingState | None = None
    hpa_history: hpa.HpaHistory = field(default_factory=hpa.HpaHistory)
    hpa_conditions: tuple[Condition, ...] = ()
    hpa_desired: int | None = None
    #: The status the server holds after our last write (``None``: the informer's copy).
    status: dict[str, Any] | None = None
    #: The latest status handed to the status writer and not yet written.
    wanted_status: dict[str, Any] | None = None
    target: ScaleRef | None = None
    spec_cache: SpecCache = field(default_factory=SpecCache)
    #: The last poll and its time: what the metrics API answers for ``useCachedMetrics``.
    last_poll: TriggerPoll | None = None
    last_poll_at: datetime | None = None

    @property
    def generation(self) -> int | None:
        value = (self.obj.get("metadata") or {}).get("generation")
        return value if isinstance(value, int) else None

    @property
    def known_status(self) -> dict[str, Any] | None:
        """The status the next one is composed over: the one waiting to be written, else the
        last written, else the informer's."""
        if self.wanted_status is not None:
            return self.wanted_status
        if self.status is not None:
            return self.status
        status = self.obj.get("status")
        return status if isinstance(status, dict) else None

    @property
    def polling_interval_seconds(self) -> float:
        return float(polling_interval_of(self.obj.get("spec")))

    async def close(self) -> None:
        if self.triggers is not None:
            await self.triggers.close()
            self.triggers = None
