"""Triggers, shared by every controller that polls scalers (ScaledObjects, ScaledJobs).

``building`` turns a spec's triggers into scalers through the registry and polls them
concurrently; ``auth`` resolves what they read (the target container's env,
TriggerAuthentications and the Secrets and ConfigMaps behind them); ``refresh`` rebuilds them
when any of that changes; ``keeper`` is the per-object upkeep both controllers share (build when
stale, poll, report refused credentials, forget).
"""

from podscaler.controllers.triggers.building import (
    BuiltTrigger,
    TriggerConfigError,
    TriggerPoll,
    TriggerRecord,
    TriggerSet,
    build_triggers,
)
from podscaler.controllers.triggers.keeper import Triggered, TriggerKeeper
from podscaler.controllers.triggers.refresh import AuthRefresher, Owner, recording

__all__ = [
    "AuthRefresher",
    "BuiltTrigger",
    "Owner",
    "TriggerConfigError",
    "TriggerKeeper",
    "TriggerPoll",
    "TriggerRecord",
    "TriggerSet",
    "Triggered",
    "build_triggers",
    "recording",
]
