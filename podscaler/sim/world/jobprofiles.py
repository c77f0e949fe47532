"""Profiles for Jobs another controller creates: a ScaledJob's Jobs behave as its workload.

Workload profiles are keyed by the workload's name, and a Job's pods belong to the Job. A
ScaledJob creates its Jobs with ``generateName`` — a new name each — and labels them
``scaledjob.keda.sh/name=<ScaledJob>`` (KEDA's label, which podscaler keeps), so a scenario or
test describes the ScaledJob once (``queue``, ``job.fromQueue``, delays) and
:class:`ScaledJobProfiles` hands that profile to every Job carrying the label when the kubelet
admits its pods. Each such Job is then a queue consumer of its own for the load model, until
it is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from podscaler.sim.apiserver.store import Obj
from podscaler.sim.world.profiles import DEFAULT_PROFILE, Profiles, WorkloadProfile
from podscaler.sim.world.state import Key

__all__ = ["SCALED_JOB_LABEL", "ScaledJobProfiles"]

#: The label a ScaledJob puts on its Jobs (KEDA's name for it).
SCALED_JOB_LABEL: Final = "scaledjob.keda.sh/name"


class ScaledJobProfiles(Profiles):
    """:class:`Profiles` that also resolve a ScaledJob's Jobs to the ScaledJob's profile.

    :meth:`bind` it to the world's Jobs (``world.ctx.state.jobs``) once the world exists.
    """

    def __init__(self, default: WorkloadProfile = DEFAULT_PROFILE) -> None:
        super().__init__(default)
        self._jobs: Mapping[Key, Obj] = {}
        self._derived: set[Key] = set()

    def bind(self, jobs: Mapping[Key, Obj]) -> None:
        self._jobs = jobs

    def get(self, workload: Key) -> WorkloadProfile:
        profile = self.by_workload.get(workload)
        if profile is not None:
            return profile
        job = self._jobs.get(workload)
        labels = ((job or {}).get("metadata") or {}).get("labels") or {}
        owner = labels.get(SCALED_JOB_LABEL)
        base = self.by_workload.get((workload[0], str(owner))) if owner else None
        if base is None:
            return self.default
        self._forget_gone()
        self.by_workload[workload] = base
        self._derived.add(workload)
        return base

    def _forget_gone(self) -> None:
        """Jobs deleted (history limits, garbage collection) stop being consumers."""
        for key in [k for k in self._derived if k not in self._jobs]:
            self._derived.discard(key)
            self.by_workload.pop(key, None)
